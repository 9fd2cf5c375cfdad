"""The sound of a network stream or a video file, decoded by an ffmpeg child process:
``audio:rtsp://camera/stream``, ``audio:clip.mp4``.

ffmpeg decodes to mono float samples at the rate the model takes (the pipeline says which before
it starts), so nothing needs resampling. A stream that ends or breaks is reopened with backoff;
a file ends (or starts again, with ``loop``).
"""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgetm.capture.base import Block, Delivery, EndOfStream, Item
from edgetm.capture.live import LiveSource
from edgetm.capture.network import UrlOptions
from edgetm.errors import SourceError
from edgetm.options import Field
from edgetm.plugins import LocalPath
from edgetm.secrets import read_secret, redact, with_password

DEFAULT_RATE = 16000  # until the pipeline says what its model takes
READ_TIMEOUT_S = 5.0  # a stream that sends nothing for this long is reopened
STDERR_BYTES = 4096  # the last of ffmpeg's complaints kept, to say why it stopped


class FfmpegAudioOptions(UrlOptions):
    type: Literal["audio"] = "audio"
    url: LocalPath = Field(description="rtsp://user@camera/stream, a video or sound file: what ffmpeg can open")
    rate: int | None = Field(None, ge=1000, le=384_000, description="decode at this rate (default: the model's)")
    realtime: bool = Field(False, description="files: read at their own pace, like a stream (ffmpeg -re)")
    loop: bool = Field(False, description="files: start again at the end")
    block_s: float = Field(0.1, gt=0.0, le=10.0, description="seconds of sound per block")

    @property
    def paced(self) -> bool:
        return self.realtime or "://" in self.url  # a stream comes at its own pace; a file as fast as it decodes

    def open(self) -> FfmpegAudio:
        return FfmpegAudio(self)


class FfmpegAudio(LiveSource):
    delivery = Delivery.STREAM
    item = Block

    def __init__(self, options: FfmpegAudioOptions) -> None:
        super().__init__(f"audio:{redact(options.url)}", options.backoff(), options.stale_after_s)
        import shutil  # this module's imports are made when an ffmpeg source is used, not when registered

        self.options = options
        self.program = shutil.which("ffmpeg")
        if self.program is None:
            raise SourceError("audio: sources are decoded by the ffmpeg program, which is not installed",
                              "install it with: sudo apt install ffmpeg")
        self._password = read_secret(options.password_env, options.password_file, f"audio {options.url}")
        self.rate = options.rate or DEFAULT_RATE
        self._position = 0
        self._file = "://" not in options.url
        if self._file and not Path(options.url).is_file():
            raise SourceError(f"{options.url} does not exist", "give a video or sound file, or a stream's URL")

    def prefer(self, rate: int | None = None) -> None:
        if rate and self.options.rate is None:
            self.rate = rate

    def _open(self) -> Any:
        import subprocess

        command = [self.program, "-nostdin", "-hide_banner", "-loglevel", "error"]
        if self.options.realtime:
            command.append("-re")
        if self.options.loop and self._file:
            command += ["-stream_loop", "-1"]
        command += ["-i", with_password(self.options.url, self._password), "-vn", "-ac", "1", "-ar", str(self.rate),
                    "-f", "f32le", "-"]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                   stderr=subprocess.PIPE)
        process.errors = b""  # type: ignore[attr-defined]
        threading.Thread(target=self._collect_errors, args=(process,), daemon=True,
                         name=f"edgetm-ffmpeg-{self.name}").start()
        return process

    @staticmethod
    def _collect_errors(process) -> None:
        for line in process.stderr:
            process.errors = (process.errors + line)[-STDERR_BYTES:]

    def _grab(self, process) -> Any:
        import subprocess

        wanted = max(1, round(self.options.block_s * self.rate)) * 4
        data = b""
        ended = False
        deadline = time.monotonic() + READ_TIMEOUT_S
        descriptor = process.stdout.fileno()
        while len(data) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
                break  # nothing for READ_TIMEOUT_S: what came is delivered, the stream is reopened next
            chunk = os.read(descriptor, wanted - len(data))
            if not chunk:
                ended = True  # ffmpeg closed its output: the file (or the stream) is over
                break
            data += chunk
        usable = len(data) // 4 * 4
        if usable:
            samples = np.frombuffer(data[:usable], np.float32).reshape(-1, 1)
            start = self._position
            self._position += len(samples)
            return start, samples
        if ended and self._file:
            try:
                process.wait(READ_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
            if process.returncode not in (0, None):
                complaint = process.errors.decode(errors="replace").strip().splitlines()
                self.problem = (f"ffmpeg could not read {self.options.url}: "
                                f"{complaint[-1] if complaint else f'exit status {process.returncode}'}")
            raise EndOfStream  # a file ends once; -stream_loop does the looping inside ffmpeg
        return None  # a stream that broke off or went quiet: reopened with backoff

    def _item(self, data: Any, index: int, captured: float, wall: float) -> Item:
        start, samples = data
        return Block(samples=samples, rate=self.rate, start=start, index=index, captured=captured, wall=wall)

    def _close(self, process) -> None:
        process.kill()
        process.wait(2)
