"""Cutting a stream of samples into overlapping windows, and the level of a block.

A window is ``length`` samples and a new one starts every ``hop`` samples (``hop = length x
(1 - overlap)``, so an overlap of 0.5 starts a window every half window, as Teachable Machine's
browser and its Raspberry Pi example do). Each window carries the index of its first sample in
the stream, so its time is exact whatever the block sizes were. At the end of a stream, samples
after the last window can go into one final window padded with zeros, or be dropped.
"""

from __future__ import annotations

import math

import numpy as np

# The level of digital silence: a floor, so that an all-zero block has a number.
SILENCE_DBFS = -120.0


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS, a sine -3)."""
    if samples.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


def hop_for(length: int, overlap: float) -> int:
    return max(1, round(length * (1.0 - overlap)))


class Windows:
    """Windows of ``length`` samples every ``hop`` samples of a stream fed in blocks.

    Samples go into one preallocated buffer; the part no window will need again is let go by moving
    what is left to the front, once the buffer is full, so each sample is copied about once.
    """

    def __init__(self, length: int, hop: int, start: int = 0) -> None:
        if length < 1 or hop < 1:
            raise ValueError("window length and hop must be at least one sample")
        self.length, self.hop = length, hop
        self._data = np.zeros(4 * length, np.float32)
        self._fill = 0
        self._buffer_start = start  # stream index of the buffer's first sample
        self._next = start  # stream index where the next window starts
        self._last_end: int | None = None

    @property
    def end(self) -> int:
        """Stream index just past the last sample fed."""
        return self._buffer_start + self._fill

    def _room(self, n: int) -> None:
        if self._fill + n <= len(self._data):
            return
        keep_from = min(self._next, self.end) - self._buffer_start
        live = self._fill - keep_from
        if live + n > len(self._data):
            grown = np.zeros(max(2 * len(self._data), live + n), np.float32)
            grown[:live] = self._data[keep_from:self._fill]
            self._data = grown
        else:
            self._data[:live] = self._data[keep_from:self._fill]
        self._buffer_start += keep_from
        self._fill = live

    def push(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Feed samples; the windows they complete, as (start index, samples)."""
        self._room(len(samples))
        self._data[self._fill:self._fill + len(samples)] = samples
        self._fill += len(samples)
        found = []
        while self._next + self.length <= self.end:
            offset = self._next - self._buffer_start
            found.append((self._next, self._data[offset:offset + self.length].copy()))
            self._last_end = self._next + self.length
            self._next += self.hop
        return found

    def finish(self, pad: bool) -> list[tuple[int, np.ndarray]]:
        """At the end of the stream: one last window padded with zeros, if ``pad`` and samples came
        after the end of the last window (or no window came at all)."""
        tail = self._data[max(self._next - self._buffer_start, 0):self._fill]
        if not pad or tail.size == 0 or (self._last_end is not None and self.end <= self._last_end):
            return []
        window = np.zeros(self.length, np.float32)
        window[:tail.size] = tail[:self.length]
        self._last_end = self._next + self.length
        return [(self._next, window)]
