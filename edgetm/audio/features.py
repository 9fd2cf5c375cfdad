"""A log-mel spectrogram front-end in numpy, for sound models that take one rather than raw samples,
and as the built-in sound features head retraining uses.

The defaults are YAMNet's (and VGGish's) documented front-end: 16 kHz mono, 25 ms periodic Hann
windows every 10 ms, a 512-point FFT magnitude, 64 mel bands (HTK mel scale) from 125 to 7500 Hz,
and log(mel + 0.001).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edgetm.options import Field
from edgetm.plugins import Options


class LogMelOptions(Options):
    window_ms: float = Field(25.0, gt=0, le=1000, description="analysis window")
    hop_ms: float = Field(10.0, gt=0, le=1000, description="time between frames")
    n_fft: int | None = Field(None, ge=16, le=65536, description="FFT size (default: the window rounded up to a "
                              "power of two)")
    mels: int = Field(64, ge=1, le=512, description="mel bands (default: from the model's input)")
    # Band edges up to half the highest sample rate edgetm takes (384 kHz).
    fmin_hz: float = Field(125.0, ge=0, le=192_000, description="lowest band edge")
    fmax_hz: float = Field(7500.0, gt=0, le=192_000, description="highest band edge")
    log_offset: float = Field(0.001, gt=0, le=1000, description="added before the log, so silence stays finite")


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)


@lru_cache(maxsize=8)
def mel_matrix(rate: int, n_fft: int, mels: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """[n_fft // 2 + 1, mels] triangular HTK-mel filters over the FFT bins (as YAMNet builds them)."""
    bins = n_fft // 2 + 1
    hz = np.linspace(0.0, rate / 2.0, bins)
    mel = _hz_to_mel(hz)
    edges = np.linspace(_hz_to_mel(np.array(fmin_hz)), _hz_to_mel(np.array(min(fmax_hz, rate / 2.0))), mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (mel[:, None] - lower) / (centre - lower)
    falling = (upper - mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin carries no band
    return weights.astype(np.float32)


class LogMel:
    """Samples at ``rate`` -> [frames, mels] log-mel features."""

    def __init__(self, rate: int, options: LogMelOptions | None = None) -> None:
        self.options = options = options or LogMelOptions()
        self.rate = rate
        self.window = max(1, round(rate * options.window_ms / 1000.0))
        self.hop = max(1, round(rate * options.hop_ms / 1000.0))
        self.n_fft = options.n_fft or 1 << (self.window - 1).bit_length()
        # Periodic Hann, as tf.signal.hann_window(periodic=True).
        self._hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.window) / self.window)).astype(np.float32)
        self._mel = mel_matrix(rate, self.n_fft, options.mels, options.fmin_hz, options.fmax_hz)

    def samples_for(self, frames: int) -> int:
        """How many samples give ``frames`` frames."""
        return self.window + (frames - 1) * self.hop

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, np.float32)
        frames = 1 + max(0, (len(samples) - self.window) // self.hop)
        index = np.arange(self.window)[None, :] + self.hop * np.arange(frames)[:, None]
        framed = np.pad(samples, (0, max(0, index.max() + 1 - len(samples))))[index] * self._hann
        magnitude = np.abs(np.fft.rfft(framed, n=self.n_fft, axis=1)).astype(np.float32)
        return np.log(magnitude @ self._mel + self.options.log_offset).astype(np.float32)


# The built-in sound features (BuiltinFeatures.SOUND) ``edgetm train --base builtin`` trains on, and
# what runs in front of such a head afterwards (a head-only model whose metadata names them).
STATISTICS_RATE = 16000


class LogMelStatistics:
    """Samples at 16 kHz -> the mean and standard deviation of each of the 64 log-mel bands of
    ``LogMel``'s defaults (YAMNet's front-end) over the clip: 128 values."""

    size = 128
    rate = STATISTICS_RATE

    def __init__(self) -> None:
        self.front = LogMel(STATISTICS_RATE)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if len(samples) < self.front.window:
            raise ValueError(f"{len(samples)} samples at {self.rate} Hz is shorter than one analysis frame")
        bands = self.front(samples)
        return np.concatenate([bands.mean(axis=0), bands.std(axis=0)]).astype(np.float32)
