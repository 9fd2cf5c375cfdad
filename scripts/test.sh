#!/usr/bin/env bash
# Install what the tests need (system packages, .venv with the dev and audio extras) and run
# the static checks and the whole test suite. Real-model tests use the zoo at $EDGETM_ZOO
# (default ../shared/zoo) and skip, saying why, when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh "dev,audio"
.venv/bin/ruff check edgetm tests benchmarks scripts
.venv/bin/python -m pytest "$@"
