"""Video files: every frame in order as fast as possible, or paced to the file's frame rate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from edgetm.capture.base import EndOfStream, Frame, LiveOptions, LiveSource, Source
from edgetm.errors import SourceError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpeg", ".mjpg", ".mpg", ".mpeg", ".wmv",
                  ".h264", ".ts")
# Files that do not state their frame rate play at this one when paced.
DEFAULT_FPS = 30.0


class VideoConfig(LiveOptions):
    type: Literal["video"] = "video"
    path: str = Field(description="video file")
    realtime: bool = Field(False, description="pace to the file's frame rate, dropping frames inference misses; "
                           "otherwise every frame, as fast as possible")
    loop: bool = Field(False, description="start again at the end (realtime only)")


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
    """Every frame of a file, in order."""

    live = False

    def __init__(self, config: VideoConfig) -> None:
        self.name = config.path
        self._capture = _open_file(config.path)
        self._count = 0

    def read(self, timeout_s: float) -> Frame | None:
        if self._capture is None:
            raise EndOfStream
        ok, image = self._capture.read()
        if not ok or image is None:
            self.stop()
            raise EndOfStream
        frame = Frame(image, self._count, time.monotonic(), time.time())
        self._count += 1
        return frame

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class PacedVideo(LiveSource):
    """A file played like a camera at its own frame rate; frames inference misses are dropped."""

    def __init__(self, config: VideoConfig) -> None:
        super().__init__(config.path, config.backoff(), config.stale_after_s)
        self.config = config
        _open_file(config.path).release()  # fail now, clearly, if the file is not there
        self._next_at = 0.0

    def _open(self):
        import cv2

        capture = _open_file(self.config.path)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._interval = 1.0 / fps if 0 < fps < 1000 else 1.0 / DEFAULT_FPS
        self._next_at = time.monotonic()
        return capture

    def _grab(self, capture) -> np.ndarray | None:
        ok, image = capture.read()
        if not ok or image is None:
            if self.config.loop:
                return None  # reopen from the start
            raise EndOfStream
        self._next_at += self._interval
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return image

    def _close(self, capture) -> None:
        capture.release()


def open_video(config: VideoConfig) -> Source:
    return PacedVideo(config) if config.realtime else VideoFile(config)
