"""SIGTERM and SIGINT: `edgetm run` exits 0 within 2 s and leaves `offline` retained, with the
broker up, frozen (said once it thaws) or gone (nothing can be said to a broker that is not there)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import Probe
from tests.conftest import DEMO, ROOT

pytestmark = pytest.mark.reliability

STATUS = "edgetm/shutdown/status"
SOURCE = "edgetm/shutdown/+/source"
EXIT_WITHIN_S = 2.0


def start(broker, video: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(video), "--realtime",
                             "--loop", "--mqtt", broker.url, "--device-id", "shutdown"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def retained_status(broker, topic: str = STATUS) -> bytes:
    """What a new subscriber is told the status is."""
    probe = Probe(broker.port, [topic])
    try:
        return probe.wait_for(lambda m: m and m[-1][1], 10)
    finally:
        probe.close()


@pytest.mark.parametrize("broker_state", ["up", "frozen", "gone"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_exits_0_within_2_s_and_leaves_offline(broker, banana_video: Path, signum, broker_state: str):
    probe = Probe(broker.port, [STATUS, SOURCE])
    process = start(broker, banana_video)
    try:
        probe.wait_for(lambda m: {t.rsplit("/", 1)[1] for t, p, _ in m if p == b"online"} == {"status", "source"}, 30)
        probe.close()
        if broker_state == "frozen":
            broker.pause()
        elif broker_state == "gone":
            broker.kill()
            time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signum)
        code = process.wait(10)
        took = time.monotonic() - sent
        stderr = process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        if broker_state == "frozen":
            broker.resume()
    print(f"\n{signal.Signals(signum).name} with the broker {broker_state}: exit {code} in {took:.2f} s")
    assert code == 0, stderr
    assert took <= EXIT_WITHIN_S
    assert "Traceback" not in stderr
    if broker_state == "gone":
        broker.start()  # it kept what it had retained: edgetm said online last, and could not say more
    else:
        assert retained_status(broker) == b"offline"
        if broker_state == "up":  # a frozen broker gets the device's will; what was still in flight is best effort
            assert retained_status(broker, SOURCE) == b"offline"  # not left looking alive
