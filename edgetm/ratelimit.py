"""Saying a repeated thing at a bounded rate, and how often it was not said.

A flood (2000 bad commands, a model that outputs NaN on every frame, a broker that refuses every
second) must not turn into as many log lines and MQTT messages: the first few are said, then at
most one per ``interval_s``, and the one said next carries how many were held back since.
"""

from __future__ import annotations

import threading
import time


class RateLimit:
    """A token bucket: ``burst`` at once, then one every ``interval_s``. Thread-safe."""

    def __init__(self, interval_s: float, burst: int = 1) -> None:
        self.interval_s = interval_s
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._suppressed = 0
        self._lock = threading.Lock()

    def allow(self) -> int | None:
        """None when this occurrence should stay unsaid; otherwise how many were held back before it."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) / self.interval_s)
            self._at = now
            if self._tokens < 1:
                self._suppressed += 1
                return None
            self._tokens -= 1
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed

    def drain(self) -> int:
        """How many were held back and not yet said (the tail of a flood); from now on, none."""
        with self._lock:
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed
