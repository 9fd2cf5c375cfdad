"""Video files: every frame in order as fast as possible (STREAM), or paced to the file's frame
rate like a camera (LATEST); either may start again at the end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from edgetm.capture.base import EndOfStream, Frame, LiveOptions, Source
from edgetm.capture.live import LiveSource
from edgetm.errors import SourceError
from edgetm.plugins import LocalPath

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpeg", ".mjpg", ".mpg", ".mpeg", ".wmv",
                  ".h264", ".ts")
# Files that do not state their frame rate play at this one when paced.
DEFAULT_FPS = 30.0


class VideoOptions(LiveOptions):
    type: Literal["video"] = "video"
    path: LocalPath = Field(description="video file")
    realtime: bool = Field(False, description="pace to the file's frame rate, dropping frames inference misses; "
                           "otherwise every frame, as fast as possible")
    loop: bool = Field(False, description="start again at the end (frame numbers keep counting)")

    def open(self) -> Source:
        return PacedVideo(self) if self.realtime else VideoFile(self)


def _open_file(path: str):
    import cv2

    if not Path(path).is_file():
        raise SourceError(f"video file {path} does not exist")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"{path} is not a video OpenCV can decode")
    return capture


class VideoFile(Source):
    """Every frame of a file, in order, decoded when asked for."""

    def __init__(self, options: VideoOptions) -> None:
        self.name = options.path
        self.options = options
        self._capture = _open_file(options.path)
        self._count = 0
        self._count_at_open = 0

    def read(self, timeout_s: float) -> Frame | None:
        if self._capture is None:
            raise EndOfStream
        ok, image = self._capture.read()
        if (not ok or image is None) and self.options.loop and self._count > self._count_at_open:
            self._capture.release()
            self._capture = _open_file(self.options.path)
            self._count_at_open = self._count
            ok, image = self._capture.read()
        if not ok or image is None:
            self.stop()
            raise EndOfStream
        frame = Frame(image=image, index=self._count, captured=time.monotonic(), wall=time.time())
        self._count += 1
        return frame

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class PacedVideo(LiveSource):
    """A file played like a camera at its own frame rate; frames inference misses are dropped."""

    def __init__(self, options: VideoOptions) -> None:
        super().__init__(options.path, options.backoff(), options.stale_after_s)
        self.options = options
        _open_file(options.path).release()  # fail now, clearly, if the file is not there
        self._next_at = 0.0

    def _open(self):
        import cv2

        capture = _open_file(self.options.path)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._interval = 1.0 / fps if 0 < fps < 1000 else 1.0 / DEFAULT_FPS
        self._next_at = time.monotonic()
        return capture

    def _grab(self, capture) -> np.ndarray | None:
        ok, image = capture.read()
        if not ok or image is None:
            if self.options.loop:
                return None  # reopen from the start
            raise EndOfStream
        self._next_at += self._interval
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return image

    def _close(self, capture) -> None:
        capture.release()
