"""``edgetm run``: pipelines, shared sinks, commands, stats, signals and systemd supervision.

Shutdown: SIGINT or SIGTERM stops the sources, gives the sinks ``FLUSH_TIMEOUT_S`` to send what
they hold and ``offline``, and returns 0, well inside two seconds. The main loop wakes every
``TICK_S`` to publish stats when due, handle a reload, and tell systemd's watchdog that every
pipeline is still making progress (a pipeline that has not looped for ``STUCK_AFTER_S`` withholds
the ping, so systemd restarts the service).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

from edgetm import __version__
from edgetm.config import Config, PipelineConfig, load_config
from edgetm.errors import EdgetmError
from edgetm.publish.base import Sink
from edgetm.publish.mqtt import MqttConfig, MqttSink
from edgetm.publish.stdout import JsonlConfig, StdoutConfig, jsonl_sink, stdout_sink
from edgetm.runtime import systemd
from edgetm.runtime.commands import parse_reload, parse_set
from edgetm.runtime.pipeline import Pipeline
from edgetm.runtime.stats import ProcessStats

log = logging.getLogger(__name__)

TICK_S = 0.25
FLUSH_TIMEOUT_S = 1.0
STOP_TIMEOUT_S = 0.5
STUCK_AFTER_S = 30.0


def build_pipeline(config: PipelineConfig, sinks: list[Sink]) -> Pipeline:
    m = config.model
    return Pipeline(
        m.path, config.source, name=config.name, labels=m.labels, top_k=config.top_k, threshold=config.threshold,
        preprocess=config.preprocess.options(m.input_size), smoothing=config.smoothing,
        max_rate_hz=config.max_rate_hz, max_fps=config.max_fps, detect=config.detect.options(),
        zone=config.zone.zone() if config.zone else None, snapshot=config.snapshot, sinks=sinks, num_threads=m.threads,
        delegate=m.delegate, providers=m.providers, input_size=m.input_size,
    )


class Service:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.stop_requested = threading.Event()
        self._reload_requested = threading.Event()
        self.process = ProcessStats()
        self.started = time.monotonic()
        self.sinks: list[Sink] = []
        self.pipelines: dict[str, Pipeline] = {}

    # -- building -------------------------------------------------------------------------------
    def _open_sinks(self) -> None:
        for sink in self.config.sinks:
            if isinstance(sink, MqttConfig):
                self.sinks.append(MqttSink(sink, self.config.device_id, on_command=self.command))
            elif isinstance(sink, StdoutConfig):
                self.sinks.append(stdout_sink(sink))
            elif isinstance(sink, JsonlConfig):
                self.sinks.append(jsonl_sink(sink))

    def _start_pipelines(self, configs: list[PipelineConfig]) -> None:
        built = {c.name: build_pipeline(c, self.sinks) for c in configs}  # all load, or none start
        for pipeline in built.values():
            for sink in self.sinks:
                sink.add_pipeline(pipeline.info())
            pipeline.start()
        self.pipelines = built

    # -- commands (called from the MQTT network thread) -----------------------------------------
    def command(self, pipeline: str | None, payload: bytes) -> None:
        if pipeline is None:
            parse_reload(payload)
            if self.config_path is None:
                raise EdgetmError("nothing to reload: edgetm was started without --config")
            self._reload_requested.set()
            return
        command = parse_set(payload)
        target = self.pipelines.get(pipeline)
        if target is None:
            raise EdgetmError(f"no pipeline named '{pipeline}'")
        target.apply(command)

    def _reload(self) -> None:
        assert self.config_path is not None
        try:
            config = load_config(self.config_path)
        except EdgetmError as error:
            self._error(f"reload refused, still running the previous configuration: {error}")
            return
        if config.sinks != self.config.sinks or config.device_id != self.config.device_id:
            log.warning("reload: sink and device changes take effect after a restart")
        old = self.pipelines
        for pipeline in old.values():
            pipeline.stop(STOP_TIMEOUT_S)
        try:
            self._start_pipelines(config.pipelines)
        except EdgetmError as error:
            self._error(f"reload failed, restarting the previous configuration: {error}")
            self._start_pipelines(self.config.pipelines)
            return
        self.config = config.model_copy(update={"sinks": self.config.sinks, "device_id": self.config.device_id})
        log.info("configuration reloaded")

    def _error(self, message: str) -> None:
        log.error("%s", message)
        for sink in self.sinks:
            sink.error(message)

    # -- supervision ----------------------------------------------------------------------------
    def stats(self) -> dict:
        return {
            "timestamp": time.time(),
            "device": self.config.device_id,
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started, 1),
            **self.process.snapshot(),
            "pipelines": {
                name: {
                    **p.stats.snapshot(),
                    "dropped_frames": p.source.dropped,
                    "source": p.source.state.value,
                    "source_reconnects": getattr(p.source, "reconnects", 0),
                    "paused": p.paused,
                    "label": p.smoother.label,
                }
                for name, p in self.pipelines.items()
            },
        }

    def _healthy(self) -> bool:
        now = time.monotonic()
        return all(p.finished or now - p.heartbeat < STUCK_AFTER_S for p in self.pipelines.values())

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
            self._start_pipelines(self.config.pipelines)
        except BaseException:
            self._close()
            raise
        watchdog = systemd.watchdog_interval_s()
        systemd.notify("READY=1", f"STATUS=running {len(self.pipelines)} pipeline(s)")
        next_stats = time.monotonic() + self.config.stats_interval_s
        next_ping = time.monotonic()
        try:
            while not self.stop_requested.wait(TICK_S):
                now = time.monotonic()
                if self._reload_requested.is_set():
                    self._reload_requested.clear()
                    self._reload()
                if now >= next_stats:
                    next_stats = now + self.config.stats_interval_s
                    payload = self.stats()
                    for sink in self.sinks:
                        sink.stats(payload)
                    summary = ", ".join(f"{n} {p['fps']} fps {p['source']}" for n, p in payload["pipelines"].items())
                    systemd.notify(f"STATUS={summary}")
                if watchdog and now >= next_ping and self._healthy():
                    systemd.notify("WATCHDOG=1")
                    next_ping = now + watchdog / 2
                if all(p.finished for p in self.pipelines.values()):
                    break
        finally:
            systemd.notify("STOPPING=1")
            self._close()
        return 0

    def _close(self) -> None:
        for pipeline in self.pipelines.values():
            pipeline.stop(STOP_TIMEOUT_S)
            stats = pipeline.stats
            log.info("pipeline %s: %d results at %.1f fps, %d errors, %d frames dropped", pipeline.name,
                     stats.results, stats.overall_fps(), stats.errors, pipeline.source.dropped)
        for sink in self.sinks:
            try:
                sink.close(FLUSH_TIMEOUT_S)
            except Exception:
                log.exception("closing %s failed", type(sink).__name__)
