#!/usr/bin/env bash
# Install edgetm on Debian / Raspberry Pi OS / Ubuntu: system packages, then a virtualenv in .venv.
#   scripts/install.sh [EXTRAS]     EXTRAS defaults to "audio,train,pil"; e.g. "dev,audio" for the test suite
# System packages are installed when running as root, or through sudo when it is available.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/require-64bit.sh
. scripts/require-64bit.sh
extras="${1:-audio,train,pil}"
apt_packages=(python3-venv python3-pip libportaudio2 ffmpeg mosquitto mosquitto-clients openssl)

missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else sudo=(false); fi
    if "${sudo[@]}" true 2>/dev/null || [ "$(id -u)" -eq 0 ]; then
        echo "installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "warning: not root and no sudo; install these yourself: ${missing[*]}" >&2
    fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
echo "edgetm installed in $(pwd)/.venv (run .venv/bin/edgetm --help)"
