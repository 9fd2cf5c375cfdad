"""Rolling timing percentiles, frame rates, the process's CPU and memory, and the machine's temperature."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path

# Percentiles over the last this-many results: a few seconds at camera rates, bounded memory.
WINDOW = 512
# Where Linux reports the processor's temperature, in thousandths of a degree (Raspberry Pi, Jetson).
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def temperature_c(path: Path) -> float | None:
    """The temperature in ``path`` (millidegrees Celsius), or None where it cannot be read."""
    try:
        with open(path) as file:
            return round(int(file.read(32).strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


class Rolling:
    """The last ``size`` values of something, with percentiles."""

    def __init__(self, size: int = WINDOW) -> None:
        self.values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self.values.append(value)

    def percentiles(self) -> dict[str, float]:
        if not self.values:
            return {"p50": 0.0, "p95": 0.0}
        ordered = sorted(self.values)
        return {"p50": round(_linear(ordered, 0.50), 3), "p95": round(_linear(ordered, 0.95), 3)}


def _linear(ordered: list[float], fraction: float) -> float:
    """numpy's default percentile (linear between the two nearest ranks), without importing
    numpy.ma as ``np.percentile`` does the first time: 8 ms of a service's start."""
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class PipelineStats:
    """Counters and timings of one pipeline. The loop records, the stats timer takes snapshots from
    another thread: both hold the lock (a stage seen for the first time changes the dictionary)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stages: dict[str, Rolling] = {}
        self.result_times: deque[float] = deque(maxlen=WINDOW)
        self.results = 0
        self.errors = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def record(self, latency_ms: dict[str, float]) -> None:
        now = time.monotonic()
        with self._lock:
            self.results += 1
            self.result_times.append(now)
            self.first_at = self.first_at or now
            self.last_at = now
            for stage, value in latency_ms.items():
                self.stages.setdefault(stage, Rolling()).add(value)

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def _fps(self) -> float:
        times = self.result_times
        if len(times) < 2 or time.monotonic() - times[-1] > 5.0:
            return 0.0
        return round((len(times) - 1) / (times[-1] - times[0]), 2) if times[-1] > times[0] else 0.0

    def overall_fps(self) -> float:
        """Results per second from the first result to the last."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return 0.0
        return (self.results - 1) / (self.last_at - self.first_at)

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "fps": self._fps(),
                "results": self.results,
                "errors": self.errors,
                "latency_ms": {stage: rolling.percentiles() for stage, rolling in self.stages.items()},
            }


def timing_line(snapshot: dict) -> str:
    """A pipeline's median time per stage, as ``PipelineStats.snapshot`` gives them, in one line."""
    stages = ", ".join(f"{stage} {times['p50']:.2f}" for stage, times in snapshot["latency_ms"].items())
    return f"median ms: {stages or 'no result yet'} ({snapshot['results']} results, {snapshot['fps']} fps)"


class ProcessStats:
    """CPU use since the previous call (percent of one core, and milliseconds per result: what a
    frame costs the board, all threads counted), resident memory, and the machine's temperature
    where ``thermal_path`` (default ``THERMAL_ZONE``) can be read."""

    def __init__(self, thermal_path: Path | None = None) -> None:
        self._last = (time.monotonic(), self._cpu_seconds(), 0)
        self.thermal_path = thermal_path or THERMAL_ZONE

    @staticmethod
    def _cpu_seconds() -> float:
        return time.process_time()  # every thread's, to the microsecond (os.times counts in 10 ms ticks)

    @staticmethod
    def rss_mb() -> float:
        try:
            with open("/proc/self/statm") as statm:
                pages = int(statm.read().split()[1])
            return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
        except (OSError, ValueError, IndexError):  # not Linux: the peak is the best we have
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return round(peak / 1e3, 1)

    def snapshot(self, results: int = 0) -> dict:
        """``results``: how many results the process has made so far, all pipelines together."""
        now, cpu = time.monotonic(), self._cpu_seconds()
        then, cpu_then, results_then = self._last
        self._last = (now, cpu, results)
        percent = 100.0 * (cpu - cpu_then) / (now - then) if now > then else 0.0
        made = results - results_then
        temperature = temperature_c(self.thermal_path)
        return {"cpu_percent": round(percent, 1),
                **({"cpu_ms_per_result": round((cpu - cpu_then) * 1e3 / made, 2)} if made > 0 else {}),
                "rss_mb": self.rss_mb(), **({"temperature_c": temperature} if temperature is not None else {})}
