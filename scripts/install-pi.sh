#!/usr/bin/env bash
# Install edgetm as a service on Raspberry Pi OS (Bookworm or later), as root:
#   sudo scripts/install-pi.sh [--broker] [--no-service]
#     --broker      also install and start mosquitto on this Pi
#     --no-service  install into /opt/edgetm but do not enable the systemd unit
# picamera2 only comes from Raspberry Pi OS's apt (its libcamera bindings are not on PyPI), so the
# virtualenv sees system packages, and keeps numpy below 2 because apt's simplejpeg is built
# against numpy 1.x.
export APT_PACKAGES="python3-picamera2"
export VENV_FLAGS="--system-site-packages"
export PIP_EXTRA="numpy<2"
export DEFAULT_SOURCE="picamera2"
exec "$(dirname "$0")/install-service.sh" "$@"
