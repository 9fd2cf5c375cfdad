"""A camera faked at the OpenCV boundary (``cv2.VideoCapture``), with the faults real ones have."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import pytest


class FakeCamera:
    """A camera whose faults a test switches on while it runs.

    ``plugged = False``: opening fails and so do reads (unplugged); ``stopped``: it opens but every
    read fails (a driver that gave up, a stream that ended); ``block_s``: each read blocks that long
    (a stall); ``size``: the (width, height) of the next frames; ``garbage``: what reads return in
    place of a frame. ``open_times`` holds the ``time.monotonic()`` of every attempt to open it.
    """

    def __init__(self, frame_interval_s: float = 0.005) -> None:
        self.plugged = True
        self.stopped = False
        self.interval = frame_interval_s
        self.block_s = 0.0
        self.size = (64, 48)
        self.garbage: Callable[[], object] | None = None
        self.count = 0
        self.settings: dict[int, float] = {}
        self.open_times: list[float] = []
        self._lock = threading.Lock()

    @property
    def opens(self) -> int:
        return len(self.open_times)

    def capture(self, device, backend=None, params=None):
        camera = self

        class Capture:
            def __init__(self) -> None:
                camera.open_times.append(time.monotonic())
                self.opened = camera.plugged

            def isOpened(self) -> bool:
                return self.opened

            def set(self, prop, value) -> bool:
                camera.settings[prop] = value
                return True

            def get(self, prop) -> float:
                return 0.0

            def read(self):
                time.sleep(camera.block_s or camera.interval)
                if not camera.plugged or camera.stopped or not self.opened:
                    return False, None
                with camera._lock:
                    camera.count += 1
                    count = camera.count
                if camera.garbage is not None:
                    return True, camera.garbage()
                width, height = camera.size
                return True, np.full((height, width, 3), count % 256, np.uint8)

            def release(self) -> None:
                self.opened = False

        return Capture()


def install(monkeypatch: pytest.MonkeyPatch, frame_interval_s: float = 0.005) -> FakeCamera:
    """A fake camera in place of ``cv2.VideoCapture`` for one test."""
    fake = FakeCamera(frame_interval_s)
    monkeypatch.setattr(cv2, "VideoCapture", fake.capture)
    return fake


def wait_until(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)


class NoCamera:
    """cv2.VideoCapture for a camera that is not there."""

    def __init__(self, *args) -> None:
        pass

    def isOpened(self) -> bool:  # OpenCV's name
        return False

    def release(self) -> None:
        pass
