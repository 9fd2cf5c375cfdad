#!/usr/bin/env bash
# Install or upgrade edgetm as a service on Raspberry Pi OS Bookworm (64-bit), as root:
#   sudo scripts/install-pi.sh [--model PATH] [--source SOURCE] [--mqtt URL] [--device-id ID]
#                              [--homeassistant] [--broker] [--no-service]
# (scripts/install-service.sh says what each option does and what an upgrade keeps.)
# picamera2 only comes from Raspberry Pi OS's apt (its libcamera bindings are not on PyPI), so the
# virtualenv sees system packages and keeps numpy below 2, as apt's simplejpeg is built against
# numpy 1.x. OpenCV 4.11.0.86 is the last opencv-python-headless that accepts numpy 1.x (4.12 and
# later require numpy 2): pinned, so that the numpy pin cannot quietly pull an older OpenCV.
export APT_PACKAGES="python3-picamera2"
export VENV_FLAGS="--system-site-packages"
export PIP_EXTRA="numpy<2 opencv-python-headless==4.11.0.86"
export DEFAULT_SOURCE="picamera2"
export DROPIN=""
exec "$(dirname "$0")/install-service.sh" "$@"
