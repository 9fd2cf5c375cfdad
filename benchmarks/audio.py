#!/usr/bin/env python3
"""The sound path without inference, on one core: a simulated 10-minute microphone stream at 48 kHz
into a 44.1 kHz Teachable Machine sound model (windows of 44032 samples, half overlapping).

- edgetm: the microphone's ring buffer (its PortAudio callback and capture thread, driven here
  with blocks of 50 ms), then the sound task's preparation: mono mix, soxr streaming resampling
  48 k -> 44.1 k, windows, and each window's level;
- numpy: a straightforward reimplementation of Teachable Machine's sliding window as its examples
  do it: a 44032-sample buffer shifted with ``np.roll`` for every block, blocks resampled with
  ``np.interp`` on their own, a window taken every half window.

Both get the same blocks; rounds alternate, and the median is reported. Real-time factor: seconds
of processing per second of sound. Sample accounting: the resampled samples and windows each
produced, against the exact counts the rate ratio and the window arithmetic give.

    .venv/bin/python benchmarks/audio.py [--minutes 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IN_RATE, OUT_RATE, WINDOW, HOP = 48000, 44100, 44032, 22016
BLOCK = 1024  # samples a microphone read gives (PortAudio and most examples use 1024)


def signal(minutes: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = round(minutes * 60 * IN_RATE)
    t = np.arange(n) / IN_RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 0.01, n)).astype(np.float32)


def microphone():
    """edgetm's microphone source with PortAudio replaced by this benchmark's own calls."""
    import sounddevice

    sounddevice.query_devices = lambda: [{"name": "bench", "default_samplerate": float(IN_RATE),
                                          "max_input_channels": 1}]
    sounddevice.default = types.SimpleNamespace(device=[0, 0])
    from edgetm.capture.microphone import MicOptions

    return MicOptions(block_s=BLOCK / IN_RATE).open()


def run_edgetm(samples: np.ndarray, model) -> tuple[float, int, int, int]:
    from edgetm.audio.classify import SoundOptions
    from edgetm.audio.windows import level_dbfs
    from edgetm.tasks import build_task

    task = build_task(model, SoundOptions())
    mic = microphone()
    stream = types.SimpleNamespace(active=True)
    status = types.SimpleNamespace(input_overflow=False)
    windows, out_samples, last_start = 0, 0, -1
    start = time.perf_counter()
    for offset in range(0, len(samples), BLOCK):
        block = samples[offset:offset + BLOCK, None]
        mic._callback(block, len(block), None, status)  # PortAudio's thread, here inline
        grabbed = mic._grab(stream)
        if grabbed is None:
            continue
        item = mic._item(grabbed, offset // BLOCK, time.monotonic(), time.time())
        for unit in task.prepare(item):
            level_dbfs(unit.input)
            windows += 1
            last_start = unit.item.start
    for unit in task.flush():
        level_dbfs(unit.input)
        windows += 1
        last_start = unit.item.start
    elapsed = time.perf_counter() - start
    out_samples = task._stream.windows.end  # every resampled sample the windows were fed
    return elapsed, out_samples, windows, last_start


def run_numpy(samples: np.ndarray) -> tuple[float, int, int, int]:
    buffer = np.zeros(WINDOW, np.float32)
    filled, windows, out_samples, next_at = 0, 0, 0, WINDOW
    start = time.perf_counter()
    for offset in range(0, len(samples), BLOCK):
        block = samples[offset:offset + BLOCK]
        n_out = round(len(block) * OUT_RATE / IN_RATE)
        resampled = np.interp(np.linspace(0, len(block) - 1, n_out), np.arange(len(block)), block)
        out_samples += n_out
        buffer = np.roll(buffer, -n_out)
        buffer[-n_out:] = resampled
        filled += n_out
        while filled >= next_at:  # the window ends where the block ended, up to a block late
            window = buffer.copy()
            float(np.sqrt(np.mean(window ** 2)))
            windows += 1
            next_at += HOP
    return time.perf_counter() - start, out_samples, windows, -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as a busy Pi gives us
    import tempfile

    from edgetm.model import load_model
    from tests.audiokit import tm_sound_tflite

    samples = signal(args.minutes)
    seconds = len(samples) / IN_RATE
    exact_out = round(len(samples) * OUT_RATE / IN_RATE)
    exact_windows = (exact_out - WINDOW) // HOP + 1
    with tempfile.TemporaryDirectory() as folder:
        model = load_model(tm_sound_tflite(Path(folder) / "model").parent)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(run_edgetm(samples, model))
            theirs.append(run_numpy(samples))
    print(f"audio: {args.minutes:g} min at 48 kHz in {BLOCK}-sample blocks (21 ms) -> 44.1 kHz windows of {WINDOW} "
          f"every {HOP}, one core, median of {args.rounds} alternating rounds\n")
    header = (f"{'path':40s} {'seconds':>8s} {'real-time factor':>17s} {'samples out':>12s} {'lost/doubled':>13s} "
              f"{'windows':>8s} {'expected':>9s}")
    print(header)
    print("-" * len(header))
    for name, runs in (("edgetm (ring, soxr stream, windows, level)", ours),
                       ("numpy (np.roll buffer, np.interp blocks)", theirs)):
        elapsed = float(np.median([r[0] for r in runs]))
        out, windows = runs[0][1], runs[0][2]
        print(f"{name:40s} {elapsed:8.3f} {elapsed / seconds:17.5f} {out:12d} {out - exact_out:+13d} {windows:8d} "
              f"{exact_windows:9d}")
    ratio = float(np.median([r[0] for r in theirs])) / float(np.median([r[0] for r in ours]))
    print(f"\nedgetm is {ratio:.1f}x the speed of the numpy sliding window. The last edgetm window starts at sample "
          f"{ours[0][3]} ({(exact_windows - 1) * HOP} expected for the last full one; edgetm drops the partial tail "
          "by default).\nexpected samples out: the stream's samples x 44100 / 48000; the numpy path rounds every "
          "block on its own and resamples each block's edges without the samples around them (clicks).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
