#!/usr/bin/env python3
"""Does edgetm give the answers of Teachable Machine's own snippets? Agreement, largest score
difference and time per image, for each of edgetm's paths, on real Teachable Machine exports.

References, run on the bare LiteRT interpreter:
- the Keras snippet: ``ImageOps.fit(image, (224, 224), Image.Resampling.LANCZOS)``, then
  ``/127.5 - 1`` (a quantized export takes the fitted uint8 pixels: its input's quantization is
  that same mapping);
- the OpenCV snippet: ``cv2.resize(frame, (224, 224), interpolation=cv2.INTER_AREA)`` of the BGR
  frame, then ``/127.5 - 1``.

edgetm's paths: ``fast`` (the live-video default: centre crop, bilinear), ``pil`` (the default
for still images of a Teachable Machine export, and the ``tm-keras`` preset), ``tm-opencv``.

Photos: the zoo's photos and the demo model's samples, each cut into many crops of random
position, size and aspect ratio (a third taller than wide), so that every shape a phone or
webcam gives is covered. Agreement: same top label. Times are medians of interleaved runs.

    .venv/bin/python benchmarks/fidelity.py [--crops 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgetm.model import load_model  # noqa: E402
from edgetm.vision.classify import Classifier  # noqa: E402
from edgetm.vision.image import IMAGE_SUFFIXES, read_image  # noqa: E402
from edgetm.vision.preprocess import PreprocessOptions, Preset  # noqa: E402

ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
EXPORTS = {
    "zoo float (old_tflite_unquant)": ZOO / "tm-keras-aitoy" / "old_tflite_unquant" / "model_unquant.tflite",
    "zoo uint8 (old_tflite_quant)": ZOO / "tm-keras-aitoy" / "old_tflite_quant" / "model.tflite",
    "demo float (models/banana)": ROOT / "models" / "banana" / "model_unquant.tflite",
    "demo uint8 (models/banana)": ROOT / "models" / "banana" / "model.tflite",
}


def photos() -> list[np.ndarray]:
    folders = [ZOO / "images", ZOO / "tm-keras-aitoy", ROOT / "models" / "banana" / "samples"]
    paths = sorted(p for folder in folders if folder.is_dir() for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES)
    return [read_image(p) for p in paths]


def crops(images: list[np.ndarray], per_image: int, seed: int = 0) -> list[np.ndarray]:
    """Random crops: sides from a quarter of the photo to all of it, aspect ratios 1:3 to 3:1."""
    rng = np.random.default_rng(seed)
    out = []
    for image in images:
        height, width = image.shape[:2]
        out.append(image)
        for _ in range(per_image - 1):
            aspect = float(np.exp(rng.uniform(np.log(1 / 3), np.log(3))))  # width / height
            h = int(rng.uniform(0.25, 1.0) * height)
            w = min(width, max(16, int(h * aspect)))
            h = max(16, min(height, h))
            y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            out.append(np.ascontiguousarray(image[y:y + h, x:x + w]))
    return out


class Bare:
    """The exported model on the bare interpreter, fed as the snippet feeds it."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
        self.interpreter.allocate_tensors()
        detail = self.interpreter.get_input_details()[0]
        self.input, self.dtype = detail["index"], detail["dtype"]
        out = self.interpreter.get_output_details()[0]
        self.output = out["index"]
        self.scale, self.zero = out["quantization"]

    def scores(self, rgb224: np.ndarray) -> np.ndarray:
        if self.dtype == np.uint8:
            tensor = rgb224[None].astype(np.uint8)
        else:
            tensor = ((rgb224.astype(np.float32) / 127.5) - 1)[None]
        self.interpreter.set_tensor(self.input, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.output)[0]
        return (raw.astype(np.float32) - self.zero) * self.scale if self.scale else raw.astype(np.float32)


def keras_snippet(bare: Bare, bgr: np.ndarray) -> np.ndarray:
    image = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return bare.scores(np.asarray(ImageOps.fit(image, (224, 224), Image.Resampling.LANCZOS)))


def opencv_snippet(bare: Bare, bgr: np.ndarray) -> np.ndarray:
    return bare.scores(cv2.resize(bgr, (224, 224), interpolation=cv2.INTER_AREA))


def edgetm_scores(classifier: Classifier) -> Callable[[np.ndarray], np.ndarray]:
    def run(bgr: np.ndarray) -> np.ndarray:
        prepared = classifier.prepare(bgr)
        return classifier.postprocess(classifier.model.run(prepared.tensor)[0])
    return run


def timed(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    scores = fn(image)
    return scores, (time.perf_counter() - start) * 1e3


def compare(reference, ours, images: list[np.ndarray]) -> tuple[float, float, float, float]:
    """Agreement, max |dp|, and median ms per image of ours and of the reference (interleaved)."""
    agree, worst, ours_ms, ref_ms = 0, 0.0, [], []
    for n, image in enumerate(images):
        if n % 2:  # alternate which runs first, so neither always finds the caches warm
            a, ta = timed(ours, image)
            b, tb = timed(reference, image)
        else:
            b, tb = timed(reference, image)
            a, ta = timed(ours, image)
        agree += int(np.argmax(a) == np.argmax(b))
        worst = max(worst, float(np.abs(a - b).max()))
        ours_ms.append(ta)
        ref_ms.append(tb)
    return agree / len(images), worst, statistics.median(ours_ms), statistics.median(ref_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crops", type=int, default=60, help="crops per photo (the photo itself included)")
    args = parser.parse_args()
    if not (ZOO / "tm-keras-aitoy").is_dir():
        print(f"the model zoo is not at {ZOO}: set EDGETM_ZOO", file=sys.stderr)
        return 1
    images = crops(photos(), args.crops)
    taller = sum(i.shape[0] > i.shape[1] for i in images)
    print(f"{len(images)} photos ({taller} taller than wide); Pillow {Image.__version__}, OpenCV {cv2.__version__}\n")
    paths = [
        ("Keras", keras_snippet, "fast (live default)", None, False),
        ("Keras", keras_snippet, "pil (still default)", None, True),
        ("Keras", keras_snippet, "tm-keras preset", PreprocessOptions(preset=Preset.TM_KERAS), False),
        ("OpenCV", opencv_snippet, "tm-opencv preset", PreprocessOptions(preset=Preset.TM_OPENCV), False),
    ]
    header = f"{'export':32s} {'snippet':7s} {'edgetm path':20s} {'agree':>7s} {'max |dp|':>9s} " \
             f"{'edgetm ms':>9s} {'snippet ms':>10s} {'ratio':>6s}"
    print(header)
    print("-" * len(header))
    for name, path in EXPORTS.items():
        model = load_model(path)
        bare = Bare(path)
        for snippet_name, snippet, label, options, still in paths:
            classifier = Classifier(model, preprocess=options, still=still)
            agree, worst, ours_ms, ref_ms = compare(lambda image, s=snippet, b=bare: s(b, image),
                                                    edgetm_scores(classifier), images)
            print(f"{name:32s} {snippet_name:7s} {label:20s} {agree:7.1%} {worst:9.4f} {ours_ms:9.2f} "
                  f"{ref_ms:10.2f} {ours_ms / ref_ms:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
