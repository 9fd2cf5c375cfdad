"""Choosing a task for a model, and what each task publishes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetm.capture import Frame
from edgetm.errors import ConfigError
from edgetm.events import EntityKind
from edgetm.model import load_model
from edgetm.tasks import StageOptions, build_task, choose
from edgetm.tasks.smoothing import SmoothingOptions
from edgetm.vision.classify import ClassifyOptions
from edgetm.vision.detect import DetectOptions
from tests.conftest import DEMO
from tests.modelkit import constant_output_onnx, write
from tests.vision.test_detect import NAMES, OBJECTS, v8_raw


def frame(index: int = 0) -> Frame:
    return Frame(image=np.full((240, 320, 3), 90, np.uint8), index=index, captured=0.0, wall=0.0)


@pytest.fixture
def detector(tmp_path: Path):
    return load_model(write(tmp_path, "v8.onnx", constant_output_onnx(v8_raw(OBJECTS), names=NAMES)))


def test_the_model_chooses_its_task(detector):
    banana = load_model(DEMO)
    assert isinstance(choose(banana), ClassifyOptions)
    assert isinstance(choose(detector), DetectOptions)
    assert choose(detector, "auto", {"classify": None, "detect": DetectOptions(conf=0.5)}).conf == 0.5
    with pytest.raises(ConfigError, match=r"classify options are given, but .* runs as a detect task"):
        choose(detector, "auto", {"classify": ClassifyOptions(), "detect": None})
    with pytest.raises(ConfigError, match="no task named 'segment'"):
        choose(banana, "segment")
    with pytest.raises(ConfigError, match="not a pose model edgetm knows"):
        build_task(banana, choose(banana, "pose"))


def test_a_classifier_publishes_its_smoothed_label():
    task = build_task(load_model(DEMO), ClassifyOptions(top_k=2), StageOptions(smoothing=SmoothingOptions(k=2)))
    [entity] = task.entities()
    assert entity.key == "label" and entity.kind is EntityKind.LABEL
    assert entity.options == ("Unripe", "Ripe", "Overripe", "No banana", "none")
    changes = []
    for n in range(3):
        tracked = task.track(task.probe(frame(n)), frame(n))
        changes += tracked.changes
        assert len(tracked.result.top) == 2  # the result keeps top_k; smoothing saw more
    assert [(c.key, c.retain) for c in changes] == [("label", True)]
    assert task.retained() == {"label": changes[0].payload}
    task.threshold = 0.9
    assert task.tracker.smoother.threshold == 0.9


def test_a_detectors_threshold_is_its_confidence(detector):
    task = build_task(detector, DetectOptions(classes=("dog", "cat")))
    assert [(e.key, e.kind) for e in task.entities()] == [("count/dog", EntityKind.COUNT),
                                                         ("count/cat", EntityKind.COUNT)]
    found = task.probe(frame())
    assert [d.label for d in found.detections] == ["cat", "dog"]  # 0.7 and 0.6
    task.threshold = 0.65
    found = task.probe(frame())
    assert [d.label for d in found.detections] == ["cat"]  # the dog is under the new confidence
    with pytest.raises(ConfigError, match=r"a detector's threshold is detect\.conf"):
        build_task(detector, DetectOptions(), StageOptions(smoothing=SmoothingOptions(threshold=0.5)))
