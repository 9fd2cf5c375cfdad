"""Many sinks behind one: every call isolated, frames handed over without waiting.

A sink that raises is logged (at most once a minute per sink and call, with the traceback), counted
in ``failures``, and the other sinks still hear. Sinks that want frames get each one through a
``FrameFeed``: the pipeline leaves the newest item in a one-place slot and returns at once; the
sink's own thread takes it from there. Items the sink could not take in time are replaced by newer
ones and counted in ``frames_dropped``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from edgetm.events import Observation, SourceState, StateChange
from edgetm.publish.base import PipelineInfo, Sink

log = logging.getLogger(__name__)

FAILURE_LOG_INTERVAL_S = 60.0


class FrameFeed:
    """A thread that hands a sink the newest frame offered, dropping what it could not take."""

    def __init__(self, sink: Sink, isolate) -> None:
        self.sink = sink
        self._isolate = isolate
        self._slot: tuple[Observation, Any] | None = None
        self._ready = threading.Condition()
        self._closing = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"edgetm-frames-{type(sink).__name__}", daemon=True)
        self._thread.start()

    def offer(self, observation: Observation, item: Any) -> None:
        with self._ready:
            if self._slot is not None:
                self.dropped += 1
            self._slot = (observation, item)
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._slot is None and not self._closing:
                    self._ready.wait()
                if self._closing:
                    return
                observation, item = self._slot  # type: ignore[misc]
                self._slot = None
            self._isolate(self.sink, "frame", observation, item)

    def close(self, timeout_s: float) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout_s)


class Sinks(Sink):
    """The sinks of a service (or a pipeline), called as one."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks = list(sinks)
        self.failures: Counter[str] = Counter()
        self._last_logged: dict[tuple[str, str], float] = {}
        self._feeds = [FrameFeed(sink, self._call) for sink in self.sinks if sink.wants_frames]

    def __len__(self) -> int:
        return len(self.sinks)

    def __getitem__(self, index: int) -> Sink:
        return self.sinks[index]

    @property
    def wants_frames(self) -> bool:  # type: ignore[override]
        return bool(self._feeds)

    @property
    def gone(self) -> bool:
        """True when there are sinks and every one of them is gone."""
        def gone(sink: Sink) -> bool:
            try:
                return sink.gone
            except Exception:  # a broken sink may still deliver something: not gone
                self.failures[type(sink).__name__] += 1
                return False

        return bool(self.sinks) and all(gone(sink) for sink in self.sinks)

    @property
    def problems(self) -> dict[str, str]:
        """What keeps each sink from delivering now, by sink type."""
        found: dict[str, str] = {}
        for sink in self.sinks:
            try:
                problem = sink.problem
            except Exception:
                self.failures[type(sink).__name__] += 1
                continue
            if problem:
                found[getattr(getattr(sink, "config", None), "type", type(sink).__name__)] = problem
        return found

    @property
    def frames_dropped(self) -> int:
        return sum(feed.dropped for feed in self._feeds)

    def _call(self, sink: Sink, method: str, *args) -> None:
        try:
            getattr(sink, method)(*args)
        except Exception:  # one sink's bug must not silence the others or stop the pipeline
            name = type(sink).__name__
            self.failures[name] += 1
            now = time.monotonic()
            if now - self._last_logged.get((name, method), -FAILURE_LOG_INTERVAL_S) >= FAILURE_LOG_INTERVAL_S:
                self._last_logged[(name, method)] = now
                log.exception("sink %s failed in %s (%d failures so far)", name, method, self.failures[name])

    def _each(self, method: str, *args) -> None:
        for sink in self.sinks:
            self._call(sink, method, *args)

    def ready(self) -> None:
        self._each("ready")

    def add_pipeline(self, info: PipelineInfo) -> None:
        self._each("add_pipeline", info)

    def remove_pipeline(self, name: str) -> None:
        self._each("remove_pipeline", name)

    def result(self, observation: Observation) -> None:
        self._each("result", observation)

    def state(self, pipeline: str, changes: Sequence[StateChange]) -> None:
        self._each("state", pipeline, changes)

    def source_state(self, pipeline: str, state: SourceState) -> None:
        self._each("source_state", pipeline, state)

    def frame(self, observation: Observation, item: Any) -> None:
        for feed in self._feeds:
            feed.offer(observation, item)

    def stats(self, payload: dict) -> None:
        self._each("stats", payload)

    def error(self, message: str, detail: dict | None = None) -> None:
        self._each("error", message, detail)

    def close(self, timeout_s: float = 1.0) -> None:
        """Close each sink with what is left of ``timeout_s`` (each gets a fair share at least)."""
        deadline = time.monotonic() + timeout_s
        for feed in self._feeds:
            feed.close(max(0.0, min(0.1, deadline - time.monotonic())))
        for n, sink in enumerate(self.sinks):
            share = max(0.0, deadline - time.monotonic()) / (len(self.sinks) - n)
            self._call(sink, "close", share)
