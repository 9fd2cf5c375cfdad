"""One pipeline: source -> task (prepare, infer, track) -> sinks.

From Python, iterate it::

    for seen in edgetm.Pipeline("models/banana", "camera:0"):
        if seen.changed("label"):
            print("now", seen.state.label)

``edgetm run`` runs each pipeline in its own thread (``start`` / ``stop``). Either way every
observation goes to the pipeline's sinks: results at most ``max_rate_hz`` a second, retained-state
changes always, and the newest frame to sinks that want frames. Items are fed under the source's
delivery policy (see ``feed.py``). The loop never asks which task it runs.

A source's states go to the sinks as they change, and each new problem it has is said once, in the
log and to the sinks; ``status`` shows the problem (``source_problem``) until it is over. Why a file
or folder ran out without the pipeline doing its work is said by ``run`` as it ends; a caller that
iterates asks ``end_problem``.

A model is swapped in with ``swap``: the new model is loaded and checked off the loop's thread
(it loads, the task can run it on this source, it has labels if the running one has, and it runs
on the latest item), then takes over between two items. On any failure the running model stays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from edgetm.capture import DEFAULT_SOURCE, Delivery, Item, Source, SourceOptions, SourceState, open_source
from edgetm.capture.live import LiveSource
from edgetm.capture.sources import source_options, source_paced
from edgetm.config import PipelineConfig, PipelineOptions
from edgetm.errors import ConfigError, EdgetmError, ModelError
from edgetm.events import Observation, StateChange, paused_change
from edgetm.model.model import Model
from edgetm.model.options import ModelOptions
from edgetm.model.probe import probe_model
from edgetm.model.threads import load_for_pacing
from edgetm.plugins import Options, type_name
from edgetm.publish import PipelineInfo, Sink, Sinks
from edgetm.ratelimit import RateLimit
from edgetm.results import check_finite
from edgetm.runtime.control import SetCommand
from edgetm.runtime.feed import IDLE, Fed, Feed
from edgetm.runtime.stats import PipelineStats
from edgetm.tasks import AUTO, Task, Unit, build_task, choose

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 1.0  # how long stopping a pipeline waits for its thread and its source
SWAP_TIMEOUT_S = 10.0  # how long a swap waits for the loop to reach the next item (one slow inference)
ERROR_REPORT_INTERVAL_S = 1.0  # a model failing on every frame reports once a second, not 30 times
MODEL_KEY = "model"  # the retained state naming the model that runs


class Pipeline:
    def __init__(
        self,
        model: str | Path | ModelOptions | Model,
        source: str | Mapping | SourceOptions | Source = DEFAULT_SOURCE,
        task: Options | str | None = None,
        options: PipelineOptions | None = None,
        *,
        name: str = "default",
        sinks: Sink | Sequence[Sink] = (),
    ) -> None:
        """``task`` is the task's options (their type names the task), a task's name, or None to run
        the task the model's kind calls for with its default options."""
        self.name = name
        self.options = options or PipelineOptions()
        # A camera's or microphone's pace leaves inference idle between items: fewer threads may do better.
        if not isinstance(source, Source):
            source = source_options(source)  # parsed once: for its pace here, opened below
        self.paced = source_paced(source)
        if isinstance(model, Model):
            self.model_options: ModelOptions | None = None
        else:
            self.model_options = model if isinstance(model, ModelOptions) else ModelOptions(path=str(model))
            model = load_for_pacing(self.model_options, self.paced)
        task_options = task if isinstance(task, Options) else choose(model, task or AUTO)
        self.task: Task = build_task(model, task_options, self.options)
        self.source = self._open(source)
        if not issubclass(self.source.item, self.task.accepts):
            self.source.stop(STOP_TIMEOUT_S)
            raise ConfigError(f"the {type_name(type(task_options))} task takes {self.task.accepts.__name__.lower()}s, "
                              f"but {self.source.name} gives {self.source.item.__name__.lower()}s",
                              self.task.wrong_source_hint)
        self.sinks = sinks if isinstance(sinks, Sinks) else Sinks([sinks] if isinstance(sinks, Sink) else sinks)
        self.model_name = Path(model.source).name  # in every result: computed once per model
        self.stats = PipelineStats()
        self._feed: Feed | None = None
        self.max_rate_hz = self.options.max_rate_hz
        self.paused = False
        self.heartbeat = time.monotonic()
        self.finished = False
        self.ended = False  # the source ran out (a file, a folder), rather than the pipeline being stopped
        self.crashed = False  # an unexpected exception stopped the loop (a bug: it was logged with its traceback)
        self.swaps = 0
        self._retained: dict[str, str] = {}
        self._states: deque[SourceState] = deque(maxlen=64)  # handed over by the capture thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterating = False
        self._last_published = 0.0
        self._errors = RateLimit(ERROR_REPORT_INTERVAL_S)
        self._unsaid: Exception | None = None  # the last error the once-a-second limit held back
        self._problems: deque[str] = deque(maxlen=64)  # a live source's problems, handed over like its states
        self._reported_rejects = 0
        self._model_announced = False  # base/<pipeline>/model says which model runs, at start and after swaps
        self._reported_drops = 0
        self._latest: Item | None = None
        self._next_slot = 0.0
        self._swap_lock = threading.Lock()
        self._handover = threading.Lock()
        self._pending: Task | None = None
        self._switched = threading.Event()
        self.source.on_state(self._states.append)  # the capture thread only hands the state over
        self.source.on_problem(self._problems.append)

    @staticmethod
    def _open(source: str | Mapping | SourceOptions | Source) -> Source:
        return source if isinstance(source, Source) else open_source(source)

    @property
    def threshold(self) -> float:
        return self.task.threshold

    def info(self) -> PipelineInfo:
        return PipelineInfo(self.name, self.model_name, self.source.name, tuple(self.task.entities()))

    def status(self) -> dict:
        """What the stats topic says of this pipeline; safe to call from any thread."""
        return {
            **self.stats.snapshot(),
            "model": self.model_name,
            "dropped_frames": self.source.dropped,
            "source": self.source.state.value,
            "source_problem": self.source.problem,
            "source_reconnects": self.source.reconnects,
            "source_rejected": self.source.rejected,
            "paused": self.paused,
            "swaps": self.swaps,
            "state": dict(self._retained),
            **self.task.status(),
            **(self._feed.describe() if self._feed is not None else {}),
        }

    # -- commands -------------------------------------------------------------------------------
    def apply(self, command: SetCommand) -> None:
        """Change settings while running (from any thread). A model in the command is swapped in by
        the caller first (``swap``), since loading takes a while."""
        if command.threshold is not None:
            self.task.threshold = command.threshold
        if command.paused is not None:
            self.paused = command.paused
            self.sinks.state(self.name, [paused_change(self.paused)])
        if command.max_rate_hz is not None:
            self.max_rate_hz = command.max_rate_hz
        log.info("pipeline %s: %s", self.name, command.model_dump(exclude_none=True, exclude={"model"}))

    def swap(self, model: str | Path | ModelOptions | Model, timeout_s: float = SWAP_TIMEOUT_S) -> None:
        """Run ``model`` from the next item on (call from any thread but the pipeline's own).

        A path keeps this pipeline's runtime settings (threads, delegate, providers, input size)
        and takes the labels found with the new model; it is first loaded and run once in a child
        process (``probe_model``: up to ``PROBE_TIMEOUT_S``), so that a model that crashes its runtime
        cannot take the pipeline down. Raises ``EdgetmError`` saying why the model was refused; the
        running model then keeps running.
        """
        with self._swap_lock:
            candidate = self._checked(self._load(model))
            with self._handover:
                self._switched.clear()
                self._pending = candidate
                running = self._iterating and not self.finished
                if not running:
                    self._switch()
            if running and not self._switched.wait(timeout_s):
                with self._handover:
                    if self._pending is candidate:
                        self._pending = None
                        raise EdgetmError(f"pipeline {self.name} did not reach its next item within {timeout_s:.0f} s; "
                                          "the running model stays")

    def _load(self, model: str | Path | ModelOptions | Model) -> Model:
        """The model to swap in, loaded here once a child process has loaded and run it (``probe_model``):
        a model that crashes its runtime or takes all the memory does so there, and the pipeline runs on."""
        if isinstance(model, Model):
            return model
        if not isinstance(model, ModelOptions):
            base = self.model_options or ModelOptions(path=str(model))
            model = base.model_copy(update={"path": str(model), "labels": None})
        probe_model(model)
        return load_for_pacing(model, self.paced)

    def _checked(self, model: Model) -> Task:
        """The running task's twin on ``model``, once it has shown it can take over."""
        running = self.task
        try:
            candidate = build_task(model, running.options, self.options)
        except ConfigError as error:  # said for a command line; here the pipeline's task is what counts
            raise ConfigError(f"{error.message}; pipeline {self.name} runs the {type_name(type(running.options))} "
                              "task") from None
        if not issubclass(self.source.item, candidate.accepts):
            raise ConfigError(f"{model.source} takes {candidate.accepts.__name__.lower()}s, but {self.source.name} "
                              f"gives {self.source.item.__name__.lower()}s")
        if running.model.labels and not model.labels:
            raise ModelError(f"{model.source} has no labels", "put its labels.txt beside it")
        latest = self._latest
        if latest is not None:
            try:
                candidate.probe(latest)
            except EdgetmError as error:
                raise ModelError(f"{model.source} fails on the latest item: {error}") from None
            except Exception as error:  # a runtime's own exception: the model cannot run here
                raise ModelError(f"{model.source} fails on the latest item: {type(error).__name__}: {error}") from None
        candidate.threshold = running.threshold  # a threshold set while running outlives the model
        return candidate

    def _switch(self) -> None:
        """Hand over to the pending task, between two items (the handover lock is held)."""
        new, old = self._pending, self.task
        if new is None:
            return
        self._pending = None
        new.adopt(old)
        self.task = new
        self.model_name = Path(new.model.source).name
        self.swaps += 1
        self._retained = new.retained()
        self.sinks.add_pipeline(self.info())
        cleared = [StateChange(key, None) for key in old.retained() if key not in self._retained]
        if cleared:
            self.sinks.state(self.name, cleared)
        log.info("pipeline %s now runs %s", self.name, new.model.source)
        self._model_announced = False
        self._switched.set()

    # -- the loop -------------------------------------------------------------------------------
    def _report(self, error: Exception, every: bool = False) -> None:
        """Count an error and say it, at most once a second unless ``every`` (an error naming its
        own file is said each time: it is a different file each time)."""
        self.stats.error()
        held_back = self._errors.drain() if every else self._errors.allow()
        if held_back is None:  # said with the next report, or at the end, so that none goes unmentioned
            self._unsaid = error
            return
        self._unsaid = None
        self._say_error(error, held_back)

    def _report_the_rest(self) -> None:
        """At the end: the last of the errors the once-a-second limit held back, with their number."""
        if self._unsaid is not None:
            self._say_error(self._unsaid, self._errors.drain() - 1)
            self._unsaid = None

    def _say_error(self, error: Exception, held_back: int) -> None:
        more = f" (and {held_back} more errors since the last report)" if held_back else ""
        log.warning("pipeline %s: %s%s", self.name, error, more)
        self.sinks.error(f"{error}{more}", {"pipeline": self.name})

    def _say(self, problem: str, level: int = logging.WARNING) -> None:
        """A source's problem, once: in the log and to the sinks (MQTT's error topic)."""
        log.log(level, "pipeline %s: %s", self.name, problem)
        self.sinks.error(problem, {"pipeline": self.name, "source": self.source.name})

    def _check_in(self) -> None:
        """Between items: hand source states to the sinks, report a STREAM source losing items,
        and take over a swapped-in model."""
        self.heartbeat = time.monotonic()
        if not self._model_announced:
            self._model_announced = True
            self.sinks.state(self.name, [StateChange(MODEL_KEY, self.task.model.source)])
        self._hand_over()
        dropped = self.source.dropped
        if self.source.delivery is Delivery.STREAM and dropped > self._reported_drops:
            self._report(EdgetmError(f"source {self.source.name} lost {dropped - self._reported_drops} items "
                                     f"({dropped} in all): the pipeline cannot keep up"))
            self._reported_drops = dropped
        rejected = self.source.rejected
        if rejected > self._reported_rejects:
            self._report(EdgetmError(f"source {self.source.name} gave {rejected - self._reported_rejects} unusable "
                                     f"frames ({rejected} in all): {self.source.rejection}"))
            self._reported_rejects = rejected
        if self._pending is not None:
            with self._handover:
                self._switch()

    def _hand_over(self) -> None:
        """What the capture thread handed over: states to the sinks, problems said once each."""
        while self._states:
            self.sinks.source_state(self.name, self._states.popleft())
        while self._problems:
            self._say(self._problems.popleft())

    def _prepare(self, item: Item) -> tuple[Any, Task]:
        task = self.task
        return task.prepare(item), task

    def __iter__(self) -> Iterator[Observation]:
        self.source.prefer(rate=self.task.input_rate)
        self.source.start()
        self._iterating = True
        self.sinks.state(self.name, [paused_change(self.paused)])
        if not isinstance(self.source, LiveSource):  # a live source says its states itself; a file is there
            self.sinks.source_state(self.name, self.source.state)
        self._next_slot = time.monotonic()
        feed = self._feed = Feed(self.source, self._prepare, self._stop, lambda: self.paused)
        try:
            for fed in feed:
                self._check_in()
                if fed is IDLE:
                    continue
                if isinstance(fed, Exception):
                    if not isinstance(fed, EdgetmError):
                        raise fed
                    self._report(fed, every=True)  # reading failed: an unreadable file, named by the error
                    continue
                assert isinstance(fed, Fed)
                yield from self._run(self._units(fed))
            if not self._stop.is_set():  # the source ended: what the task still holds
                self.ended = True
                yield from self._run(self.task.flush())
        finally:
            with self._handover:
                self.finished = True
                self._switch()  # a swap that arrived at the very end still happens
            self._iterating = False
            self.source.stop(STOP_TIMEOUT_S)
            self._hand_over()  # the last states (a finite live source is offline at its end)
            if not isinstance(self.source, LiveSource):
                self.sinks.source_state(self.name, SourceState.OFFLINE)
            self._report_the_rest()

    def end_problem(self) -> str | None:
        """Why a pipeline whose source ran out did not do its work: the source's own reason (a file
        that could not be read to its end, a folder of which no image decodes), or no result at all."""
        if not self.ended:
            return None
        if self.source.problem:
            return self.source.problem
        return None if self.stats.results else f"{self.source.name} ended without a result"

    def _units(self, fed: Fed) -> list[Unit]:
        """The inputs an item gave, prepared again if the model changed since; errors are reported."""
        try:
            if isinstance(fed.prepared, Exception):
                raise fed.prepared
            task = self.task
            if fed.prepared_by is task or task.continues(fed.prepared_by):
                return fed.prepared
            return task.prepare(fed.item)
        except EdgetmError as error:
            self._report(error)
            return []

    def _run(self, units: list[Unit]) -> Iterator[Observation]:
        for unit in units:
            try:
                observation = self._observe(unit)
            except EdgetmError as error:
                self._report(error)
                continue
            self._emit(observation, unit.item)
            yield observation
            if self.options.max_fps:
                self._next_slot = max(self._next_slot + 1.0 / self.options.max_fps, time.monotonic() - 1.0)
                self._stop.wait(max(0.0, self._next_slot - time.monotonic()))

    def _observe(self, unit: Unit) -> Observation:
        task, item = self.task, unit.item
        result = task.infer(unit.input, item)
        # Before tracking: a NaN taken into the smoothed state would spoil every later result.
        check_finite(result.to_dict(), f"{self.model_name} on item {item.index}")
        tracked = task.track(result, item)
        self._latest = item
        if tracked.changes:
            self._retained = task.retained()
        latency = dict(getattr(result, "latency_ms", {}))
        latency["capture_to_result"] = (time.monotonic() - item.captured) * 1e3
        self.stats.record(latency)
        return Observation(self.name, self.model_name, self.source.name, item.index, item.wall, tracked.result,
                           tracked.state, tracked.changes, latency)

    def _emit(self, observation: Observation, item: Item) -> None:
        now = time.monotonic()
        rate = self.max_rate_hz
        if rate is None or now - self._last_published >= 1.0 / rate:
            self._last_published = now
            self.sinks.result(observation)
        if observation.changes:
            self.sinks.state(self.name, observation.changes)
        if self.sinks.wants_frames:
            self.sinks.frame(observation, item)

    # -- running in a thread --------------------------------------------------------------------
    def run(self) -> None:
        """Run until the source ends or ``stop``; a source that ran out without the pipeline doing
        its work is said (``end_problem``) as it ends."""
        try:
            for _ in self:
                if self._stop.is_set():
                    break
            problem = self.end_problem()
            if problem:
                self._say(problem, logging.ERROR)
        except Exception as error:  # the thread must report, not vanish
            self.crashed = True
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


def build_pipeline(config: PipelineConfig, sinks: Sinks, probe: bool = False) -> Pipeline:
    """A pipeline as a configuration describes it (the model is loaded here; with ``probe``, first
    in a child process, as a running service does before it takes a model in)."""
    if probe:
        probe_model(config.model)
    model = load_for_pacing(config.model, source_paced(config.source))
    pipeline = Pipeline(model, config.source, choose(model, config.task, config.task_options()), config.options(),
                        name=config.name, sinks=sinks)
    pipeline.model_options = config.model
    return pipeline
