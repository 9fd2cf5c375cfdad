"""Plugins from outside edgetm: a task, a STREAM source and sinks defined here, registered, and run
through `edgetm run`'s service against a real mosquitto, without touching edgetm/."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pytest

from edgetm.capture import SOURCES, Block, Delivery, EndOfStream, LiveSource, SourceOptions
from edgetm.model.model import Model
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.publish import SINKS, Sink, SinkContext, SinkOptions
from edgetm.tasks import TASKS, StageOptions, Tracked, Unit
from edgetm.tasks.labels import LabelTask, LabelTracker
from tests.broker import Probe
from tests.conftest import DEMO
from tests.runtime.service_helpers import mqtt_sink, running

BASE = "edgetm/testdev"
RATE = 16000
BLOCK = 1600  # 0.1 s of sound per block


# -- a source of sound blocks: loud and quiet stretches of a tone -------------------------------------
class ToneOptions(SourceOptions):
    type: Literal["tone"] = "tone"
    blocks: int = Field(60, ge=1, le=100_000)
    loud_every: int = Field(20, ge=1, le=100_000, description="blocks per loud or quiet stretch")


class ToneSource(LiveSource):
    delivery = Delivery.STREAM
    item = Block

    def __init__(self, options: ToneOptions) -> None:
        super().__init__("tone")
        self.options = options
        self._sent = 0

    def _open(self):
        return self

    def _grab(self, handle):
        if self._sent >= self.options.blocks:
            raise EndOfStream
        time.sleep(0.002)  # a device delivers blocks on its own clock
        loud = (self._sent // self.options.loud_every) % 2 == 1
        t = (np.arange(BLOCK) + self._sent * BLOCK) / RATE
        self._sent += 1
        return (np.sin(2 * np.pi * 440 * t) * (0.5 if loud else 0.001)).astype(np.float32)[:, None]

    def _item(self, data, index, captured, wall):
        return Block(samples=data, rate=RATE, start=index * BLOCK, index=index, captured=captured, wall=wall)


ToneOptions.open = lambda self: ToneSource(self)  # type: ignore[method-assign]


# -- a task: the level of each block, from a model that computes its mean square ----------------------
class LevelOptions(Options):
    type: Literal["level"] = "level"
    loud_dbfs: float = Field(-20.0, ge=-200, le=0, description="louder than this is loud")


@dataclass
class Level:
    dbfs: float
    latency_ms: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"dbfs": round(self.dbfs, 2), "latency_ms": self.latency_ms}


class LevelTask(LabelTask):
    Options = LevelOptions
    accepts = Block

    def __init__(self, model: Model, options: LevelOptions, stages: StageOptions) -> None:
        super().__init__(model, options, stages)
        self.tracker = LabelTracker(["quiet", "loud"], stages.smoothing)

    def prepare(self, item: Block) -> list[Unit]:
        return [Unit(item, item.samples[:, 0].reshape(1, -1))]

    def infer(self, prepared, item: Block) -> Level:
        start = time.perf_counter()
        mean_square = float(self.model.run(prepared)[0].reshape(-1)[0])
        return Level(10 * np.log10(max(mean_square * 2, 1e-12)), {"inference": (time.perf_counter() - start) * 1e3})

    def track(self, result: Level, item: Block) -> Tracked:
        loud = result.dbfs > self.options.loud_dbfs
        state, changes = self.tracker.update({"loud": float(loud), "quiet": float(not loud)})
        return Tracked(result, state, changes)


def mean_square_onnx(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["samples", "samples"], ["square"]),
         helper.make_node("ReduceMean", ["square"], ["mean_square"], keepdims=1)],
        "mean_square",
        [helper.make_tensor_value_info("samples", TensorProto.FLOAT, [1, BLOCK])],
        [helper.make_tensor_value_info("mean_square", TensorProto.FLOAT, [1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.fixture
def plugins():
    SOURCES.register(ToneOptions)
    TASKS.register(LevelTask)
    yield
    SOURCES.unregister("tone")
    TASKS.unregister("level")


def test_a_task_and_a_stream_source_from_outside(broker, tmp_path: Path, plugins):
    model = mean_square_onnx(tmp_path / "level.onnx")
    config = {
        "device_id": "testdev",
        "pipelines": [{"name": "hum", "model": str(model), "task": "level", "level": {"loud_dbfs": -12},
                       "source": {"type": "tone", "blocks": 60}, "smoothing": {"k": 2}}],
        "sinks": [mqtt_sink(broker, homeassistant={"enabled": True})],
    }
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    with running(config) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/hum/result")) >= 60, 30)
        probe.wait_for(lambda m: probe.on("homeassistant/device/edgetm_testdev_hum/config"))
        assert service.pipelines["hum"].source.dropped == 0
    results = probe.json(f"{BASE}/hum/result")
    assert [r["frame"] for r in results] == list(range(60))  # every block, in order, once
    assert [r["dbfs"] > -12 for r in results] == [False] * 20 + [True] * 20 + [False] * 20
    assert [p.decode() for p in probe.on(f"{BASE}/hum/label")] == ["quiet", "loud", "quiet"]
    announcement = probe.json("homeassistant/device/edgetm_testdev_hum/config")[0]["components"]["edgetm_testdev_hum"]
    assert announcement["state_topic"] == f"{BASE}/hum/label"
    assert announcement["options"] == ["quiet", "loud", "none"]
    probe.close()


def test_a_task_that_cannot_take_the_sources_items_is_refused(tmp_path: Path, plugins):
    from edgetm.config import parse_config
    from edgetm.errors import ConfigError
    from edgetm.publish import Sinks
    from edgetm.runtime.pipeline import build_pipeline

    config = parse_config({"pipelines": [{"model": str(DEMO), "source": {"type": "tone"}}]})
    with pytest.raises(ConfigError, match="the classify task takes frames, but tone gives blocks"):
        build_pipeline(config.pipelines[0], Sinks())


# -- sinks from outside: one that wants frames and is slow, one that always fails ---------------------
class SlowFrames(Sink):
    wants_frames = True

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.results = 0

    def result(self, observation) -> None:
        self.results += 1

    def frame(self, observation, item) -> None:
        self.frames.append(item.index)
        time.sleep(0.1)  # a preview encoding JPEGs on a small board


class SlowFramesOptions(SinkOptions):
    type: Literal["slow-frames"] = "slow-frames"
    made: ClassVar[list[SlowFrames]] = []

    def open(self, context: SinkContext) -> Sink:
        sink = SlowFrames()
        self.made.append(sink)
        return sink


class Broken(Sink):
    def __getattribute__(self, name: str):
        if name in ("wants_frames", "__class__"):
            return object.__getattribute__(self, name)
        raise RuntimeError(f"broken sink: {name}")

    def result(self, observation) -> None:  # pragma: no cover - never reached
        raise RuntimeError


class BrokenOptions(SinkOptions):
    type: Literal["broken"] = "broken"

    def open(self, context: SinkContext) -> Sink:
        return Broken()


@pytest.fixture
def sinks():
    SINKS.register(SlowFramesOptions)
    SINKS.register(BrokenOptions)
    yield
    SINKS.unregister("slow-frames")
    SINKS.unregister("broken")


def test_a_slow_frame_sink_never_slows_the_loop(banana_video: Path, sinks):
    """30 frames as fast as they decode; the sink takes 0.1 s per frame. It sees the newest frame
    whenever it is free; the others are dropped and counted, and the pipeline does not wait."""
    config = {"pipelines": [{"model": str(DEMO), "source": {"type": "video", "path": str(banana_video)}}],
              "sinks": [{"type": "slow-frames"}]}
    started = time.monotonic()
    with running(config) as service:
        while not service.pipelines or not service.pipelines["default"].finished:
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        feeds = service.sinks
    sink = SlowFramesOptions.made[-1]
    assert sink.results == 30
    assert elapsed < 1.5  # 30 frames x 0.1 s would be 3 s if the loop waited
    assert 1 <= len(sink.frames) < 30 and sink.frames == sorted(sink.frames)
    assert feeds.frames_dropped >= 30 - len(sink.frames) - 1


def test_a_failing_sink_is_isolated_and_counted(broker, banana_video: Path, sinks):
    from tests.runtime.service_helpers import looping_video

    config = {"device_id": "testdev", "stats_interval_s": 1,
              "pipelines": [{"name": "bananas", "model": str(DEMO), "source": looping_video(banana_video)}],
              "sinks": [{"type": "broken"}, mqtt_sink(broker)]}
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(config) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 10)
        probe.wait_for(lambda m: probe.on(f"{BASE}/bananas/label"))
        probe.publish(f"{BASE}/bananas/set", b"not json")  # the error reaches MQTT past the broken sink
        probe.wait_for(lambda m: probe.json(f"{BASE}/error"))
        stats = probe.wait_for(lambda m: probe.json(f"{BASE}/stats"))[-1]
        assert stats["sink_failures"]["Broken"] > 10
        assert not service.stop_requested.is_set()
    probe.close()


def test_sinks_are_fed_from_one_thread_per_frame_sink():
    """The hand-off itself: offering a frame returns at once, whatever the sink is doing."""
    from edgetm.publish import Sinks

    slow = SlowFrames()
    fanout = Sinks([slow])
    gate = threading.Event()
    start = time.monotonic()
    for index in range(100):
        fanout.frame(None, type("Item", (), {"index": index})())  # type: ignore[arg-type]
    assert time.monotonic() - start < 0.05
    gate.wait(0.25)
    fanout.close(0.5)
    assert slow.frames[-1] == 99 and len(slow.frames) <= 4  # the newest, and few of the rest
    assert fanout.frames_dropped == 100 - len(slow.frames)
