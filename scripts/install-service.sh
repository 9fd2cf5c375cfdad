#!/usr/bin/env bash
# Shared by install-pi.sh and install-jetson.sh (run those, as root). They set:
#   APT_PACKAGES    system packages for this board
#   VENV_FLAGS      extra `python3 -m venv` flags
#   PIP_EXTRA       extra requirements pinned for this board
#   DEFAULT_SOURCE  the source written into a new /etc/edgetm/edgetm.yaml
# and pass their arguments: [--broker] [--no-service].
set -euo pipefail
broker=0
service=1
for arg in "$@"; do
    case "$arg" in
        --broker) broker=1 ;;
        --no-service) service=0 ;;
        *) echo "unknown option $arg (use --broker, --no-service)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=/opt/edgetm

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # a list of package names
apt-get install -y -qq python3-venv python3-pip libportaudio2 $APT_PACKAGES >/dev/null
if [ "$broker" -eq 1 ]; then
    apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
    systemctl enable --now mosquitto
fi

id edgetm >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edgetm --shell /usr/sbin/nologin edgetm
usermod -a -G video,audio edgetm
if getent group render >/dev/null; then usermod -a -G render edgetm; fi  # /dev/dma_heap on newer kernels

mkdir -p "$prefix"
for part in edgetm models systemd scripts pyproject.toml README.md edgetm.example.yaml; do
    rm -rf "${prefix:?}/$part"
    cp -a "$source_dir/$part" "$prefix/"
done
# shellcheck disable=SC2086
python3 -m venv $VENV_FLAGS "$prefix/.venv"
"$prefix/.venv/bin/pip" install --quiet --upgrade pip
# shellcheck disable=SC2086
"$prefix/.venv/bin/pip" install --quiet "$prefix[audio]" $PIP_EXTRA

install -d -m 0755 /etc/edgetm
install -d -m 0750 -o edgetm -g edgetm /var/lib/edgetm
if [ ! -f /etc/edgetm/edgetm.yaml ]; then
    sed -e "s|model: models/banana|model: $prefix/models/banana|" -e "s|source: camera:0 |source: $DEFAULT_SOURCE |" \
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
