#!/usr/bin/env bash
# Install edgetm as a service on Raspberry Pi OS (Bookworm or later), as root:
#   sudo scripts/install-pi.sh [--broker] [--no-service]
#     --broker      also install and start mosquitto on this Pi
#     --no-service  install into /opt/edgetm but do not enable the systemd unit
# picamera2 only comes from Raspberry Pi OS's apt (its libcamera bindings are not on PyPI), so the
# virtualenv sees system packages, and keeps numpy below 2 because apt's simplejpeg is built
# against numpy 1.x.
set -euo pipefail
broker=0
service=1
for arg in "$@"; do
    case "$arg" in
        --broker) broker=1 ;;
        --no-service) service=0 ;;
        *) echo "unknown option $arg" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "run as root: sudo $0 $*" >&2; exit 1; }
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/opt/edgetm

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-venv python3-pip python3-picamera2 libportaudio2 >/dev/null
if [ "$broker" -eq 1 ]; then
    apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
    systemctl enable --now mosquitto
fi

id edgetm >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edgetm --shell /usr/sbin/nologin edgetm
usermod -a -G video,audio edgetm
getent group render >/dev/null && usermod -a -G render edgetm  # /dev/dma_heap on newer kernels

mkdir -p "$prefix"
cp -a "$source_dir/." "$prefix/"
rm -rf "$prefix/.venv" "$prefix/.git"
python3 -m venv --system-site-packages "$prefix/.venv"
"$prefix/.venv/bin/pip" install --quiet --upgrade pip
"$prefix/.venv/bin/pip" install --quiet "$prefix[audio]" "numpy<2"

install -d -m 0755 /etc/edgetm
install -d -m 0750 -o edgetm -g edgetm /var/lib/edgetm
if [ ! -f /etc/edgetm/edgetm.yaml ]; then
    sed -e "s|model: models/banana|model: $prefix/models/banana|" -e "s|source: camera:0 |source: picamera2 |" \
        "$prefix/edgetm.example.yaml" > /etc/edgetm/edgetm.yaml
fi
[ -f /etc/edgetm/environment ] || install -m 0600 /dev/null /etc/edgetm/environment
install -m 0644 "$prefix/systemd/edgetm.service" "$prefix/systemd/edgetm@.service" /etc/systemd/system/
systemctl daemon-reload
if [ "$service" -eq 1 ]; then
    systemctl enable --now edgetm.service
    echo "edgetm is running: journalctl -u edgetm -f"
fi
echo "configure /etc/edgetm/edgetm.yaml; put EDGETM_MQTT_PASSWORD=... in /etc/edgetm/environment"
