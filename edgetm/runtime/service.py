"""``edgetm run``: pipelines, shared sinks, commands, model swaps, reloads, stats, signals and
systemd supervision.

Threads: each pipeline runs in its own; the MQTT network thread only validates commands and hands
the slow ones (a model swap, a reload) to one control thread, which does them one at a time, so a
swap never overlaps a reload. The main loop wakes every ``TICK_S`` to publish stats when due,
check watched model files, and tell systemd's watchdog that every pipeline still makes progress
(one that has not looped for ``stuck_after_s`` withholds the ping, and edgetm exits with ``EXIT_STUCK``
so that systemd restarts it).

Reloads rebuild only the pipelines whose configuration changed, and a change of model alone is a
swap into the running pipeline (its source stays open). Everything new is built before anything
running is touched: a reload that fails changes nothing, and nothing is read from disk again to
fall back. Shutdown: SIGINT or SIGTERM stops the sources, gives the sinks ``FLUSH_TIMEOUT_S`` to
send what they hold and ``offline``, and returns 0, well inside two seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

from edgetm import __version__
from edgetm.capture.live import LiveSource
from edgetm.config import Config, PipelineConfig, config_folder, load_config
from edgetm.errors import EdgetmError
from edgetm.events import SourceState, StateChange
from edgetm.plugins import local_path
from edgetm.publish import SinkContext, Sinks
from edgetm.runtime import systemd
from edgetm.runtime.control import SetCommand, parse_reload, parse_set
from edgetm.runtime.pipeline import STOP_TIMEOUT_S, Pipeline, build_pipeline
from edgetm.runtime.stats import ProcessStats, timing_line
from edgetm.runtime.watch import FileWatch

log = logging.getLogger(__name__)

TICK_S = 0.25
EXIT_FAILED = 1  # a pipeline failed: its file or folder gave no result, or a bug stopped it
FLUSH_TIMEOUT_S = 1.0
# A pipeline stuck in a call that never returns cannot be stopped from Python: the process exits
# with this status (BSD's EX_SOFTWARE) so that systemd (Restart=on-failure) starts it afresh.
EXIT_STUCK = 70
# With -v, each pipeline's median stage times are logged this often: often enough to watch a change
# take effect, rarely enough that a day's journal stays readable.
TIMING_LOG_INTERVAL_S = 60.0


def status_line(stats: dict) -> str:
    """systemd's one-line status: each pipeline's rate and source, then whatever keeps a sink from delivering."""
    parts = [f"{n} {p['fps']} fps {p['source']}" for n, p in stats["pipelines"].items()]
    parts += [f"{sink}: {problem}" for sink, problem in stats.get("sink_problems", {}).items()]
    return "; ".join(parts)


def _normal(path: str | Path) -> Path:
    """An absolute path with ``..`` worked out, links left as they are (a link placed in a models
    folder by someone who may write there is theirs to place)."""
    return Path(os.path.normpath(os.path.abspath(path)))


class Service:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.folder = config_folder(config_path) if config_path is not None else Path.cwd()
        self.stop_requested = threading.Event()
        self.process = ProcessStats()
        self.started = time.monotonic()
        self.sinks = Sinks()
        self.pipelines: dict[str, Pipeline] = {}
        self._watches: dict[str, FileWatch] = {}
        self._control_pool = None  # the control thread, started by the first control work
        self._lock = threading.Lock()
        self._underway: set[str] = set()  # control work queued or running, by what it is
        self.refused = 0  # swaps and reloads refused (bad model, bad configuration)

    # -- building -------------------------------------------------------------------------------
    def _open_sinks(self) -> None:
        context = SinkContext(self.config.device_id, self.command, self.config.stats_interval_s)
        self.sinks = Sinks(options.open(context) for options in self.config.sinks)

    def _start(self, pipeline: Pipeline, config: PipelineConfig) -> None:
        self.sinks.add_pipeline(pipeline.info())
        log.debug("pipeline %s: runs %s (%s) on %s", pipeline.name, pipeline.task.model.source,
                  type(pipeline.task).__name__, pipeline.source.name)
        pipeline.start()
        self.pipelines[pipeline.name] = pipeline
        if config.model.watch:
            self._watches[pipeline.name] = FileWatch(config.model.path)
        else:
            self._watches.pop(pipeline.name, None)

    def _build_all(self, configs: list[PipelineConfig], probe: bool = False) -> list[Pipeline]:
        """Every pipeline built, or none: one that fails releases those built before it. With ``probe``
        (a reload, while others run) each model is first tried in a child process."""
        built: list[Pipeline] = []
        try:
            for config in configs:
                try:
                    built.append(build_pipeline(config, self.sinks, probe))
                except EdgetmError as error:
                    raise EdgetmError(f"pipeline {config.name}: {error}") from None
        except BaseException:
            for pipeline in built:
                pipeline.stop(STOP_TIMEOUT_S)
            raise
        return built

    # -- commands (called from the MQTT network thread) -----------------------------------------
    def command(self, pipeline: str | None, payload: bytes) -> None:
        """Validate a command; do it now if it is quick, else hand it to the control thread."""
        if pipeline is None:
            parse_reload(payload)
            if self.config_path is None:
                raise EdgetmError("nothing to reload: edgetm was started without --config")
            self._submit("reload", self._reload)
            return
        command = parse_set(payload)
        target = self.pipelines.get(pipeline)
        if target is None:
            raise EdgetmError(f"no pipeline named '{pipeline}'")
        if command.model is None:
            target.apply(command)
            return
        self._submit(f"swap in pipeline {pipeline}", self._swap, pipeline, command)

    def _submit(self, what: str, work, *args) -> None:
        """Queue control work, one of each kind at a time: a flood of swaps (each tried in a child
        first) must not become a queue of minutes, so the next waits until this one is done."""
        with self._lock:
            if what in self._underway:
                raise EdgetmError(f"a {what} is already under way; send the next when it is done")
            self._underway.add(what)
        self._control().submit(self._guarded, what, work, *args)

    def _control(self):
        """The one thread control work (swaps, reloads) runs on, started when first needed."""
        with self._lock:
            if self._control_pool is None:
                from concurrent.futures import ThreadPoolExecutor  # not at import: most runs never need it

                self._control_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgetm-control")
            return self._control_pool

    def _guarded(self, what: str, work, *args) -> None:
        """Run control work on the control thread: every failure is said on the error topic (with
        the pipeline it concerns, when it concerns one)."""
        detail = {"pipeline": args[0]} if args and isinstance(args[0], str) else None
        try:
            work(*args)
        except EdgetmError as error:
            self.refused += 1
            self._error(f"{what} refused: {error}", detail)
        except Exception as error:  # a bug: keep running, say so
            self.refused += 1
            log.exception("%s failed", what)
            self._error(f"{what} failed: {type(error).__name__}: {error}", detail)
        finally:
            with self._lock:
                self._underway.discard(what)

    def _swap(self, name: str, command: SetCommand) -> None:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise EdgetmError(f"no pipeline named '{name}'")
        assert command.model is not None
        path = local_path(self.folder, command.model)
        roots = self._model_roots()
        if not any(_normal(path).is_relative_to(root) for root in roots):
            raise EdgetmError(f"{command.model} is outside the folders models are taken from",
                              f"put it in {' or '.join(sorted(str(r) for r in roots))}")
        pipeline.swap(path)
        self._remember_model(name, path)
        rest = command.model_copy(update={"model": None})
        if any(getattr(rest, field) is not None for field in type(rest).model_fields):
            pipeline.apply(rest)

    def _model_roots(self) -> set[Path]:
        """Where a model named over MQTT may come from: the configuration's folder and the folders
        holding the configured models, so that a command cannot make edgetm open any file it can read."""
        return {_normal(self.folder), *(_normal(p.model.path).parent for p in self.config.pipelines)}

    def _remember_model(self, name: str, path: str) -> None:
        """What runs now, so that a reload compares against it."""
        pipelines = [p.model_copy(update={"model": p.model.model_copy(update={"path": path, "labels": None})})
                     if p.name == name else p for p in self.config.pipelines]
        self.config = self.config.model_copy(update={"pipelines": pipelines})

    def _reload(self) -> None:
        assert self.config_path is not None
        try:
            config = load_config(self.config_path)
        except EdgetmError as error:
            raise EdgetmError(f"still running the previous configuration: {error}") from None
        if config.sinks != self.config.sinks or config.device_id != self.config.device_id:
            self._error("reload: changes to sinks and device_id take effect after a restart")
        old = {p.name: p for p in self.config.pipelines}
        new = {p.name: p for p in config.pipelines}
        swaps = [c for name, c in new.items() if name in old and c != old[name]
                 and c.model_copy(update={"model": old[name].model}) == old[name]]
        rebuilt = [c for name, c in new.items() if c != old.get(name) and c not in swaps]
        try:
            built = self._build_all(rebuilt, probe=True)
        except EdgetmError as error:
            raise EdgetmError(f"still running the previous configuration: {error}") from None
        for name in [n for n in old if n not in new]:
            self._watches.pop(name, None)
            self.pipelines.pop(name).stop(STOP_TIMEOUT_S)
            self.sinks.remove_pipeline(name)
        for pipeline, pipeline_config in zip(built, rebuilt, strict=True):
            previous = self.pipelines.get(pipeline.name)
            if previous is not None:  # stopped first (a camera opens only once); what it retained is stale
                previous.stop(STOP_TIMEOUT_S)
                self.sinks.state(pipeline.name, [StateChange(key, None) for key in previous.status()["state"]])
            self._start(pipeline, pipeline_config)
        running = {**old, **{c.name: c for c in rebuilt}}
        running = {name: running[name] for name in new}
        for pipeline_config in swaps:
            try:
                self.pipelines[pipeline_config.name].swap(pipeline_config.model)
                self.pipelines[pipeline_config.name].model_options = pipeline_config.model
                running[pipeline_config.name] = pipeline_config
            except EdgetmError as error:
                self._error(f"reload: pipeline {pipeline_config.name} keeps its model: {error}")
        self.config = config.model_copy(update={"sinks": self.config.sinks, "device_id": self.config.device_id,
                                                "pipelines": list(running.values())})
        log.info("configuration reloaded: %d rebuilt, %d swapped, %d removed", len(rebuilt), len(swaps),
                 len([n for n in old if n not in new]))

    def _error(self, message: str, detail: dict | None = None) -> None:
        log.error("%s", message)
        self.sinks.error(message, detail)

    def _check_watches(self) -> None:
        for name, watch in list(self._watches.items()):
            if watch.changed():
                log.info("pipeline %s: %s changed; swapping it in", name, watch.path)
                self._control().submit(self._guarded, f"swap in pipeline {name}", self._swap, name,
                                     SetCommand(model=str(watch.path)))

    # -- supervision ----------------------------------------------------------------------------
    def stats(self) -> dict:
        return {
            "timestamp": time.time(),
            "device": self.config.device_id,
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started, 1),
            **self.process.snapshot(sum(p.stats.results for p in list(self.pipelines.values()))),
            "sink_failures": dict(self.sinks.failures),
            "sink_problems": self.sinks.problems,
            "control_refused": self.refused,
            "pipelines": {name: p.status() for name, p in list(self.pipelines.items())},
        }

    def _stuck(self) -> list[str]:
        """Pipelines that have made no progress for ``stuck_after_s``."""
        now = time.monotonic()
        return [name for name, p in list(self.pipelines.items())
                if not p.finished and now - p.heartbeat >= self.config.stuck_after_s]

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop_requested.set())

    def run(self) -> int:
        """Run until a signal, or until every pipeline's source has ended. Returns the exit status."""
        self._install_signals()
        try:
            self._open_sinks()
            for pipeline, config in zip(self._build_all(self.config.pipelines), self.config.pipelines, strict=True):
                self._start(pipeline, config)
            self.sinks.ready()
        except BaseException:
            self._close()
            raise
        watchdog = systemd.watchdog_interval_s()
        systemd.notify("READY=1", f"STATUS=running {len(self.pipelines)} pipeline(s)")
        next_stats = time.monotonic() + self.config.stats_interval_s
        next_timing = time.monotonic() + TIMING_LOG_INTERVAL_S
        next_ping = time.monotonic()
        problems: dict[str, str] = {}
        status = 0
        try:
            while not self.stop_requested.wait(TICK_S):
                now = time.monotonic()
                self._check_watches()
                if self.sinks.problems != problems:  # said at once, not at the next stats interval
                    problems = self.sinks.problems
                    systemd.notify(f"STATUS={status_line(self.stats())}")
                if now >= next_stats:
                    next_stats = now + self.config.stats_interval_s
                    payload = self.stats()
                    self.sinks.stats(payload)
                    systemd.notify(f"STATUS={status_line(payload)}")
                if now >= next_timing and log.isEnabledFor(logging.DEBUG):
                    next_timing = now + TIMING_LOG_INTERVAL_S
                    for name, pipeline in list(self.pipelines.items()):
                        log.debug("pipeline %s: %s", name, timing_line(pipeline.stats.snapshot()))
                stuck = self._stuck()
                if stuck:  # the watchdog goes unfed from here on, and we leave to be restarted
                    self._error(f"pipeline {', '.join(stuck)} made no progress for {self.config.stuck_after_s:g} s "
                                "(a model call or device that hangs); exiting to be restarted")
                    status = EXIT_STUCK
                    break
                crashed = [name for name, p in list(self.pipelines.items()) if p.crashed and not p.ended]
                if crashed:  # a bug stopped a live pipeline: a fresh start is the best way back
                    self._error(f"pipeline {', '.join(crashed)} stopped on an unexpected error; exiting to be "
                                "restarted")
                    status = EXIT_FAILED
                    break
                if watchdog and now >= next_ping:
                    systemd.notify("WATCHDOG=1")
                    next_ping = now + watchdog / 2
                # Sources that ran out, not pipelines that finished: a reload stops one before its successor starts.
                if all(p.finished and (p.ended or p.crashed) for p in list(self.pipelines.values())):
                    break
                if self.sinks.gone:
                    log.warning("no output is left to publish to; stopping")
                    break
        finally:
            systemd.notify("STOPPING=1")
            failed = self._close()
        return status or (EXIT_FAILED if failed else 0)

    def _close(self) -> bool:
        """Stop everything and sum up each pipeline. True if one failed: a bug stopped it, or its source
        ran out without a result (the pipeline said why as it ended)."""
        if self._control_pool is not None:
            self._control_pool.shutdown(wait=False, cancel_futures=True)
        failed = False
        for pipeline in list(self.pipelines.values()):
            pipeline.stop(STOP_TIMEOUT_S)
            failed = failed or pipeline.crashed or (pipeline.ended and not pipeline.stats.results)
            if isinstance(pipeline.source, LiveSource) and pipeline.source.state is not SourceState.OFFLINE:
                # Retained: a source left "online" would look alive long after edgetm stopped reading it.
                self.sinks.source_state(pipeline.name, SourceState.OFFLINE)
            stats = pipeline.stats.snapshot()
            log.info("pipeline %s: %d results at %.1f fps, %d errors, %d items dropped", pipeline.name,
                     stats["results"], pipeline.stats.overall_fps(), stats["errors"], pipeline.source.dropped)
        self.sinks.close(FLUSH_TIMEOUT_S)
        return failed
