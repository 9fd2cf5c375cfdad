"""The process's share of the board in stats: CPU as a percentage, and per result."""

import time

from edgetm.runtime.stats import ProcessStats


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_per_result_is_the_cpu_time_since_the_last_stats_over_the_results_made():
    stats = ProcessStats()
    _burn(0.2)
    first = stats.snapshot(results=20)
    # 0.2 s of CPU over 20 results: 10 ms each (a little more for the test's own bookkeeping).
    assert 10 <= first["cpu_ms_per_result"] < 15
    assert first["cpu_percent"] > 0
    _burn(0.1)
    assert 10 <= stats.snapshot(results=30)["cpu_ms_per_result"] < 15  # 0.1 s over the 10 new ones
    # No result since the last stats (a stalled source, a swap that reset a pipeline's count): no
    # figure rather than a made-up one.
    assert "cpu_ms_per_result" not in stats.snapshot(results=30)
    assert "cpu_ms_per_result" not in stats.snapshot(results=5)
