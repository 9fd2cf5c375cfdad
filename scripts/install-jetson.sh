#!/usr/bin/env bash
# Install edgetm as a service on a Jetson (JetPack 5 or 6: Ubuntu, Python 3.8-3.10), as root:
#   sudo scripts/install-jetson.sh [--broker] [--no-service]
# The virtualenv gets PyPI's CPU onnxruntime. For the GPU, install NVIDIA's onnxruntime-gpu wheel
# for your JetPack into /opt/edgetm/.venv afterwards: edgetm then prefers the TensorRT and CUDA
# execution providers by itself.
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
apt-get install -y -qq python3-venv python3-pip libportaudio2 v4l-utils >/dev/null
if [ "$broker" -eq 1 ]; then
    apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
    systemctl enable --now mosquitto
fi

id edgetm >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edgetm --shell /usr/sbin/nologin edgetm
usermod -a -G video,audio edgetm
getent group render >/dev/null && usermod -a -G render edgetm

mkdir -p "$prefix"
cp -a "$source_dir/." "$prefix/"
rm -rf "$prefix/.venv" "$prefix/.git"
python3 -m venv "$prefix/.venv"
"$prefix/.venv/bin/pip" install --quiet --upgrade pip
"$prefix/.venv/bin/pip" install --quiet "$prefix[audio]"

install -d -m 0755 /etc/edgetm
install -d -m 0750 -o edgetm -g edgetm /var/lib/edgetm
if [ ! -f /etc/edgetm/edgetm.yaml ]; then
    sed -e "s|model: models/banana|model: $prefix/models/banana|" "$prefix/edgetm.example.yaml" > /etc/edgetm/edgetm.yaml
fi
[ -f /etc/edgetm/environment ] || install -m 0600 /dev/null /etc/edgetm/environment
install -m 0644 "$prefix/systemd/edgetm.service" "$prefix/systemd/edgetm@.service" /etc/systemd/system/
systemctl daemon-reload
if [ "$service" -eq 1 ]; then
    systemctl enable --now edgetm.service
    echo "edgetm is running: journalctl -u edgetm -f"
fi
echo "configure /etc/edgetm/edgetm.yaml; put EDGETM_MQTT_PASSWORD=... in /etc/edgetm/environment"
