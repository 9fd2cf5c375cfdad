#!/usr/bin/env python3
"""Retraining speed: training a head, and embedding examples through a cut base model.

- head: Teachable Machine's head (Dense(100, ReLU) + Dense(N, softmax)), 50 epochs in batches of
  16, Adam at 0.001, on 600 examples of 1280 features (MobileNetV2's pooled features' size) in 3
  classes, 15% held back, on one thread. edgetm's trainer (in-place Adam, one pass of scratch
  buffers) against the plain numpy one would write: the same network, batches and optimiser,
  with each update allocating its results. Same data and seed; rounds alternate; medians.
- embed: features of the same 640x480 frames through edgetm's ModelBase (the classifier cut at
  its penultimate tensor, Teachable Machine's centre crop and normalisation included) against the
  bare loop: OpenCV resizes the frame, numpy normalises it, and LiteRT's interpreter runs the cut
  model. Frames per second, one thread. The base is the zoo's Teachable Machine MobileNetV2 export
  (its 1280 features), else the demo model.

    .venv/bin/python benchmarks/train.py [--rounds 5] [--base MODEL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"  # one thread, before numpy loads its BLAS

import numpy as np  # noqa: E402

EXAMPLES, FEATURES, CLASSES, EPOCHS, BATCH, RATE = 600, 1280, 3, 50, 16, 0.001


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (CLASSES, FEATURES)).astype(np.float32)
    y = np.repeat(np.arange(CLASSES), EXAMPLES // CLASSES)
    return centres[y] + rng.normal(0, 2.0, (len(y), FEATURES)).astype(np.float32), y


def plain_numpy(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """The same training written plainly: fresh arrays for every intermediate and update."""
    from edgetm.train.head import split

    rng = np.random.default_rng(seed)
    train, _ = split(y, 0.15, rng)
    w1 = rng.normal(0, np.sqrt(1 / FEATURES), (FEATURES, 100)).astype(np.float32)
    b1 = np.zeros(100, np.float32)
    w2 = rng.normal(0, np.sqrt(1 / 100), (100, CLASSES)).astype(np.float32)
    b2 = np.zeros(CLASSES, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    loss = 0.0
    for _ in range(EPOCHS):
        order = train[rng.permutation(len(train))]
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            xb, yb = x[batch], y[batch]
            h = np.maximum(xb @ params[0] + params[1], 0)
            logits = h @ params[2] + params[3]
            p = np.exp(logits - logits.max(1, keepdims=True))
            p = p / p.sum(1, keepdims=True)
            loss = float(-np.log(p[np.arange(len(yb)), yb] + 1e-12).mean())
            d = p.copy()
            d[np.arange(len(yb)), yb] -= 1
            d = d / len(yb)
            dh = (d @ params[2].T) * (h > 0)
            grads = [xb.T @ dh, dh.sum(0), h.T @ d, d.sum(0)]
            step += 1
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                params[i] = params[i] - RATE * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-7)
    return loss


def edgetm_head(x: np.ndarray, y: np.ndarray) -> float:
    from edgetm.train.head import HeadOptions, train_head

    trained = train_head(x, y, ["a", "b", "c"], HeadOptions(balance=False))
    return trained.history[-1].loss


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def embedding(base_path: str, rounds: int, frames: int = 60) -> tuple[float, float, int]:
    from ai_edge_litert.interpreter import Interpreter

    from edgetm.train.bases import ModelBase

    base = ModelBase(base_path, threads=1)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(8)]
    import cv2

    bare = Interpreter(model_content=base.graph.truncated(), num_threads=1)
    bare.allocate_tensors()
    details = bare.get_input_details()[0]
    index, out = details["index"], bare.get_output_details()[0]["index"]
    height, width = details["shape"][1:3]

    def run_bare() -> None:
        for n in range(frames):
            resized = cv2.resize(images[n % len(images)], (width, height), interpolation=cv2.INTER_LINEAR)
            tensor = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 127.5 - 1.0
            bare.set_tensor(index, tensor.astype(details["dtype"]) if details["dtype"] != np.float32 else tensor)
            bare.invoke()
            bare.get_tensor(out)

    def run_edgetm() -> None:
        for n in range(frames):
            base.embed_image(images[n % len(images)])

    a, b = [], []
    for _ in range(rounds):
        a.append(frames / timed(run_bare))
        b.append(frames / timed(run_edgetm))
    return statistics.median(a), statistics.median(b), base.size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    zoo = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
    teachable = zoo / "tm-keras-aitoy" / "old_tflite_unquant" / "model_unquant.tflite"
    parser.add_argument("--base", default=str(teachable if teachable.is_file() else ROOT / "models" / "banana"))
    args = parser.parse_args()
    x, y = data()
    edgetm_head(x[::10], y[::10])  # imports and first-call costs out of the way
    plain_numpy(x[::10], y[::10])
    mine, plain = [], []
    for _ in range(args.rounds):
        plain.append(timed(plain_numpy, x, y))
        mine.append(timed(edgetm_head, x, y))
    bare_fps, edgetm_fps, size = embedding(args.base, args.rounds)
    print(f"train: {EXAMPLES} examples x {FEATURES} features, {CLASSES} classes, {EPOCHS} epochs, batch {BATCH}, "
          f"one thread, median of {args.rounds} alternating rounds\n")
    print(f"{'what':44s} {'reference':>10s} {'edgetm':>10s}  {'ratio':>6s}")
    print("-" * 75)
    print(f"{'head training (s; target <= 1.5)':44s} {statistics.median(plain):10.3f} {statistics.median(mine):10.3f}"
          f"  {statistics.median(plain) / statistics.median(mine):5.2f}x")
    print(f"{'embedding (frames/s; target >= 0.9x)':44s} {bare_fps:10.1f} {edgetm_fps:10.1f}"
          f"  {edgetm_fps / bare_fps:5.2f}x")
    print(f"\nhead training: reference = plain numpy (the same maths, a fresh array per update); ratio = its time / "
          f"edgetm's.\nembedding: {Path(args.base).name} cut at its {size} features, 640x480 frames; reference = "
          f"cv2.resize + normalise + LiteRT invoke; edgetm = ModelBase.embed_image (centre crop, normalise, invoke).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
