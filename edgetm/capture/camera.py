"""USB and CSI cameras through OpenCV's V4L2 backend: ``camera:0``, ``/dev/video0``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import numpy as np

from edgetm.capture.base import LiveOptions
from edgetm.capture.live import LiveSource
from edgetm.options import Field

# Linux numbers video devices /dev/video0 to /dev/video255.
MAX_VIDEO_DEVICE = 255
# Wider than the largest camera sensors (64 MP: 9152x6944).
MAX_FRAME_SIDE = 16384
# Where V4L2 devices appear (a test points it elsewhere).
DEV = Path("/dev")
PICAMERA_HINT = "a Raspberry Pi camera module (CSI ribbon) is source picamera2"


def video_devices(dev: Path | None = None) -> list[Path]:
    """The /dev/video* devices there are, in numeric order."""
    found = (dev or DEV).glob("video*")
    return sorted((p for p in found if p.name[5:].isdigit()), key=lambda p: int(p.name[5:]))


def no_device_message(device: Path) -> str:
    """What to say when ``device`` is not there: the devices that are, and picamera2."""
    there = video_devices()
    if not there:
        return f"there is no {device}, nor any other {DEV}/video* device: plug in a USB camera; {PICAMERA_HINT}"
    names = ", ".join(p.name if n else str(p) for n, p in enumerate(there))
    sources = ", ".join(f"camera:{p.name[5:]}" for p in there)
    return f"there is no {device}; there are {names} ({sources}); {PICAMERA_HINT}"


class CameraOptions(LiveOptions):
    type: Literal["camera"] = "camera"
    device: Annotated[int, Field(ge=0, le=MAX_VIDEO_DEVICE)] | str = Field(0, description="index (0) or device "
                                                                          "path (/dev/video0)")
    width: int | None = Field(640, ge=1, le=MAX_FRAME_SIDE, description="requested frame width; the driver may "
                              "pick the nearest")
    height: int | None = Field(480, ge=1, le=MAX_FRAME_SIDE, description="requested frame height")
    fps: float | None = Field(None, ge=0.1, le=1000, description="requested frame rate")
    fourcc: str | None = Field(None, min_length=4, max_length=4,
                               description="pixel format, e.g. MJPG for higher rates over USB 2")

    def open(self) -> CameraSource:
        return CameraSource(self)


class OpenCVSource(LiveSource):
    """A live source read through ``cv2.VideoCapture``; subclasses open it."""

    def _grab(self, capture) -> np.ndarray | None:
        ok, image = capture.read()
        return image if ok and image is not None else None  # (True, None) is a failed read too

    def _close(self, capture) -> None:
        capture.release()


class CameraSource(OpenCVSource):
    def __init__(self, config: CameraOptions) -> None:
        super().__init__(f"camera:{config.device}", config.backoff(), config.stale_after_s)
        self.config = config

    def _open(self):
        import cv2

        # V4L2 directly on Linux: the default backend probing can pick GStreamer and hang.
        linux = sys.platform.startswith("linux")
        capture = cv2.VideoCapture(self.config.device, cv2.CAP_V4L2 if linux else cv2.CAP_ANY)
        if not capture.isOpened():
            capture.release()
            device = Path(self.config.device if isinstance(self.config.device, str) else
                          DEV / f"video{self.config.device}")
            if linux and not device.exists():
                raise OSError(no_device_message(device))
            raise OSError("OpenCV cannot open it: in use by another program, or no permission (on Linux: is "
                          "this user in the video group?)")
        c = self.config
        if c.fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*c.fourcc))
        if c.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, c.width)
        if c.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, c.height)
        if c.fps:
            capture.set(cv2.CAP_PROP_FPS, c.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's queue adds latency; we keep only the newest
        # V4L2 reads wait at most 10 s for a frame (OpenCV's select timeout), then fail.
        return capture
