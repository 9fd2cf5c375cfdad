#!/usr/bin/env python3
"""Build the bundled banana-ripeness demo model from procedurally drawn images.

No downloads: bananas, tables and clutter are drawn with OpenCV from a seed, so the model is
reproducible. The network is shaped like a Teachable Machine model: a conv base, global average
pooling and a dense head, trained end to end in plain numpy with the Adam optimiser that trains
``edgetm train``'s heads (edgetm/train/adam.py).

Writes, in Teachable Machine's export layout:
  model_unquant.tflite  float32, input [-1, 1]
  model.tflite          full-integer uint8 (raw pixels in, scale 1/256 probabilities out)
  model.onnx            the same network, float32, NCHW
  labels.txt            "0 Unripe" ...
  samples/*.jpg         a few images per class, not used for training
and prints held-out accuracy of all three files, run through edgetm itself.

    python scripts/make-demo-model.py [--out models/banana] [--seed 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgetm.model import Layout, load_model
from edgetm.train.adam import Adam
from edgetm.train.export_onnx import to_onnx
from edgetm.train.export_tflite import calibrate, to_tflite
from edgetm.train.network import Activation, Conv2D, Dense, GlobalAveragePool, Network, Softmax
from edgetm.vision.classify import Classifier
from edgetm.vision.preprocess import Preprocessor

LABELS = ["Unripe", "Ripe", "Overripe", "No banana"]
IMAGE_SIZE = (320, 240)  # a 4:3 camera frame; the model sees its 224x224 centre
MIN_ACCURACY = 0.95

# Hue (OpenCV's 0..180 scale), saturation, value ranges of banana peel by ripeness.
PEEL = {
    0: ((36, 52), (150, 235), (120, 210)),  # green
    1: ((22, 29), (170, 250), (190, 250)),  # yellow
    2: ((14, 22), (120, 200), (110, 190)),  # yellow-brown, spotted
}


def _hsv(rng: np.random.Generator, ranges) -> tuple[int, int, int]:
    h, s, v = (int(rng.integers(lo, hi + 1)) for lo, hi in ranges)
    bgr = cv2.cvtColor(np.uint8([[[h, s, v]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def _background(rng: np.random.Generator) -> np.ndarray:
    w, h = IMAGE_SIZE
    kind = rng.integers(4)
    if kind == 0:  # plain table or wall
        base = _hsv(rng, ((0, 179), (0, 60), (120, 240)))
    elif kind == 1:  # wood
        base = _hsv(rng, ((8, 20), (50, 110), (80, 160)))
    elif kind == 2:  # dark counter
        base = _hsv(rng, ((0, 179), (0, 80), (30, 90)))
    else:  # coloured cloth
        base = _hsv(rng, ((90, 170), (60, 200), (80, 220)))
    image = np.empty((h, w, 3), np.float32)
    image[:] = base
    gradient = np.linspace(rng.uniform(-30, 0), rng.uniform(0, 30), w if rng.random() < 0.5 else h)
    image += gradient[None, :, None] if gradient.size == w else gradient[:, None, None]
    if kind == 1:  # wood grain
        for _ in range(rng.integers(6, 14)):
            y = int(rng.integers(0, h))
            cv2.line(image, (0, y), (w, y + int(rng.integers(-20, 20))), tuple(float(c) * 0.8 for c in base),
                     int(rng.integers(1, 4)))
    for _ in range(rng.integers(0, 4)):  # clutter: plates, cups, other fruit
        colour = _hsv(rng, ((0, 179), (0, 255), (40, 255)))
        if 12 <= cv2.cvtColor(np.uint8([[colour]]), cv2.COLOR_BGR2HSV)[0, 0, 0] <= 55:
            colour = colour[::-1]  # keep clutter out of banana hues
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(10, 45)), colour, -1, cv2.LINE_AA)
        else:
            size = (int(rng.integers(15, 60)), int(rng.integers(15, 60)))
            cv2.rectangle(image, centre, (centre[0] + size[0], centre[1] + size[1]), colour, -1)
    return image


def _banana(rng: np.random.Generator, image: np.ndarray, ripeness: int) -> None:
    w, h = IMAGE_SIZE
    centre = np.array([w / 2 + rng.uniform(-40, 40), h / 2 + rng.uniform(-30, 30)])
    radius = rng.uniform(80, 140)
    thickness = radius * rng.uniform(0.3, 0.42)
    span = np.deg2rad(rng.uniform(60, 110))
    rotation = rng.uniform(0, 2 * np.pi)
    angles = rotation + np.linspace(-span / 2, span / 2, 40)
    # A crescent: the outer arc, then the inner arc back, thinner towards the tips.
    taper = np.sin(np.linspace(0.15, np.pi - 0.15, angles.size))
    outer = np.stack([np.cos(angles), np.sin(angles)], 1) * radius
    inner = np.stack([np.cos(angles), np.sin(angles)], 1) * (radius - thickness * taper[:, None])
    offset = centre - np.array([np.cos(rotation), np.sin(rotation)]) * (radius - thickness / 2)
    polygon = (np.concatenate([outer, inner[::-1]]) + offset).astype(np.int32)
    peel = _hsv(rng, PEEL[ripeness])
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [polygon], 255, cv2.LINE_AA)
    layer = np.empty_like(image)
    layer[:] = peel
    # Shading across the peel, darker on the inner edge.
    shade = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), thickness / 3) / 255.0
    layer *= (0.65 + 0.35 * shade)[:, :, None]
    if ripeness == 2:  # sugar spots and bruises
        for _ in range(rng.integers(40, 110)):
            k, t = rng.integers(len(outer)), rng.uniform(0.1, 0.9)  # somewhere across the peel
            point = outer[k] * (1 - t) + inner[k] * t + offset
            axes = (int(rng.integers(2, 7)), int(rng.integers(2, 5)))
            cv2.ellipse(layer, (int(point[0]), int(point[1])), axes, float(rng.uniform(0, 180)), 0, 360,
                        _hsv(rng, ((8, 16), (120, 220), (30, 80))), -1, cv2.LINE_AA)
    alpha = (mask.astype(np.float32) / 255.0)[:, :, None]
    image[:] = image * (1 - alpha) + layer * alpha
    for tip in (polygon[0], polygon[len(outer) - 1]):  # dark stem and tip
        cv2.circle(image, (int(tip[0]), int(tip[1])), max(2, int(thickness / 5)), (30, 45, 60), -1, cv2.LINE_AA)


def draw(rng: np.random.Generator, label: int) -> np.ndarray:
    image = _background(rng)
    if label != 3:
        _banana(rng, image, label)
    image = image * rng.uniform(0.75, 1.2) + rng.normal(0, rng.uniform(2, 8), image.shape)  # exposure, sensor noise
    image = cv2.GaussianBlur(np.clip(image, 0, 255).astype(np.uint8), (0, 0), rng.uniform(0.3, 1.2))
    return image


# Receptive field of one output of the two stride-2 3x3 convolutions: 7x7 input pixels, 4 apart.
FIELD, STEP, POSITIONS = 7, 4, 55  # positions 0..54 need no padding at 224x224


def init(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return rng.normal(0, np.sqrt(2.0 / fan_in), shape)


class Trainer:
    """Trains conv3x3/2 -> conv3x3/2 -> global average pool -> dense -> dense -> softmax end to end.

    Global average pooling makes the network's output a mean over output positions, so a random
    subset of positions gives an unbiased estimate of it and of its gradient: each step computes
    the convolutions only on sampled 7x7 input patches. Plain numpy, edgetm's Adam, cross-entropy.
    """

    def __init__(self, rng: np.random.Generator, c1: int = 16, c2: int = 32, hidden: int = 32, classes: int = 4):
        self.rng = rng
        layers = [
            init(rng, (27, c1), 27), np.zeros(c1),
            init(rng, (9 * c1, c2), 9 * c1), np.zeros(c2),
            init(rng, (c2, hidden), c2), np.zeros(hidden),
            init(rng, (hidden, classes), hidden), np.zeros(classes),
        ]
        # One flat vector with each layer a view into it, as edgetm's Adam (the one that trains
        # retrained heads) takes; the gradients are laid out the same way.
        self.flat = np.concatenate([layer.ravel() for layer in layers])
        self.params, offset = [], 0
        for layer in layers:
            self.params.append(self.flat[offset:offset + layer.size].reshape(layer.shape))
            offset += layer.size
        self.grads = np.zeros_like(self.flat)
        self.adam = Adam(self.flat, epsilon=1e-8)

    def patches(self, images: np.ndarray, per_image: int) -> np.ndarray:
        """[N, P, 3, 3, 27]: for each sampled position, the nine 3x3x3 windows the first conv sees."""
        n = len(images)
        i, j = (self.rng.integers(0, POSITIONS, (n, per_image)) for _ in range(2))
        offsets = np.arange(FIELD)
        rows = (STEP * i)[..., None, None] + offsets[:, None]
        cols = (STEP * j)[..., None, None] + offsets[None, :]
        field = images[np.arange(n)[:, None, None, None], rows, cols]  # [N, P, 7, 7, 3]
        windows = np.stack([np.stack([field[:, :, 2 * a:2 * a + 3, 2 * b:2 * b + 3] for b in range(3)], 2)
                            for a in range(3)], 2)  # [N, P, 3, 3, 3, 3, 3]
        return windows.reshape(n, per_image, 3, 3, 27)

    def step(self, images: np.ndarray, targets: np.ndarray, per_image: int, rate: float) -> float:
        w1, b1, w2, b2, w3, b3, w4, b4 = self.params
        x = self.patches(images, per_image)
        n, p = x.shape[:2]
        z1 = x @ w1 + b1
        a1 = np.maximum(z1, 0).reshape(n, p, -1)
        z2 = a1 @ w2 + b2
        a2 = np.maximum(z2, 0)
        pooled = a2.mean(1)
        z3 = pooled @ w3 + b3
        a3 = np.maximum(z3, 0)
        logits = a3 @ w4 + b4
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        loss = float(-np.log(probs[np.arange(n), targets] + 1e-12).mean())
        d4 = probs.copy()
        d4[np.arange(n), targets] -= 1
        d4 /= n
        d3 = (d4 @ w4.T) * (z3 > 0)
        dpool = d3 @ w3.T
        d2 = np.repeat(dpool[:, None] / p, p, 1) * (z2 > 0)
        d1 = (d2 @ w2.T).reshape(z1.shape) * (z1 > 0)
        grads = [
            x.reshape(-1, 27).T @ d1.reshape(-1, d1.shape[-1]), d1.sum((0, 1, 2, 3)),
            a1.reshape(-1, a1.shape[-1]).T @ d2.reshape(-1, d2.shape[-1]), d2.sum((0, 1)),
            pooled.T @ d3, d3.sum(0),
            a3.T @ d4, d4.sum(0),
        ]
        np.concatenate([grad.ravel() for grad in grads], out=self.grads)
        self.adam.learning_rate = rate
        self.adam.step(self.grads)
        return loss

    def network(self) -> Network:
        w1, b1, w2, b2, w3, b3, w4, b4 = (p.astype(np.float32) for p in self.params)
        return Network([
            Conv2D(w1.T.reshape(-1, 3, 3, 3), b1, stride=2),
            Conv2D(w2.T.reshape(-1, 3, 3, w1.shape[1]), b2, stride=2),
            GlobalAveragePool(),
            Dense(w3.T, b3, Activation.RELU),
            Dense(w4.T, b4),
            Softmax(),
        ], (224, 224), labels=LABELS)


def dataset(rng: np.random.Generator, per_class: int) -> tuple[list[np.ndarray], np.ndarray]:
    images, targets = [], []
    for label in range(len(LABELS)):
        for _ in range(per_class):
            images.append(draw(rng, label))
            targets.append(label)
    return images, np.array(targets)


def tensors(model, images: list[np.ndarray]) -> np.ndarray:
    """Preprocess exactly as edgetm does at run time."""
    preprocess = Preprocessor(model)
    return np.concatenate([preprocess(image)[0].copy() for image in images])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "models" / "banana")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-per-class", type=int, default=200)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--samples-per-class", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--min-accuracy", type=float, default=MIN_ACCURACY, help="fail below this")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    train_images, train_targets = dataset(rng, args.train_per_class)
    test_images, test_targets = dataset(rng, args.test_per_class)
    samples, sample_targets = dataset(rng, args.samples_per_class)

    trainer = Trainer(rng)
    with tempfile.TemporaryDirectory() as tmp:
        # Preprocess with edgetm's own code, through a model with the same input (a 1x1 identity conv).
        probe = Path(tmp) / "input.tflite"
        identity = Conv2D(np.eye(3, dtype=np.float32).reshape(3, 1, 1, 3), np.zeros(3, np.float32), 1,
                          Activation.NONE)
        probe.write_bytes(to_tflite(Network([identity], (224, 224))))
        train_x = tensors(load_model(probe, threads=1), train_images)
    for epoch in range(args.epochs):
        order = rng.permutation(len(train_x))
        rate = 0.01 if epoch < args.epochs * 0.7 else 0.002
        losses = [trainer.step(train_x[batch], train_targets[batch], 48, rate)
                  for batch in np.array_split(order, len(order) // 32)]
        if epoch % 10 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:3d} loss {np.mean(losses):.4f}", flush=True)
    net = trainer.network()
    float_model = to_tflite(net)
    calibration = train_x[rng.choice(len(train_x), min(200, len(train_x)), replace=False)]
    quant_model = to_tflite(net, activation_ranges=calibrate(float_model, net, calibration))

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_unquant.tflite").write_bytes(float_model)
    (out / "model.tflite").write_bytes(quant_model)
    (out / "model.onnx").write_bytes(to_onnx(net, Layout.NCHW))
    (out / "labels.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(LABELS)))
    sample_dir = out / "samples"
    sample_dir.mkdir(exist_ok=True)
    for old in sample_dir.glob("*.jpg"):
        old.unlink()
    counts: dict[int, int] = {}
    for image, target in zip(samples, sample_targets, strict=True):
        counts[int(target)] = counts.get(int(target), 0) + 1
        name = f"{LABELS[target].lower().replace(' ', '-')}-{counts[int(target)]}.jpg"
        cv2.imwrite(str(sample_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, 90])

    report = {"seed": args.seed, "train_images": len(train_images), "test_images": len(test_images),
              "labels": LABELS, "accuracy": {}, "sha256": {}}
    ok = True
    for name in ("model_unquant.tflite", "model.tflite", "model.onnx"):
        classifier = Classifier(load_model(out / name, labels=out / "labels.txt", threads=1))
        predicted = np.array([classifier(image).index for image in test_images])
        accuracy = float((predicted == test_targets).mean())
        report["accuracy"][name] = round(accuracy, 4)
        report["sha256"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
        confusion = np.zeros((len(LABELS), len(LABELS)), int)
        np.add.at(confusion, (test_targets, predicted), 1)
        print(f"{name:22s} held-out accuracy {accuracy:.1%}  ({(out / name).stat().st_size / 1024:.0f} KiB)")
        print("  confusion (rows: true " + ", ".join(LABELS) + "):")
        for row in confusion:
            print("   ", " ".join(f"{v:4d}" for v in row))
        ok &= accuracy >= args.min_accuracy
    (out / "manifest.json").write_text(json.dumps(report, indent=2) + "\n")
    if not ok:
        print(f"accuracy below {args.min_accuracy:.0%}: the demo model is not good enough", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
