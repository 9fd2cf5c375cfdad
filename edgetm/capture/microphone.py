"""Microphones through PortAudio (sounddevice): ``mic``, ``mic:1``, ``mic:USB``.

The audio callback runs on PortAudio's real-time thread and only hands off: it copies the block
into a preallocated ring buffer, advances a sample counter and counts overflows from its status
flags; no allocation, no lock, no logging there. The capture thread takes whole blocks from the
ring. A microphone whose stream stops or sends nothing for ``STALL_S`` is reopened with the
usual backoff; one that sends only zeros for ``silent_after_s`` is reported ``silent``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np

from edgetm.capture.base import Block, Delivery, Item, LiveOptions
from edgetm.capture.live import LiveSource
from edgetm.errors import SourceError, missing_dependency
from edgetm.events import SourceState
from edgetm.options import Field

STALL_S = 2.0  # a stream that delivers nothing for this long (beyond a block) has stopped


class MicOptions(LiveOptions):
    type: Literal["mic"] = "mic"
    device: Annotated[int, Field(ge=0, le=1023)] | str | None = Field(None, description="input device: its index, "
                                                                     "or part of its name (default: the system's "
                                                                     "default input)")
    rate: int | None = Field(None, ge=1000, le=384_000, description="sample rate (default: the device's)")
    channels: int = Field(1, ge=1, le=32, description="channels to record; they are mixed to mono")
    block_s: float = Field(0.05, gt=0.0, le=2.0, description="seconds of sound per block")
    silent_after_s: float = Field(5.0, ge=0.1, le=3600, description="only zeros for this long: the microphone is "
                                  "silent")
    buffer_s: float = Field(4.0, gt=0.0, le=600.0, description="seconds the ring buffer holds: how far the "
                            "pipeline may fall behind the microphone before samples are lost")

    def open(self) -> MicSource:
        return MicSource(self)


def sounddevice():
    try:
        import sounddevice as sd
    except ImportError:
        raise missing_dependency("sounddevice", extra="audio") from None
    except OSError:  # the package is there but PortAudio is not
        raise missing_dependency("PortAudio", apt="libportaudio2") from None
    return sd


def input_devices() -> list[dict]:
    """Audio inputs: index, name, default rate, channels."""
    devices = sounddevice().query_devices()
    return [{"index": i, "name": d["name"], "default_rate": int(d["default_samplerate"]),
             "channels": int(d["max_input_channels"])} for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def find_device(wanted: int | str | None) -> dict:
    inputs = input_devices()
    if not inputs:
        raise SourceError("there is no audio input here", "plug in a microphone; edgetm devices lists what it sees")
    if wanted is None:
        default = sounddevice().default.device[0]
        return next((d for d in inputs if d["index"] == default), inputs[0])
    if isinstance(wanted, int) or str(wanted).isdigit():
        found = next((d for d in inputs if d["index"] == int(wanted)), None)
    else:
        found = next((d for d in inputs if str(wanted).lower() in d["name"].lower()), None)
    if found is None:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in inputs)
        raise SourceError(f"no audio input matches '{wanted}'", f"inputs here: {names}")
    return found


class MicSource(LiveSource):
    delivery = Delivery.STREAM
    item = Block

    def __init__(self, options: MicOptions) -> None:
        label = "" if options.device is None else f":{options.device}"
        super().__init__(f"mic{label}", options.backoff(), options.stale_after_s)
        self.options = options
        self.overflows = 0
        self._device = find_device(options.device)  # fails now, clearly, when there is no such input
        self.rate = options.rate or self._device["default_rate"]
        self.frames = max(1, round(options.block_s * self.rate))
        self._ring = np.zeros((max(round(options.buffer_s * self.rate), 2 * self.frames), options.channels),
                              np.float32)
        self._written = 0  # samples the callback has written, ever
        self._read = 0  # samples the capture thread has taken, ever
        self._zeros_since: float | None = None

    # -- PortAudio's thread: hand off and return ------------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        ring, start = self._ring, self._written % len(self._ring)
        first = min(frames, len(ring) - start)
        ring[start:start + first] = indata[:first]
        ring[:frames - first] = indata[first:]
        self._written += frames

    # -- the capture thread ---------------------------------------------------------------------
    def _open(self) -> Any:
        sd = sounddevice()
        self._device = find_device(self.options.device)
        stream = sd.InputStream(device=self._device["index"], channels=self.options.channels, samplerate=self.rate,
                                blocksize=self.frames, dtype="float32", callback=self._callback)
        self._read = self._written  # from the first sample of this stream on
        stream.start()
        return stream

    def _grab(self, stream) -> Any:
        deadline = time.monotonic() + STALL_S + self.options.block_s
        while self._written - self._read < self.frames:
            if not stream.active or time.monotonic() > deadline or self._stopping.is_set():
                return None  # unplugged, or stopped delivering: reopened with backoff
            time.sleep(self.options.block_s / 4)
        behind = self._written - self._read
        if behind > len(self._ring):  # fell a whole ring behind: those samples are gone
            self.dropped += 1
            self._read = self._written - len(self._ring) + self.frames
        start = self._read % len(self._ring)
        first = min(self.frames, len(self._ring) - start)
        samples = np.concatenate([self._ring[start:start + first], self._ring[:self.frames - first]])
        block_start = self._read
        self._read += self.frames
        return block_start, samples

    def _item(self, data: Any, index: int, captured: float, wall: float) -> Item:
        start, samples = data
        return Block(samples=samples, rate=self.rate, start=start, index=index, captured=captured, wall=wall)

    def _state_for(self, item: Item) -> SourceState:
        if np.any(item.samples):  # type: ignore[attr-defined]
            self._zeros_since = None
            return SourceState.ONLINE
        now = time.monotonic()
        self._zeros_since = self._zeros_since or now
        silent = now - self._zeros_since >= self.options.silent_after_s
        return SourceState.SILENT if silent else self._state if self._state is not SourceState.OFFLINE \
            else SourceState.ONLINE

    def _close(self, stream) -> None:
        try:
            stream.stop()
        finally:
            stream.close()
