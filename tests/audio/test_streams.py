"""Resampling and windowing a stream: exact counts, exact times, nothing lost at block edges."""

from __future__ import annotations

import numpy as np
import pytest

from edgetm.audio.features import LogMel
from edgetm.audio.resample import StreamResampler
from edgetm.audio.windows import Windows, level_dbfs


def tone(frequency: float, seconds: float, rate: int) -> np.ndarray:
    return np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate).astype(np.float32)


def streamed(signal: np.ndarray, in_rate: int, out_rate: int, block: int) -> np.ndarray:
    resampler = StreamResampler(in_rate, out_rate)
    pieces = [resampler(signal[i:i + block]) for i in range(0, len(signal), block)]
    return np.concatenate([*pieces, resampler.flush()])


def test_a_tone_keeps_its_frequency():
    out = streamed(tone(1000, 2.0, 48000), 48000, 44100, 1024)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak = np.argmax(spectrum)
    # Parabolic interpolation of the peak: the frequency to well within a bin (0.5 Hz here).
    a, b, c = spectrum[peak - 1:peak + 2]
    frequency = (peak + 0.5 * (a - c) / (a - 2 * b + c)) * 44100 / len(out)
    assert abs(frequency - 1000) < 1.0


@pytest.mark.parametrize("block", [1, 160, 1024, 4800, 48000])
def test_streaming_equals_resampling_at_once(block):
    import soxr

    rng = np.random.default_rng(block)
    signal = rng.uniform(-0.5, 0.5, 48000).astype(np.float32)
    once = soxr.resample(signal, 48000, 44100, quality="HQ")
    out = streamed(signal, 48000, 44100, block)
    assert len(out) == len(once) == 44100  # exactly as the rate ratio says
    assert np.abs(out - once).max() < 1e-5


def test_counts_are_exact_for_any_length():
    for n in (1, 999, 48000, 123457):
        assert len(streamed(np.zeros(n, np.float32), 48000, 16000, 512)) == round(n * 16000 / 48000)
    same = StreamResampler(16000, 16000)
    assert np.array_equal(same(np.arange(5, dtype=np.float32)), np.arange(5)) and same.flush().size == 0


def cut(length: int, hop: int, total: int, block: int, pad: bool = False) -> list[tuple[int, np.ndarray]]:
    windows = Windows(length, hop)
    signal = np.arange(total, dtype=np.float32)
    found = []
    for i in range(0, total, block):
        found += windows.push(signal[i:i + block])
    return found + windows.finish(pad)


@pytest.mark.parametrize("length, overlap, total", [(44032, 0.5, 476280), (15600, 0.0, 160000), (576, 64 / 576, 16000),
                                                     (1000, 0.95, 7777), (10, 0.5, 9)])
@pytest.mark.parametrize("block", [7, 512, 4410])
def test_window_counts_and_times_are_exact(length, overlap, total, block):
    hop = max(1, round(length * (1 - overlap)))
    found = cut(length, hop, total, block)
    expected = 0 if total < length else (total - length) // hop + 1
    assert [start for start, _ in found] == [k * hop for k in range(expected)]
    for start, window in found:  # each window holds exactly its own samples
        assert window[0] == start and window[-1] == start + length - 1 and len(window) == length


def test_a_click_is_in_exactly_the_windows_that_contain_it():
    rate, length, hop = 16000, 1600, 400
    signal = np.zeros(rate * 2, np.float32)
    click = 7777
    signal[click] = 1.0
    windows = Windows(length, hop)
    found = []
    for i in range(0, len(signal), 333):
        found += windows.push(signal[i:i + 333])
    heard = [start for start, window in found if window.max() > 0]
    assert heard == [start for start, _ in found if start <= click < start + length]
    assert len(heard) == length // hop
    for start, window in found:
        if start in heard:
            assert window[click - start] == 1.0  # at its exact place


def test_the_last_partial_window_is_dropped_or_padded():
    dropped = cut(10, 5, 37, 4, pad=False)
    padded = cut(10, 5, 37, 4, pad=True)
    assert [s for s, _ in dropped] == [0, 5, 10, 15, 20, 25]
    assert [s for s, _ in padded] == [0, 5, 10, 15, 20, 25, 30]
    assert padded[-1][1].tolist() == [30, 31, 32, 33, 34, 35, 36, 0, 0, 0]
    assert [s for s, _ in cut(10, 5, 35, 4, pad=True)] == [0, 5, 10, 15, 20, 25]  # nothing after the last window
    assert [s for s, _ in cut(10, 5, 3, 4, pad=True)] == [0]  # shorter than one window: one padded window


def test_levels():
    assert level_dbfs(np.ones(100, np.float32)) == pytest.approx(0.0)
    assert level_dbfs(tone(440, 1, 16000)) == pytest.approx(-3.01, abs=0.01)
    assert level_dbfs(0.01 * tone(440, 1, 16000)) == pytest.approx(-43.01, abs=0.01)
    assert level_dbfs(np.zeros(10, np.float32)) == -120.0


def test_log_mel_front_end():
    front = LogMel(16000)
    assert (front.window, front.hop, front.n_fft) == (400, 160, 512)
    assert front.samples_for(96) == 15600  # YAMNet's 0.975 s
    features = front(tone(1000, 0.975, 16000))
    assert features.shape == (96, 64)
    centres = np.argmax(features, axis=1)
    assert len(set(centres.tolist())) == 1  # a steady tone is one band, every frame
    louder = front(tone(4000, 0.975, 16000))
    assert np.argmax(louder[0]) > centres[0]  # a higher tone, a higher band
