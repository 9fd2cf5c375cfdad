"""The Raspberry Pi camera through picamera2 (Raspberry Pi OS: ``apt install python3-picamera2``)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from edgetm.capture.base import LiveOptions
from edgetm.capture.camera import MAX_FRAME_SIDE
from edgetm.capture.live import LiveSource
from edgetm.errors import missing_dependency
from edgetm.options import Field

# picamera2 waits forever for a frame unless told otherwise.
CAPTURE_TIMEOUT_S = 5.0


class Picamera2Options(LiveOptions):
    type: Literal["picamera2"] = "picamera2"
    camera: int = Field(0, ge=0, le=15, description="camera number")
    width: int = Field(640, ge=1, le=MAX_FRAME_SIDE)
    height: int = Field(480, ge=1, le=MAX_FRAME_SIDE)
    fps: float | None = Field(None, ge=0.1, le=1000, description="frame rate (default: the sensor mode's)")

    def open(self) -> Picamera2Source:
        return Picamera2Source(self)


class Picamera2Source(LiveSource):
    def __init__(self, config: Picamera2Options) -> None:
        super().__init__(f"picamera2:{config.camera}", config.backoff(), config.stale_after_s)
        self.config = config
        try:
            from picamera2 import Picamera2  # noqa: F401 - checked here so a missing module fails at start
        except ImportError:
            raise missing_dependency("picamera2", apt="python3-picamera2 (and a venv with "
                                     "--system-site-packages)") from None

    def _open(self):
        from picamera2 import Picamera2

        c = self.config
        camera = Picamera2(c.camera)
        # libcamera's "RGB888" is B, G, R in memory: what OpenCV calls BGR.
        controls = {"FrameRate": c.fps} if c.fps else {}
        camera.configure(camera.create_video_configuration(main={"size": (c.width, c.height), "format": "RGB888"},
                                                           controls=controls))
        camera.start()
        return camera

    def _grab(self, camera) -> np.ndarray | None:
        try:
            return camera.capture_array("main", wait=CAPTURE_TIMEOUT_S)
        except TimeoutError:
            return None

    def _close(self, camera) -> None:
        try:
            camera.stop()
        finally:
            camera.close()
