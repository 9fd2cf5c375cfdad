#!/usr/bin/env bash
# Install or upgrade edgetm as a service on a Jetson with JetPack 6 (Ubuntu 22.04, Python 3.10), as root:
#   sudo scripts/install-jetson.sh [--model PATH] [--source SOURCE] [--mqtt URL] [--device-id ID]
#                                  [--homeassistant] [--broker] [--no-service]
# (scripts/install-service.sh says what each option does and what an upgrade keeps.)
# JetPack 5 and older ship Python 3.8, for which current LiteRT and ONNX Runtime have no wheels.
# The virtualenv gets PyPI's CPU onnxruntime. For the GPU, install NVIDIA's onnxruntime-gpu wheel
# for your JetPack into /opt/edgetm/.venv afterwards: edgetm then prefers the TensorRT and CUDA
# execution providers by itself, and systemd/jetson-gpu.conf (installed as a drop-in for the units)
# lets the sandboxed service open the GPU's device nodes.
export APT_PACKAGES="v4l-utils"
export VENV_FLAGS=""
export PIP_EXTRA=""
export DEFAULT_SOURCE="camera:0"
export DROPIN="jetson-gpu.conf"
exec "$(dirname "$0")/install-service.sh" "$@"
