#!/usr/bin/env python3
"""The peers' side of ``benchmarks/peers.py``: Ultralytics, torchvision and MediaPipe, each run by
the python of its own virtualenv, never edgetm's (peers.py makes those environments).

This file imports only numpy, OpenCV and the peer's own packages, never edgetm:

    python peer_side.py yolo --model M --images A [B ...] [--threads N] [--conf C] [--iou T] [--imgsz S]
    python peer_side.py nms --outputs raw.npy [--threads N] [--conf C] [--iou T] [--max-det K]
    python peer_side.py mediapipe --model M --images A [B ...] [--threads N]
    python peer_side.py yolo-once --model M --image I [--threads N] [--conf C] [--iou T] [--imgsz S]

``yolo``, ``nms`` and ``mediapipe`` load, warm up and print one JSON line (``ready`` and the
versions), then answer one JSON line on stdout for each JSON line read on stdin, so that peers.py
can alternate a call of edgetm's with a call of the peer's (A, B, A, B, ...):

- ``{"item": i, "method": m, "result": true}``: one call on input ``i``, timed here around the call
  alone: ``{"ms": wall, "cpu_ms": process CPU time, "result": the answer as JSON}`` (the answer is
  turned into JSON after the clock stops, and only when asked for);
- ``{"op": "paced", "item": i, "frames": n, "period_ms": p}``: ``n`` calls, one every ``p`` ms (a
  camera's pace): ``{"latency_ms": [...], "cpu_ms_per_frame": ...}``, where the CPU time is the
  process's over the whole run (idle threads that spin count) divided by ``n``;
- ``{"op": "stop"}`` or the end of stdin: exit.

``yolo-once`` is a whole user script: import Ultralytics, load, predict one image, print the
detections as one JSON line, exit (peers.py times it from spawn to that line).

Threads: Ultralytics gives LiteRT ``min(8, cores - 1)`` threads and ONNX Runtime its default;
``--threads`` sets both (and torch's) so that both sides run the same count. MediaPipe's Tasks API
runs XNNPACK on one thread on Linux; ``--threads N`` asks for N through the XNNPACK options of its
own acceleration proto, 0 keeps MediaPipe's default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve()


def _protocol_stream():
    """Replies go to the real stdout; anything a library prints on stdout goes to stderr instead,
    so that it can never be read as a reply."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)
    return out


def _timed(run: Callable[[int], object], item: int) -> tuple[object, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    answer = run(item)
    t1, c1 = time.perf_counter(), time.process_time()
    return answer, (t1 - t0) * 1e3, (c1 - c0) * 1e3


def paced(run: Callable[[int], object], item: int, frames: int, period_ms: float) -> dict:
    """``frames`` calls on a fixed clock: latency of each, process CPU time per frame over the run
    (peers.py runs edgetm's side with this too)."""
    period = period_ms / 1e3
    latency = []
    start_cpu = time.process_time()
    tick = time.perf_counter()
    for _ in range(frames):
        tick += period
        t0 = time.perf_counter()
        run(item)
        latency.append((time.perf_counter() - t0) * 1e3)
        while (left := tick - time.perf_counter()) > 0:
            time.sleep(left)
    return {"latency_ms": latency, "cpu_ms_per_frame": (time.process_time() - start_cpu) * 1e3 / frames}


def serve(methods: dict[str, Callable[[int], object]], describe: Callable[[object], object], ready: dict) -> None:
    out = _protocol_stream()
    out.write(json.dumps({"ready": True, **ready}) + "\n")
    default = next(iter(methods))
    for line in sys.stdin:
        request = json.loads(line)
        op = request.get("op", "run")
        if op == "stop":
            break
        run = methods[request.get("method", default)]
        if op == "paced":
            reply = paced(run, int(request["item"]), int(request["frames"]), float(request["period_ms"]))
        else:
            answer, ms, cpu_ms = _timed(run, int(request["item"]))
            reply = {"ms": ms, "cpu_ms": cpu_ms}
            if request.get("result"):
                reply["result"] = describe(answer)
        out.write(json.dumps(reply) + "\n")


# -- Ultralytics ----------------------------------------------------------------------------------
def _ultralytics_threads(threads: int) -> None:
    """Give Ultralytics' LiteRT and ONNX Runtime backends ``threads`` threads, as edgetm gets."""
    import onnxruntime
    import torch
    from ultralytics.nn.backends import litert
    from ultralytics.nn.backends import onnx as onnx_backend

    torch.set_num_threads(threads)
    litert.NUM_THREADS = threads  # read when the interpreter is made
    opened = onnx_backend.ONNXBackend.__init__

    def with_threads(self, *args, **kwargs):
        if kwargs.get("session_options") is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            kwargs["session_options"] = options
        opened(self, *args, **kwargs)

    onnx_backend.ONNXBackend.__init__ = with_threads


def _boxes(result) -> list:
    """Ultralytics' Results -> [[x1, y1, x2, y2, score, class], ...] in source pixels."""
    import numpy as np

    boxes = result.boxes
    rows = np.concatenate([boxes.xyxy.numpy(), boxes.conf.numpy()[:, None], boxes.cls.numpy()[:, None]], 1)
    return np.round(rows.astype(np.float64), 3).tolist()


def yolo(args: argparse.Namespace) -> None:
    import cv2
    import torch
    import ultralytics
    from ultralytics import YOLO

    _ultralytics_threads(args.threads)
    model = YOLO(args.model, task="detect")
    frames = [cv2.imread(path) for path in args.images]

    def predict(item: int):
        return model.predict(frames[item], conf=args.conf, iou=args.iou, imgsz=args.imgsz, verbose=False)[0]

    for item in range(len(frames)):
        for _ in range(3):
            predict(item)
    serve({"predict": predict}, _boxes, {"ultralytics": ultralytics.__version__, "torch": torch.__version__})


def yolo_once(args: argparse.Namespace) -> None:
    """A user's whole script, from import to the first detection."""
    out = _protocol_stream()
    from ultralytics import YOLO

    _ultralytics_threads(args.threads)
    result = YOLO(args.model, task="detect").predict(args.image, conf=args.conf, iou=args.iou, imgsz=args.imgsz,
                                                     verbose=False)[0]
    out.write(json.dumps({"detections": _boxes(result)}) + "\n")


def nms(args: argparse.Namespace) -> None:
    """Decode + class-aware NMS of a raw YOLOv8 output [1, 4 + nc, N] (boxes in pixels)."""
    import numpy as np
    import torch
    import torchvision
    import ultralytics
    from ultralytics.utils.nms import non_max_suppression

    torch.set_num_threads(args.threads)
    raw = np.load(args.outputs, allow_pickle=False)

    def numpy_decode():
        # The decode most YOLOv8 examples write, as benchmarks/detect.py's numpy_decode (this side
        # cannot import edgetm's benchmarks): best class per box, threshold, xywh -> xyxy.
        rows = raw[0].T
        scores_all = rows[:, 4:]
        classes = scores_all.argmax(1)
        scores = scores_all[np.arange(len(rows)), classes]
        keep = scores > args.conf
        xywh, scores, classes = rows[keep, :4], scores[keep], classes[keep]
        boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
        return boxes, scores, classes

    def vision(_: int):
        boxes, scores, classes = numpy_decode()
        kept = torchvision.ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                                           torch.from_numpy(classes), args.iou)
        return np.concatenate([boxes[kept], scores[kept, None], classes[kept, None]], 1)

    def ultra(_: int):
        return non_max_suppression(torch.from_numpy(raw), args.conf, args.iou, max_det=args.max_det)[0].numpy()

    for _ in range(5):
        vision(0)
        ultra(0)
    serve({"torchvision": vision, "ultralytics": ultra}, lambda kept: np.round(kept.astype(np.float64), 3).tolist(),
          {"torch": torch.__version__, "torchvision": torchvision.__version__, "ultralytics": ultralytics.__version__})


