"""One pipeline: source -> preprocess -> model -> postprocess -> smoothing -> sinks.

From Python, iterate it::

    for seen in edgetm.Pipeline("models/banana", "camera:0"):
        print(seen.smoothed_label, seen.result.score)

``edgetm run`` runs each pipeline in its own thread with ``start``/``stop`` and hands every
observation to the sinks.

Timing policy: live sources are read with latest-frame semantics (the newest frame when the
model is ready; older ones dropped and counted), waiting at most ``READ_TIMEOUT_S`` at a time
so the loop stays responsive. Finite sources (files) are decoded and prepared one frame ahead
in a helper thread, overlapping with inference.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from edgetm.capture import EndOfStream, Frame, Source, SourceConfig, SourceState, open_source, parse_source
from edgetm.errors import EdgetmError
from edgetm.model.load import load_model
from edgetm.model.model import Model, Task
from edgetm.publish.base import PipelineInfo, Sink
from edgetm.results import Observation
from edgetm.runtime.commands import SetCommand
from edgetm.runtime.prefetch import prefetch
from edgetm.runtime.smoothing import CountSmoother, Smoother, SmoothingConfig
from edgetm.runtime.stats import PipelineStats
from edgetm.vision.annotate import annotate, jpeg
from edgetm.vision.classify import Classifier
from edgetm.vision.detect import DetectOptions, Detector, Zone
from edgetm.vision.preprocess import Prepared, PreprocessOptions

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.5  # longest wait for a live frame before the loop checks in again
STOP_TIMEOUT_S = 1.0
# Smoothing needs the scores of more labels than are shown (the current label may drop out of
# the shown top-k while still above the hysteresis line).
SMOOTHING_TOP_K = 5
ERROR_REPORT_INTERVAL_S = 1.0  # a model failing on every frame reports once a second, not 30 times


class Pipeline:
    def __init__(
        self,
        model: str | Path | Model,
        source: str | SourceConfig | Source = "camera:0",
        *,
        name: str = "default",
        labels: str | Path | None = None,
        top_k: int = 3,
        threshold: float = 0.5,
        preprocess: PreprocessOptions | None = None,
        smoothing: SmoothingConfig | None = None,
        max_rate_hz: float | None = None,
        max_fps: float | None = None,
        detect: DetectOptions | None = None,
        zone: Zone | None = None,
        snapshot: bool = False,
        sinks: Sequence[Sink] = (),
        num_threads: int | None = None,
        delegate: str | None = None,
        providers: Sequence[str] | None = None,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        self.name = name
        self.model = model if isinstance(model, Model) else load_model(
            model, labels, num_threads=num_threads, delegate=delegate, providers=providers, input_size=input_size)
        self.model_name = Path(self.model.source).name  # in every result: computed once
        self.top_k = top_k
        self.smoothing = smoothing or SmoothingConfig()
        self.smoother = Smoother(self.smoothing, threshold)
        self.zone = zone
        self.snapshot = snapshot
        self.task: Classifier | Detector
        if self.model.task is Task.DETECT:
            # A detector's threshold is its confidence threshold (``detect.conf``, default 0.25).
            options = detect or DetectOptions()
            self.task = Detector(self.model, options, preprocess)
            self.smoother.threshold = options.conf
            self.counter = CountSmoother(self.smoothing, options.classes or ())
        else:
            self.task = Classifier(self.model, top_k=max(top_k, SMOOTHING_TOP_K), threshold=0.0,
                                   preprocess=preprocess)
        self.max_rate_hz = max_rate_hz
        self.max_fps = max_fps
        if isinstance(source, str):
            source = parse_source(source)
        self.source = source if isinstance(source, Source) else open_source(source)
        self.sinks = list(sinks)
        self.stats = PipelineStats()
        self.paused = False
        self.heartbeat = time.monotonic()
        self.finished = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_published = 0.0
        self._last_error_report = 0.0
        self.source.on_state(self._source_state)

    @property
    def threshold(self) -> float:
        return self.smoother.threshold

    @property
    def detecting(self) -> bool:
        return isinstance(self.task, Detector)

    def info(self) -> PipelineInfo:
        counted = list(self.task.options.classes or ()) if isinstance(self.task, Detector) else []
        return PipelineInfo(self.name, self.model_name, self.source.name, list(self.model.labels or []),
                            self.smoothing.none_label, self.detecting, counted)

    # -- commands -------------------------------------------------------------------------------
    def apply(self, command: SetCommand) -> None:
        """Change settings while running (from any thread)."""
        if command.threshold is not None:
            self.smoother.threshold = command.threshold
            if isinstance(self.task, Detector):
                self.task.options = replace(self.task.options, conf=command.threshold)
        if command.paused is not None:
            self.paused = command.paused
        if command.max_rate_hz is not None:
            self.max_rate_hz = command.max_rate_hz
        log.info("pipeline %s: %s", self.name, command.model_dump(exclude_none=True))

    # -- the loop -------------------------------------------------------------------------------
    def _source_state(self, state: SourceState) -> None:
        for sink in self.sinks:
            try:
                sink.source_state(self.name, state)
            except Exception:
                log.exception("sink %s failed", type(sink).__name__)

    def _report(self, error: Exception) -> None:
        self.stats.errors += 1
        now = time.monotonic()
        if now - self._last_error_report < ERROR_REPORT_INTERVAL_S:
            return
        self._last_error_report = now
        log.warning("pipeline %s: %s", self.name, error)
        for sink in self.sinks:
            try:
                sink.error(str(error), {"pipeline": self.name})
            except Exception:
                log.exception("sink %s failed", type(sink).__name__)

    def _read_and_prepare(self, _: int) -> tuple[Frame, Prepared]:
        frame = self.source.read(READ_TIMEOUT_S)
        assert frame is not None  # finite sources always return a frame or raise
        return frame, self.task.prepare(frame.image)

    def _frames(self) -> Iterator[tuple[Frame, Prepared] | Exception]:
        """Prepared frames until the source ends or ``stop``; per-frame errors in their place."""
        if not self.source.live:
            for _, item in prefetch(itertools.count(), self._read_and_prepare):
                if isinstance(item, EndOfStream):
                    return
                yield item
                if self._stop.is_set():
                    return
            return
        while not self._stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                frame = self.source.read(READ_TIMEOUT_S)
            except EndOfStream:
                return
            if frame is None:
                continue
            if self.paused:
                continue  # keep draining the camera, infer nothing
            try:
                prepared = self.task.prepare(frame.image)
            except EdgetmError as error:
                yield error
                continue
            yield frame, prepared

    def __iter__(self) -> Iterator[Observation]:
        self.source.start()
        next_slot = time.monotonic()
        try:
            for item in self._frames():
                self.heartbeat = time.monotonic()
                if isinstance(item, Exception):
                    if not isinstance(item, EdgetmError):
                        raise item
                    self._report(item)
                    continue
                while self.paused and not self._stop.is_set():
                    self.heartbeat = time.monotonic()
                    self._stop.wait(READ_TIMEOUT_S)
                frame, prepared = item
                try:
                    observation = self._observe(frame, prepared)
                except EdgetmError as error:
                    self._report(error)
                    continue
                yield observation
                if self.max_fps:
                    next_slot = max(next_slot + 1.0 / self.max_fps, time.monotonic() - 1.0)
                    self._stop.wait(max(0.0, next_slot - time.monotonic()))
        finally:
            self.source.stop(STOP_TIMEOUT_S)
            self.finished = True

    def _observe(self, frame: Frame, prepared: Prepared) -> Observation:
        model = self.model_name
        if isinstance(self.task, Detector):
            found = self.task.infer(prepared, source=frame.name)
            latency = dict(found.latency_ms)
            counted = found.detections
            if self.zone is not None:
                inside = self.zone.contains(found.detections, found.image_size)
                counted = [d for d, keep in zip(found.detections, inside, strict=True) if keep]
            counts: dict[str, int] = {}
            for detection in counted:
                counts[detection.label] = counts.get(detection.label, 0) + 1
            changed = self.counter.update(counts)
            observation = Observation(self.name, model, self.source.name, frame.index, frame.wall, found,
                                      latency_ms=latency, counts=counts, smoothed_counts=dict(self.counter.counts),
                                      counts_changed=changed)
            if changed and self.snapshot:
                observation.snapshot = jpeg(annotate(frame.image, found.detections))
        else:
            full = self.task.infer(prepared, source=frame.name)
            label_changed = self.smoother.update(full.scores())
            latency = dict(full.latency_ms)
            observation = Observation(self.name, model, self.source.name, frame.index, frame.wall,
                                      full.limited(self.threshold, self.top_k), self.smoother.label,
                                      label_changed, latency)
        latency["capture_to_result"] = (time.monotonic() - frame.captured) * 1e3
        self.stats.record(latency)
        return observation

    # -- running in a thread with sinks ---------------------------------------------------------
    def _publish(self, observation: Observation) -> None:
        now = time.monotonic()
        rate = self.max_rate_hz
        due = rate is None or now - self._last_published >= 1.0 / rate
        if due:
            self._last_published = now
        for sink in self.sinks:
            try:
                if due:
                    sink.result(observation)
                if observation.label_changed and observation.smoothed_label is not None:
                    sink.label(self.name, observation.smoothed_label)
                if observation.counts_changed:
                    sink.counts(self.name, observation.counts_changed)
                if observation.snapshot is not None:
                    sink.snapshot(self.name, observation.snapshot)
            except Exception:
                log.exception("sink %s failed", type(sink).__name__)

    def run(self) -> None:
        """Run until the source ends or ``stop``, publishing to the sinks."""
        try:
            for observation in self:
                self._publish(observation)
                if self._stop.is_set():
                    break
        except Exception as error:  # the thread must report, not vanish
            log.exception("pipeline %s stopped", self.name)
            self._report(error)
        finally:
            self.finished = True

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"edgetm-pipeline-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        else:
            self.source.stop(timeout_s)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
