#!/usr/bin/env bash
# Sourced by the installers: stop, in one line, on a 32-bit system. PyPI has no 32-bit ARM (armhf)
# wheels for LiteRT, ONNX Runtime, OpenCV or numpy, so pip would try to compile them for hours and
# fail. A Pi can run a 64-bit kernel under a 32-bit system, so the package architecture is asked too.
machine="$(uname -m)"
packages="$(dpkg --print-architecture 2>/dev/null || echo unknown)"
case "$machine/$packages" in
    aarch64/arm64|x86_64/amd64|aarch64/unknown|x86_64/unknown) ;;
    *)
        echo "edgetm needs a 64-bit OS and this one is $machine/$packages (32-bit): PyPI has no 32-bit wheels for" \
             "LiteRT, ONNX Runtime, OpenCV or numpy; install Raspberry Pi OS (64-bit) or another arm64 system" >&2
        exit 1 ;;
esac
