"""Shared fixtures: the model zoo, and models built by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.broker import Broker

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
DEMO = ROOT / "models" / "banana"


@pytest.fixture(scope="session")
def zoo() -> Path:
    """The real-model zoo; tests using it skip, saying why, when it is absent."""
    if not (ZOO / "README.md").is_file():
        pytest.skip(f"model zoo not found at {ZOO} (set EDGETM_ZOO)")
    return ZOO


@pytest.fixture
def broker(tmp_path: Path):
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def write_video(path: Path, names: list[str], repeat: int = 10, fps: float = 30.0) -> Path:
    """An MJPEG .avi made of the demo samples, each shown ``repeat`` frames in a row."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    assert writer.isOpened()
    for name in names:
        image = cv2.imread(str(DEMO / "samples" / name))
        for _ in range(repeat):
            writer.write(image)
    writer.release()
    return path


@pytest.fixture
def banana_video(tmp_path: Path) -> Path:
    """Ripe for 15 frames, then unripe for 15."""
    return write_video(tmp_path / "bananas.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=15)


def solid_frames(count: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), i % 256, np.uint8) for i in range(count)]
