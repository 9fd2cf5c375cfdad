#!/usr/bin/env python3
"""Detection post-processing and end-to-end latency against peers, on the same data, in one run.

1. Decode + NMS of a YOLOv8 [1, 84, 8400] output at confidence 0.25, IoU 0.45, class-aware:
   - edgetm's ``Detector.postprocess``;
   - OpenCV: the usual numpy decode, then ``cv2.dnn.NMSBoxesBatched``;
   - torchvision: the same decode, then ``torchvision.ops.batched_nms`` (when installed).
   On the real output of yolov8n for bus.jpg (float and int8), and on a crowded synthetic output
   (2,000 boxes above the threshold, in clusters). Runs interleaved; medians. torchvision is
   optional: install torch and torchvision beside edgetm to see its column.
2. ``Detector`` end to end (letterbox, invoke, decode, NMS, boxes mapped back) for yolov8n
   full-integer TFLite against a bare ``invoke()`` loop on the same input tensor, same threads.
3. Rectangular inference: the zoo's YOLOv8n ONNX with dynamic axes at 640, square letterbox
   against ``rect`` (Ultralytics' letterbox to the smallest stride-aligned rectangle), end to end,
   on zidane.jpg (1280x720) and bus.jpg (810x1080); interleaved, medians.

    .venv/bin/python benchmarks/detect.py [--runs 300] [--threads N] [--rect-runs 40]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgetm.model import load_model  # noqa: E402
from edgetm.runtime.prefetch import PROBE_ITEMS, PROBE_ROUNDS, WARMUP_ITEMS, Prefetch  # noqa: E402
from edgetm.vision.detect import DetectOptions, Detector  # noqa: E402
from edgetm.vision.image import read_image  # noqa: E402

ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
CONF, IOU = 0.25, 0.45

try:
    import torch
    import torchvision
except ImportError:  # optional peer
    torch = torchvision = None


def numpy_decode(raw: np.ndarray):
    """What most YOLOv8 examples do: transpose, best class per box, threshold, xywh -> xyxy."""
    rows = raw[0].T
    scores_all = rows[:, 4:]
    classes = scores_all.argmax(1)
    scores = scores_all[np.arange(len(rows)), classes]
    keep = scores > CONF
    xywh, scores, classes = rows[keep, :4], scores[keep], classes[keep]
    return np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1), scores, classes


def opencv(raw: np.ndarray) -> int:
    boxes, scores, classes = numpy_decode(raw)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), CONF, IOU)
    return len(kept)


def vision(raw: np.ndarray) -> int:
    boxes, scores, classes = numpy_decode(raw)
    kept = torchvision.ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                                       torch.from_numpy(classes), IOU)
    return len(kept)


def crowded(seed: int = 0) -> np.ndarray:
    """[1, 84, 8400] with 2,000 boxes above the threshold in 100 clusters of overlapping boxes."""
    rng = np.random.default_rng(seed)
    raw = np.zeros((1, 84, 8400), np.float32)
    raw[0, 4:] = rng.uniform(0, 0.2, (80, 8400))
    centres = rng.uniform(40, 600, (100, 2))
    picks = rng.choice(8400, 2000, replace=False)
    for n, column in enumerate(picks):
        cx, cy = centres[n % 100] + rng.normal(0, 6, 2)
        raw[0, :4, column] = (cx, cy, rng.uniform(30, 90), rng.uniform(30, 90))
        raw[0, 4 + rng.integers(0, 3), column] = rng.uniform(0.3, 1.0)
    return raw


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def postprocess_table(runs: int) -> None:
    if not (ZOO / "yolov8n-tflite").is_dir():
        print(f"zoo not found at {ZOO}: nothing to measure (set EDGETM_ZOO)", file=sys.stderr)
        return
    # Ultralytics' TFLite boxes are fractions of the input; the peers get pixels, as from ONNX.
    pixels = np.array([640] * 4 + [1] * 80, np.float32)[None, :, None]
    cases = []
    image = read_image(ZOO / "images" / "bus.jpg")
    for name in ("yolov8n_integer_quant.tflite", "yolov8n_full_integer_quant.tflite"):
        detector = Detector(load_model(ZOO / "yolov8n-tflite" / name, threads=1))
        outputs = detector.model.run(detector.prepare(image).tensor)
        real = detector.model.outputs[0].dequantize(outputs[0]) * pixels
        cases.append((f"bus.jpg ({'int8' if 'full' in name else 'float'} out)", detector, outputs, real))
    synthetic = crowded()
    # No cap on detections here, so that all three do the same work.
    uncapped = Detector(cases[0][1].model, DetectOptions(max_det=10_000))
    cases.append(("crowded synthetic", uncapped, [synthetic / pixels], synthetic))
    print(f"decode + NMS of a [1, 84, 8400] output, conf {CONF}, IoU {IOU}, class-aware; median of {runs} "
          "interleaved runs (ms)\n")
    header = (f"{'output':22s} {'kept':>13s} {'edgetm':>8s} {'OpenCV':>8s} {'torchvision':>12s} {'vs OpenCV':>10s} "
              f"{'vs torchvision':>15s}")
    print(header)
    print("-" * len(header))
    for name, detector, outputs, real in cases:
        ours, peer, tv = [], [], []
        for _ in range(runs):
            ours.append(median_ms(lambda d=detector, o=outputs: d.postprocess(o), 1))
            peer.append(median_ms(lambda r=real: opencv(r), 1))
            if torchvision is not None:
                tv.append(median_ms(lambda r=real: vision(r), 1))
        kept = f"{len(detector.postprocess(outputs)[0])}/{opencv(real)}/{vision(real) if tv else '-'}"
        tv_text = f"{np.median(tv):12.3f}" if tv else f"{'not installed':>12s}"
        tv_ratio = f"{np.median(tv) / np.median(ours):14.1f}x" if tv else f"{'-':>15s}"
        print(f"{name:22s} {kept:>13s} {np.median(ours):8.3f} {np.median(peer):8.3f} {tv_text} "
              f"{np.median(peer) / np.median(ours):9.1f}x {tv_ratio}")
    print("kept: boxes kept by edgetm / OpenCV / torchvision (OpenCV computes IoU in double precision, edgetm and "
          "torchvision in the output's float32)")


def end_to_end_table(runs: int, threads: int) -> None:
    path = ZOO / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite"
    if not path.exists():
        print(f"\nzoo not found at {ZOO}: end-to-end skipped", file=sys.stderr)
        return
    from ai_edge_litert.interpreter import Interpreter

    photo = read_image(ZOO / "images" / "bus.jpg")
    frames = {"bus.jpg 810x1080": photo, "camera 640x480": cv2.resize(photo, (640, 480))}
    print(f"\nyolov8n full-integer TFLite, {threads} threads, median of {runs} interleaved runs (ms)\n")
    header = f"{'frame':18s} {'':10s} {'bare':>7s} {'edgetm':>7s} {'pre':>6s} {'infer':>7s} {'post':>6s} {'ratio':>6s}"
    print(header)
    print("-" * len(header))
    for name, frame in frames.items():
        detector = Detector(load_model(path, threads=threads))
        tensor = detector.prepare(frame).tensor.copy()
        bare = Interpreter(model_path=str(path), num_threads=threads)
        bare.allocate_tensors()
        input_index, output_index = bare.get_input_details()[0]["index"], bare.get_output_details()[0]["index"]

        def invoke(bare=bare, tensor=tensor, input_index=input_index, output_index=output_index):
            bare.set_tensor(input_index, tensor)
            bare.invoke()
            bare.get_tensor(output_index)

        for _ in range(10):
            invoke()
            detector(frame)
        bare_ms, ours_ms, stages = [], [], {"preprocess": [], "inference": [], "postprocess": []}
        for _ in range(runs):
            bare_ms.append(median_ms(invoke, 1))
            start = time.perf_counter()
            result = detector(frame)
            ours_ms.append((time.perf_counter() - start) * 1e3)
            for stage, value in result.latency_ms.items():
                stages[stage].append(value)
        loop_ms, bare_block = [], []
        # One stream throughout, as a video plays: it times preparing ahead against in turn, keeps the faster.
        prefetcher = Prefetch(itertools.repeat(frame), detector.prepare)
        stream = iter(prefetcher)
        for _ in range(WARMUP_ITEMS + 2 * PROBE_ROUNDS * PROBE_ITEMS):
            detector.infer(next(stream)[1])  # type: ignore[arg-type]
        for _ in range(max(runs // 20, 5)):
            bare_block.append(median_ms(lambda invoke=invoke: [invoke() for _ in range(20)], 1) / 20)
            start = time.perf_counter()
            for _ in range(20):
                detector.infer(next(stream)[1])  # type: ignore[arg-type]
            loop_ms.append((time.perf_counter() - start) * 1e3 / 20)
        stream.close()
        way = "ahead" if prefetcher.choice.ahead else "in turn"
        b, e = np.median(bare_ms), np.median(ours_ms)
        lb, le = np.median(bare_block), np.median(loop_ms)
        pre, inf, post = (np.median(stages[k]) for k in ("preprocess", "inference", "postprocess"))
        print(f"{name:18s} {'one image':10s} {b:7.2f} {e:7.2f} {pre:6.2f} {inf:7.2f} {post:6.2f} {b / e:5.2f}x")
        print(f"{'':18s} {'loop':10s} {lb:7.2f} {le:7.2f} {'':6s} {'':7s} {'':6s} {lb / le:5.2f}x  next frame {way}")
    print("\nbare: set_tensor + invoke + get_tensor on the letterboxed tensor; edgetm: Detector(frame) end to end "
          "(letterbox, run, decode, NMS, boxes mapped back); loop: one stream, its next frame prepared during "
          "inference (ahead) or in turn, as the loop timed faster.")


def rect_table(runs: int, threads: int) -> None:
    path = ZOO / "nudenet-yolov8n-320" / "320n.onnx"
    if not path.exists():
        print(f"\nzoo not found at {ZOO}: rectangular inference skipped", file=sys.stderr)
        return
    model = load_model(path, threads=threads, input_size=(640, 640))
    detectors = {"square": Detector(model, DetectOptions(rect=False)),
                 "rect": Detector(model, DetectOptions(rect=True))}
    print(f"\nYOLOv8n fp32 ONNX (dynamic axes) at 640, {threads} threads, Detector end to end, median of {runs} "
          "interleaved runs (ms)\n")
    header = f"{'image':22s} {'square':>8s} {'input':>9s} {'rect':>8s} {'input':>9s} {'speed-up':>9s} {'found':>12s}"
    print(header)
    print("-" * len(header))
    for name in ("zidane.jpg", "bus.jpg"):
        frame = read_image(ZOO / "images" / name)
        times: dict[str, list[float]] = {key: [] for key in detectors}
        for detector in detectors.values():
            detector(frame)  # the first run at a shape plans its memory
        for _ in range(runs):
            for key, detector in detectors.items():
                times[key].append(median_ms(lambda d=detector, f=frame: d(f), 1))
        shapes = {key: "x".join(map(str, d.preprocessor.size_of(d.prepare(frame).tensor)))
                  for key, d in detectors.items()}
        found = "/".join(str(len(d(frame).detections)) for d in detectors.values())
        square, rect = np.median(times["square"]), np.median(times["rect"])
        size = f"{frame.shape[1]}x{frame.shape[0]}"
        print(f"{name + ' ' + size:22s} {square:8.1f} {shapes['square']:>9s} {rect:8.1f} {shapes['rect']:>9s} "
              f"{square / rect:8.2f}x {found:>12s}")
    print("found: detections, square/rect (conf 0.25)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rect-runs", type=int, default=40, help="runs of each fp32 ONNX case (about 75 ms each)")
    parser.add_argument("--only-rect", action="store_true", help="measure rectangular inference alone")
    args = parser.parse_args()
    if not args.only_rect:
        postprocess_table(args.runs)
        end_to_end_table(args.runs, args.threads)
    rect_table(args.rect_runs, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
