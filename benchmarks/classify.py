#!/usr/bin/env python3
"""edgetm's classification loop against the bare runtime, on the same model, frame and threads.

For each model: a decoded 640x480 BGR frame goes through ``Classifier`` (preprocess, run,
postprocess); the bare loop feeds the same preprocessed tensor to the runtime directly (LiteRT
``set_tensor``/``invoke``/``get_tensor``, or an ONNX Runtime session).

Two measurements, each interleaved with the bare loop after a warm-up, medians reported:
- per image, one frame at a time (A, B, A, B, ...): the stage latencies and the overhead
  (preprocess + postprocess) a single call pays;
- the loop edgetm runs over a stream (``edgetm classify`` on a folder, the streaming runtime):
  the next frame is prepared while the current one runs or in turn, whichever the loop measured
  faster on this model; blocks of at least 20 frames and 50 ms of one stream against as many bare invokes; its time per
  frame gives the throughput ratio.

    .venv/bin/python benchmarks/classify.py [--runs 300] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgetm.model import ModelFormat, load_model  # noqa: E402
from edgetm.runtime.prefetch import PROBE_ITEMS, PROBE_ROUNDS, WARMUP_ITEMS, Prefetch  # noqa: E402
from edgetm.vision.classify import Classifier, ClassifyOptions  # noqa: E402
from edgetm.vision.image import read_image  # noqa: E402

ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))


def bare_runner(path: Path, threads: int, tensor: np.ndarray):
    """The runtime with nothing of edgetm in between."""
    if path.suffix == ".onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda: session.run(None, {name: tensor})[0]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def run():
        interpreter.set_tensor(input_index, tensor)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    return run


BLOCK = 20
BLOCK_S = 0.05


def edgetm_loop(classifier: Classifier, stream: Iterator, count: int) -> float:
    """Seconds per frame of ``count`` frames of edgetm's streaming loop."""
    start = time.perf_counter()
    for _ in range(count):
        classifier.infer(next(stream)[1])
    return (time.perf_counter() - start) / count


def bare_loop(bare, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        bare()
    return (time.perf_counter() - start) / count


def measure(name: str, path: Path, frame: np.ndarray, runs: int, threads: int) -> dict:
    model = load_model(path, threads=threads)
    classifier = Classifier(model, ClassifyOptions(top_k=5))
    tensor = classifier.preprocessor(frame)[0].copy()
    bare = bare_runner(path, threads, tensor)
    for _ in range(20):  # warm-up: caches, thread pools, XNNPACK packing
        bare()
        classifier(frame)
    bare_ms, total_ms, stages = [], [], {"preprocess": [], "inference": [], "postprocess": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        bare()
        t1 = time.perf_counter()
        result = classifier(frame)
        t2 = time.perf_counter()
        bare_ms.append((t1 - t0) * 1e3)
        total_ms.append((t2 - t1) * 1e3)
        for stage, value in result.latency_ms.items():
            stages[stage].append(value)
    loop_ms, bare_block_ms = [], []
    # One stream throughout, as a video plays: it times preparing ahead against in turn, then keeps the faster.
    prefetcher = Prefetch(itertools.repeat(frame), classifier.prepare)
    stream = iter(prefetcher)
    edgetm_loop(classifier, stream, WARMUP_ITEMS + 2 * PROBE_ROUNDS * PROBE_ITEMS + BLOCK)
    # Blocks of at least BLOCK_S: what one side leaves behind (ONNX Runtime's threads spin on after a
    # run, caches) then weighs little on the other's block.
    block = max(BLOCK, round(BLOCK_S * 1e3 / float(np.median(bare_ms))))
    for _ in range(max(runs // BLOCK, 10)):
        bare_block_ms.append(bare_loop(bare, block) * 1e3)
        loop_ms.append(edgetm_loop(classifier, stream, block) * 1e3)
    stream.close()
    median = {k: float(np.median(v)) for k, v in stages.items()}
    return {
        "loop": float(np.median(loop_ms)),
        "way": "ahead" if prefetcher.choice.ahead else "inline",
        "bare_block": float(np.median(bare_block_ms)),
        "name": name,
        "runtime": "onnxruntime" if model.format is ModelFormat.ONNX else model.backend.name,
        "bare": float(np.median(bare_ms)),
        "edgetm": float(np.median(total_ms)),
        **median,
        "overhead": median["preprocess"] + median["postprocess"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    models = []
    if (ZOO / "coral-mobilenet").is_dir():
        models.append(("MobileNetV2 224 quant", ZOO / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite"))
        photo = ZOO / "images" / "coral_grace_hopper.bmp"
    else:
        print(f"zoo not found at {ZOO}: MobileNetV2 skipped (set EDGETM_ZOO)", file=sys.stderr)
        photo = ROOT / "models" / "banana" / "samples" / "ripe-1.jpg"
    demo = ROOT / "models" / "banana"
    models += [("demo float", demo / "model_unquant.tflite"), ("demo uint8", demo / "model.tflite"),
               ("demo ONNX", demo / "model.onnx")]
    frame = cv2.resize(read_image(photo), (640, 480), interpolation=cv2.INTER_AREA)  # a decoded camera frame

    print(f"classify: 640x480 BGR frame, {args.threads} threads, median of {args.runs} interleaved runs (ms)\n")
    header = (f"{'model':22s} {'runtime':12s} | {'bare':>6s} {'edgetm':>7s} {'pre':>6s} {'infer':>6s} {'post':>6s} "
              f"{'overhead':>8s} {'ratio':>6s} | {'bare':>6s} {'loop':>6s} {'overhead':>8s} {'ratio':>6s} {'next':>6s}")
    print(f"{'':35s} | {'one image at a time':^52s} | {'streaming loop':^36s}")
    print(header)
    print("-" * len(header))
    for name, path in models:
        r = measure(name, path, frame, args.runs, args.threads)
        print(f"{r['name']:22s} {r['runtime']:12s} | {r['bare']:6.3f} {r['edgetm']:7.3f} {r['preprocess']:6.3f} "
              f"{r['inference']:6.3f} {r['postprocess']:6.3f} {r['overhead']:8.3f} {r['bare'] / r['edgetm']:5.2f}x | "
              f"{r['bare_block']:6.3f} {r['loop']:6.3f} {r['loop'] - r['bare_block']:8.3f} "
              f"{r['bare_block'] / r['loop']:5.2f}x {r['way']:>6s}")
    print("\nbare: set_tensor + invoke + get_tensor on the preprocessed tensor (ONNX: session.run)."
          "\nedgetm: Classifier(frame) end to end; overhead = pre + post; ratio = edgetm throughput / bare."
          "\nloop: ms per frame of one long stream; next: how the loop chose to prepare the next frame, by timing "
          "both ways\n(ahead: in a helper thread while the current one runs; inline: in turn); overhead = loop - bare.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
