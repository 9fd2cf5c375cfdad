"""`edgetm run` on a looping video, publishing every result and stats each second to a real broker,
sampled for resident memory, open files and threads. After a warm-up, memory grows by at most
5 MB and files and threads stay flat.

``EDGETM_SOAK_S`` sets the length (CI: 45 s; ``scripts/soak.sh`` runs 24 h and prints each sample)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import Probe
from tests.conftest import DEMO, ROOT

pytestmark = pytest.mark.reliability

SOAK_S = float(os.environ.get("EDGETM_SOAK_S", "45"))
WARM_UP_S = min(30.0, SOAK_S / 3)  # imports, first inferences, paho and the broker settling
SAMPLE_EVERY_S = float(os.environ.get("EDGETM_SOAK_SAMPLE_S", "5"))
MAX_RSS_GROWTH_MB = 5.0


def sample(pid: int) -> tuple[float, int, int]:
    """Resident memory (MB), open file descriptors and threads of a process."""
    rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if line.startswith("VmRSS:"))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def test_soak(broker, banana_video: Path):
    probe = Probe(broker.port, ["edgetm/soak/#"])
    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(banana_video),
                                "--realtime", "--loop", "--mqtt", broker.url, "--device-id", "soak",
                                "--stats-interval", "1"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float, int, int]] = []
    try:
        probe.wait_for(lambda m: any(t.endswith("/result") for t, *_ in m), 30)
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < SOAK_S:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            rss, fds, threads = sample(process.pid)
            samples.append((elapsed, rss, fds, threads))
            if os.environ.get("EDGETM_SOAK_S"):
                print(f"{elapsed:8.0f} s  RSS {rss:6.1f} MB  fds {fds:3d}  threads {threads:3d}", flush=True)
            time.sleep(SAMPLE_EVERY_S)
        results = len([1 for t, *_ in probe.messages if t.endswith("/result")])
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        probe.close()
    warm = [s for s in samples if s[0] >= WARM_UP_S]
    first, last = warm[0], warm[-1]
    growth = max(s[1] for s in warm) - first[1]
    print(f"\nsoak {SOAK_S:.0f} s, {results} results published: RSS {samples[0][1]:.1f} MB at start, "
          f"{first[1]:.1f} after warm-up, {last[1]:.1f} at the end (growth {growth:+.1f} MB); "
          f"fds {first[2]} -> {last[2]}, threads {first[3]} -> {last[3]}")
    assert growth <= MAX_RSS_GROWTH_MB
    assert max(s[2] for s in warm) - min(s[2] for s in warm) <= 2
    assert max(s[3] for s in warm) - min(s[3] for s in warm) <= 1
    assert results >= 20 * SOAK_S  # the video's 30 results a second, all the while
