"""Video files: every frame in order as fast as possible (STREAM), or paced to the file's frame
rate like a camera (LATEST); either may start again at the end, in place. A file that opens but
has no frame to decode is refused when the source is made."""


import time
from pathlib import Path
from typing import Literal

import numpy as np

from edgetm.capture.base import EndOfStream, Frame, LiveOptions, Progress, Source
from edgetm.capture.live import LiveSource
from edgetm.errors import SourceError
from edgetm.options import Field
from edgetm.plugins import LocalPath

# Files that do not state their frame rate play at this one when paced.
DEFAULT_FPS = 30.0


class VideoOptions(LiveOptions):
    type: Literal["video"] = "video"
    path: LocalPath = Field(description="video file")
    realtime: bool = Field(False, description="pace to the file's frame rate, dropping frames inference misses; "
                           "otherwise every frame, as fast as possible")
    loop: bool = Field(False, description="start again at the end (frame numbers keep counting)")

    @property
    def paced(self) -> bool:
        return self.realtime

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


class _Frames:
    """A file's frames in order; with ``loop``, the file is opened again at its end, in place: no
    state change, no backoff, and the next frame as soon as the last (opening a file again takes
    about 2 ms here, and behaves the same for every container, which seeking back does not)."""

    def __init__(self, path: str, loop: bool) -> None:
        self.path = path
        self.loop = loop
        self.capture = _open_file(path)
        self._since_open = 0
        self._first = self._read()  # a file that opens but has nothing to decode fails here, at once
        if self._first is None:
            self.release()
            raise SourceError(f"{path} has no frame OpenCV can decode")

    def _read(self) -> np.ndarray | None:
        ok, image = self.capture.read()
        if not ok or image is None:
            return None
        self._since_open += 1
        return image

    def next(self) -> np.ndarray | None:
        """The next frame; None at the end (with ``loop``: only if the file has none any more)."""
        if self._first is not None:
            image, self._first = self._first, None
            return image
        image = self._read()
        if image is None and self.loop and self._since_open:
            self.capture.release()
            self.capture = _open_file(self.path)
            self._since_open = 0
            image = self._read()
        return image

    @property
    def frame_count(self) -> int | None:
        """The frames the container says it holds (None where it does not say)."""
        import cv2

        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return count if count > 0 else None

    @property
    def fps(self) -> float:
        import cv2

        fps = self.capture.get(cv2.CAP_PROP_FPS)
        return fps if 0 < fps < 1000 else DEFAULT_FPS

    def ended_problem(self) -> str | None:
        """Why the file ended, if it is no ordinary end: it gave nothing after being opened again."""
        return f"{self.path} has no frame OpenCV can decode any more" if self.loop else None

    def release(self) -> None:
        self.capture.release()


class VideoFile(Source):
    """Every frame of a file, in order, decoded when asked for."""

    def __init__(self, options: VideoOptions) -> None:
        self.name = options.path
        self.options = options
        self._frames: _Frames | None = _Frames(options.path, options.loop)
        self._count = 0
        self._total = None if options.loop else self._frames.frame_count

    def progress(self) -> Progress | None:
        # A container's count can be short of the frames decoded: never show more done than in all.
        return Progress(self._count, max(self._count, self._total), "frames") if self._total else None

    def read(self, timeout_s: float) -> Frame | None:
        if self._frames is None:
            raise EndOfStream
        try:
            image = self._frames.next()
            self.problem = None if image is not None else self._frames.ended_problem()
        except SourceError as error:  # gone while looping: what was read is all there is
            image, self.problem = None, str(error)
        if image is None:
            self.stop()
            raise EndOfStream
        frame = Frame(image=image, index=self._count, captured=time.monotonic(), wall=time.time())
        self._count += 1
        return frame

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._frames is not None:
            self._frames.release()
            self._frames = None


class PacedVideo(LiveSource):
    """A file played like a camera at its own frame rate; frames inference misses are dropped."""

    def __init__(self, options: VideoOptions) -> None:
        super().__init__(options.path, options.backoff(), options.stale_after_s)
        self.options = options
        _Frames(options.path, loop=False).release()  # fail now, clearly, if the file is not there or is no video
        self._next_at = 0.0
        self._interval = 1.0 / DEFAULT_FPS

    def _open(self) -> _Frames:
        frames = _Frames(self.options.path, self.options.loop)
        self._interval = 1.0 / frames.fps
        self._next_at = time.monotonic()
        return frames

    def _grab(self, frames: _Frames) -> np.ndarray | None:
        image = frames.next()
        if image is None:
            self.problem = frames.ended_problem()
            raise EndOfStream
        # Paced from when the file was opened, not from the previous frame: a late frame does not
        # delay the rest, and the first frame of the next loop comes one interval after the last.
        self._next_at += self._interval
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return image

    def _close(self, frames: _Frames) -> None:
        frames.release()
