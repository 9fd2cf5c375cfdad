#!/usr/bin/env bash
# Install edgetm as a service on a Jetson (JetPack 5 or 6: Ubuntu, Python 3.8-3.10), as root:
#   sudo scripts/install-jetson.sh [--broker] [--no-service]
# The virtualenv gets PyPI's CPU onnxruntime. For the GPU, install NVIDIA's onnxruntime-gpu wheel
# for your JetPack into /opt/edgetm/.venv afterwards: edgetm then prefers the TensorRT and CUDA
# execution providers by itself.
export APT_PACKAGES="v4l-utils"
export VENV_FLAGS=""
export PIP_EXTRA=""
export DEFAULT_SOURCE="camera:0"
exec "$(dirname "$0")/install-service.sh" "$@"