# -- MediaPipe ------------------------------------------------------------------------------------
def mediapipe(args: argparse.Namespace) -> None:
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
    from mediapipe.tasks.python.core.base_options import _AccelerationProto, _DelegateProto

    class XnnpackThreads(BaseOptions):
        """MediaPipe's BaseOptions with XNNPACK's thread count set in its acceleration proto."""

        def to_pb2(self):
            proto = super().to_pb2()
            proto.acceleration.CopyFrom(_AccelerationProto(xnnpack=_DelegateProto.Xnnpack(num_threads=args.threads)))
            return proto

    base = (XnnpackThreads if args.threads else BaseOptions)(model_asset_path=args.model)
    classifier = vision.ImageClassifier.create_from_options(vision.ImageClassifierOptions(base_options=base,
                                                                                          max_results=1))
    frames = [cv2.imread(path) for path in args.images]

    def classify(item: int):
        # What a user writes for an OpenCV frame: RGB, wrapped as a MediaPipe image.
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(frames[item], cv2.COLOR_BGR2RGB))
        return classifier.classify(image)

    def describe(result) -> list:
        best = result.classifications[0].categories[0]
        return [best.index, best.category_name, round(best.score, 5)]

    for item in range(len(frames)):
        for _ in range(5):
            classify(item)
    serve({"classify": classify}, describe, {"mediapipe": mp.__version__})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("yolo", "yolo-once"):
        command = commands.add_parser(name)
        command.add_argument("--model", required=True)
        if name == "yolo":
            command.add_argument("--images", nargs="+", required=True)
        else:
            command.add_argument("--image", required=True)
        command.add_argument("--imgsz", type=int, default=640)
    command = commands.add_parser("nms")
    command.add_argument("--outputs", required=True, help=".npy of a raw [1, 4 + nc, N] output, boxes in pixels")
    command.add_argument("--max-det", type=int, default=300)
    command = commands.add_parser("mediapipe")
    command.add_argument("--model", required=True)
    command.add_argument("--images", nargs="+", required=True)
    for command in commands.choices.values():
        command.add_argument("--threads", type=int, default=os.cpu_count() or 1)
        command.add_argument("--conf", type=float, default=0.25)
        command.add_argument("--iou", type=float, default=0.45)
    args = parser.parse_args()
    {"yolo": yolo, "yolo-once": yolo_once, "nms": nms, "mediapipe": mediapipe}[args.command](args)
    return 0


if __name__ == "__main__":
    # Run as a script, this folder comes first on sys.path, and its files (detect.py, run.py,
    # train.py...) must not shadow modules the peers import.
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE.parent]
    sys.exit(main())
