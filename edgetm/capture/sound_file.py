"""Sound files (``wav:clip.wav``, or any ``.wav`` / ``.flac`` / ``.ogg`` path) through libsndfile:
8, 16, 24 and 32-bit integer and float samples, any channels and rate. Every block in order, as
fast as they decode, or paced in real time like a microphone (``realtime``); either may start
again at the end (``loop``), the sample count running on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgetm.capture.base import Block, Delivery, EndOfStream, LiveOptions, Source
from edgetm.capture.live import LiveSource
from edgetm.errors import SourceError, missing_dependency
from edgetm.options import Field
from edgetm.plugins import LocalPath


class SoundFileOptions(LiveOptions):
    type: Literal["wav"] = "wav"
    path: LocalPath = Field(description="a sound file: WAV (8/16/24/32-bit integer or float), FLAC, Ogg")
    realtime: bool = Field(False, description="pace blocks to the file's rate, like a microphone; otherwise "
                           "every block as fast as it decodes")
    loop: bool = Field(False, description="start again at the end (sample times keep counting)")
    block_s: float = Field(0.1, gt=0.0, le=10.0, description="seconds of sound per block")

    @property
    def paced(self) -> bool:
        return self.realtime

    def open(self) -> Source:
        return PacedSoundFile(self) if self.realtime else SoundFile(self)


def _open(path: str):
    try:
        import soundfile
    except (ImportError, OSError):  # OSError: the package is there but libsndfile is not
        raise missing_dependency("soundfile", extra="audio") from None
    if not Path(path).is_file():
        raise SourceError(f"sound file {path} does not exist")
    try:
        return soundfile.SoundFile(path)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise SourceError(f"{path} is not a sound file edgetm can read ({error})") from None


class _Reader:
    """Blocks of a file, the sample count running on across loops."""

    def __init__(self, options: SoundFileOptions) -> None:
        self.options = options
        self.file = _open(options.path)
        self.rate = int(self.file.samplerate)
        self.frames = max(1, round(options.block_s * self.rate))
        self.position = 0  # samples read since the start, across loops

    def next(self) -> np.ndarray | None:
        data = self.file.read(self.frames, dtype="float32", always_2d=True)
        if not len(data) and self.options.loop and self.position > 0:
            self.file.seek(0)
            data = self.file.read(self.frames, dtype="float32", always_2d=True)
        if not len(data):
            return None
        self.position += len(data)
        return data

    def close(self) -> None:
        self.file.close()


class SoundFile(Source):
    """Every block of a file, read when asked for."""

    delivery = Delivery.STREAM
    item = Block

    def __init__(self, options: SoundFileOptions) -> None:
        self.name = options.path
        self._reader: _Reader | None = _Reader(options)
        self._count = 0

    def read(self, timeout_s: float) -> Block | None:
        reader = self._reader
        if reader is None:
            raise EndOfStream
        start = reader.position
        data = reader.next()
        if data is None:
            self.stop()
            raise EndOfStream
        block = Block(samples=data, rate=reader.rate, start=start, index=self._count, captured=time.monotonic(),
                      wall=time.time(), name=self.name)
        self._count += 1
        return block

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class PacedSoundFile(LiveSource):
    """A file played like a microphone: blocks at the pace of its own rate, every one delivered."""

    delivery = Delivery.STREAM
    item = Block

    def __init__(self, options: SoundFileOptions) -> None:
        super().__init__(options.path, options.backoff(), options.stale_after_s)
        self.options = options
        _open(options.path).close()  # fail now, clearly, if the file is not there
        self._next_at = 0.0
        self._reader: _Reader | None = None

    def _open(self) -> _Reader:
        self._reader = _Reader(self.options)
        self._next_at = time.monotonic()
        return self._reader

    def _grab(self, reader: _Reader) -> Any:
        start = reader.position
        data = reader.next()
        if data is None:
            raise EndOfStream
        self._next_at += len(data) / reader.rate
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return start, data

    def _item(self, data: Any, index: int, captured: float, wall: float) -> Block:
        start, samples = data
        return Block(samples=samples, rate=self._reader.rate, start=start, index=index,  # type: ignore[union-attr]
                     captured=captured, wall=wall, name=self.name)

    def _close(self, reader: _Reader) -> None:
        reader.close()
