#!/usr/bin/env bash
# A long soak: `edgetm run` on a looping video with MQTT for DURATION seconds (default 24 h),
# printing resident memory, open files and threads every minute; then broker chaos for as many
# kill/restart cycles. Passes under the same bounds as the short run in the test suite.
#   scripts/soak.sh [DURATION_S] [CHAOS_CYCLES]
set -euo pipefail
cd "$(dirname "$0")/.."
export EDGETM_SOAK_S="${1:-86400}" EDGETM_SOAK_SAMPLE_S=60 EDGETM_CHAOS_CYCLES="${2:-200}"
.venv/bin/python -m pytest -s -p no:cacheprovider tests/reliability/test_soak.py \
    tests/reliability/test_broker_chaos.py::test_kill_and_restart_at_random_moments
