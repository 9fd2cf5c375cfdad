#!/usr/bin/env python3
"""Pose estimation through edgetm's pipeline, against a bare LiteRT loop and against MediaPipe.

The input is made here: a 640x480 MJPEG clip of the astronaut photo from the zoo, cropped at an
offset that moves a few pixels each frame, so that tracking has someone to follow.

- MoveNet Lightning and BlazePose (full), tracking on and off: edgetm's ``Pipeline`` over the
  clip (``PoseOptions(tracking=...)``, every frame, in order) against the loop one writes by
  hand: OpenCV decodes a frame, crops and scales it, and the raw LiteRT interpreter runs
  (set_tensor, invoke, get_tensor). The bare loops make the same invokes edgetm does: MoveNet one
  per frame on a square (the whole frame, or around the last keypoints); BlazePose the detector
  and the landmark model each frame, or with tracking the detector only on the first frame (or
  after losing the person) and the landmark model on the region the last landmarks give. Both
  run in this process with the same threads; the pipeline decodes the next frame on its own
  thread while one runs (on two cores with one LiteRT thread, that thread gets the other core).
- BlazePose through edgetm against MediaPipe's own pose solution (mediapipe 0.10.21, run in its
  own virtualenv by ``mediapipe_reference.py``), both tracking on the same clip, each in a process
  kept on the same ``--threads`` CPU cores (MediaPipe starts threads of its own and has no thread
  setting). Also the median distance between their 33 landmarks on the frames where both found
  the person, and on every 10th frame as a still (MediaPipe in static image mode, edgetm without
  tracking), which separates the networks and their pre-processing from the two ways of tracking.
  Skipped, with the reason, when MediaPipe's environment cannot be made.

fps is frames / (last result - first result), so start-up is not counted; runs alternate
(reference, edgetm, reference, edgetm, ...) and medians are reported. The notes give edgetm's
own stage timings (``Poses.latency_ms``, median ms per frame) and the frames with a person found.

    .venv/bin/python benchmarks/pose.py [--frames 300] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))

MOVENET = ZOO / "coral-movenet" / "movenet_single_pose_lightning_ptq.tflite"
DETECTOR = ZOO / "mediapipe-pose" / "pose_detection.tflite"
LANDMARKS = ZOO / "mediapipe-pose" / "pose_landmark_full.tflite"
WIDTH, HEIGHT = 640, 480
MIN_SCORE, MIN_KEYPOINTS = 0.3, 5  # PoseOptions' defaults: what counts as a person found
MOVENET_SIZE, DETECTOR_SIZE, LANDMARK_SIZE = 192, 224, 256
WORKER_TIMEOUT_S = 600
STILL_EVERY = 10  # every 10th frame of the clip is also compared as a still


@dataclass
class Run:
    fps: float
    frames: int
    found: int  # frames with a person
    stages: dict[str, float] = field(default_factory=dict)  # edgetm: median ms per frame of each stage
    detections: int | None = None  # BlazePose: detector invokes
    landmarks: list[list[list[float]] | None] | None = None  # per frame: 33 [x, y, visibility]


def fps_of(done: list[float]) -> float:
    return (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 and done[-1] > done[0] else 0.0


def make_video(path: Path, frames: int) -> None:
    """The astronaut, enlarged, seen through a 640x480 window that sways about 3 px a frame."""
    photo = cv2.imread(str(ZOO / "images" / "astronaut.png"))
    big = cv2.resize(photo, (704, 704), interpolation=cv2.INTER_LINEAR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (WIDTH, HEIGHT))
    for i in range(frames):
        x = round(32 + 32 * math.sin(2 * math.pi * i / 64))
        y = round(24 + 24 * math.sin(2 * math.pi * i / 90))
        writer.write(big[y:y + HEIGHT, x:x + WIDTH])
    writer.release()


# -- edgetm ---------------------------------------------------------------------------------------
def run_edgetm(model_path: Path, video: Path, tracking: bool, threads: int, keep_landmarks: bool = False) -> Run:
    from edgetm.model import load_model
    from edgetm.pose.base import PoseOptions
    from edgetm.runtime.pipeline import Pipeline

    model = load_model(model_path, threads=threads)
    pipeline = Pipeline(model, {"type": "video", "path": str(video)}, PoseOptions(estimator="auto", tracking=tracking))
    done: list[float] = []
    stages: dict[str, list[float]] = {}
    found = 0
    landmarks: list = []
    for seen in pipeline:
        done.append(time.perf_counter())
        poses = seen.result
        for stage, ms in poses.latency_ms.items():
            stages.setdefault(stage, []).append(ms)
        found += bool(poses.persons)
        if keep_landmarks:
            extra = poses.persons[0].extra if poses.persons else []
            landmarks.append([[k.x, k.y, k.score] for k in extra] or None)
    estimator = pipeline.task.estimator
    return Run(fps_of(done), len(done), found, {k: float(np.median(v)) for k, v in stages.items()},
               getattr(estimator, "detections", None), landmarks if keep_landmarks else None)


def run_edgetm_on_cores(video: Path, threads: int) -> Run:
    """edgetm's BlazePose in a process of its own kept on ``threads`` cores, as MediaPipe's is."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(video), "--threads",
                           str(threads)], capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def restrict_cores(threads: int) -> list[int]:
    """Keep this process on the first ``threads`` cores it may use; threads started later inherit it."""
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)
    return cores


# -- bare LiteRT ----------------------------------------------------------------------------------
def interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path), num_threads=threads)
    runner.allocate_tensors()
    return runner


def output_index(runner, shape: tuple[int, ...]) -> int:
    return next(d["index"] for d in runner.get_output_details() if tuple(d["shape"]) == shape)


def square_crop(image: np.ndarray, x: float, y: float, side: float, size: int) -> np.ndarray:
    """The square (x, y, side) of the image scaled to size x size, black outside the image."""
    scale = size / side
    matrix = np.float32([[scale, 0, -x * scale], [0, scale, -y * scale]])
    return cv2.warpAffine(image, matrix, (size, size))


def bare_movenet(video: Path, tracking: bool, threads: int) -> Run:
    runner = interpreter(MOVENET, threads)
    source = runner.get_input_details()[0]["index"]
    output = runner.get_output_details()[0]["index"]
    capture = cv2.VideoCapture(str(video))
    whole = ((WIDTH - max(WIDTH, HEIGHT)) / 2, (HEIGHT - max(WIDTH, HEIGHT)) / 2, float(max(WIDTH, HEIGHT)))
    box = whole
    done, found = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        x, y, side = box
        runner.set_tensor(source, cv2.cvtColor(square_crop(frame, x, y, side, MOVENET_SIZE), cv2.COLOR_BGR2RGB)[None])
        runner.invoke()
        keypoints = runner.get_tensor(output)[0, 0]  # (y, x, score) in the square
        done.append(time.perf_counter())
        seen = keypoints[:, 2] >= MIN_SCORE
        found += int(seen.sum() >= MIN_KEYPOINTS)
        if tracking and seen.sum() >= MIN_KEYPOINTS:
            # Next frame: a square 2.5 times the seen keypoints' extent (tighter ones lose the arms).
            points = np.stack([x + keypoints[seen, 1] * side, y + keypoints[seen, 0] * side], axis=1)
            centre = (points.min(0) + points.max(0)) / 2
            half = max(float((points.max(0) - points.min(0)).max()) * 1.25, 32.0)
            box = (centre[0] - half, centre[1] - half, 2 * half)
        else:
            box = whole
    return Run(fps_of(done), len(done), found)


def detector_anchors() -> np.ndarray:
    """[2254, 2] centres of MediaPipe's pose detector anchors: 2 per cell at strides 8 and 16, 6 at 32."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        cells = -(-DETECTOR_SIZE // stride)
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def region_matrix(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Image -> landmark-crop affine for BlazePose's rotated square: centred on ``start``, 2.5 times
    its distance to ``end``, turned so that ``end`` is straight above."""
    side = 2.5 * float(np.hypot(*(end - start)))
    angle = math.pi / 2 - math.atan2(start[1] - end[1], end[0] - start[0])
    across = np.array([math.cos(angle), math.sin(angle)]) * side
    down = np.array([-math.sin(angle), math.cos(angle)]) * side
    corner = start - across / 2 - down / 2
    return cv2.getAffineTransform(np.float32([corner, corner + across, corner + down]),
                                  np.float32([[0, 0], [LANDMARK_SIZE, 0], [0, LANDMARK_SIZE]]))


def bare_blazepose(video: Path, tracking: bool, threads: int) -> Run:
    detector, landmarker = interpreter(DETECTOR, threads), interpreter(LANDMARKS, threads)
    detector_input = detector.get_input_details()[0]["index"]
    boxes_out, scores_out = output_index(detector, (1, 2254, 12)), output_index(detector, (1, 2254, 1))
    landmark_input = landmarker.get_input_details()[0]["index"]
    landmarks_out, presence_out = output_index(landmarker, (1, 195)), output_index(landmarker, (1, 1))
    anchors = detector_anchors()
    scale = DETECTOR_SIZE / max(WIDTH, HEIGHT)
    pad = np.array([DETECTOR_SIZE - WIDTH * scale, DETECTOR_SIZE - HEIGHT * scale]) / 2
    letterbox = np.float32([[scale, 0, pad[0]], [0, scale, pad[1]]])
    capture = cv2.VideoCapture(str(video))
    matrix: np.ndarray | None = None
    done, found, detections = [], 0, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if matrix is None:
            rgb = cv2.cvtColor(cv2.warpAffine(frame, letterbox, (DETECTOR_SIZE, DETECTOR_SIZE)), cv2.COLOR_BGR2RGB)
            detector.set_tensor(detector_input, (rgb.astype(np.float32) / 127.5 - 1.0)[None])
            detector.invoke()
            detections += 1
            logits = detector.get_tensor(scores_out)[0, :, 0]
            best = int(np.argmax(logits))
            if logits[best] < 0:  # below probability 0.5: no one
                done.append(time.perf_counter())
                continue
            raw = detector.get_tensor(boxes_out)[0, best]
            points = (raw[4:8].reshape(2, 2) + anchors[best] * DETECTOR_SIZE - pad) / scale
            matrix = region_matrix(points[0], points[1])
        rgb = cv2.cvtColor(cv2.warpAffine(frame, matrix, (LANDMARK_SIZE, LANDMARK_SIZE)), cv2.COLOR_BGR2RGB)
        landmarker.set_tensor(landmark_input, (rgb.astype(np.float32) / 255.0)[None])
        landmarker.invoke()
        values = landmarker.get_tensor(landmarks_out).reshape(39, 5)
        present = float(landmarker.get_tensor(presence_out)[0, 0]) >= 0.5
        done.append(time.perf_counter())
        found += present
        if tracking and present:
            back = cv2.invertAffineTransform(matrix)
            points = values[:, :2] @ back[:, :2].T + back[:, 2]
            matrix = region_matrix(points[33], points[34])  # the auxiliary landmarks place the next region
        else:
            matrix = None
    return Run(fps_of(done), len(done), found, detections=detections)


# -- MediaPipe ------------------------------------------------------------------------------------
def landmark_distances(ours: list, theirs: list) -> tuple[float, float, int]:
    """Median pixel distance between two estimators' 33 landmarks over the frames where both found the
    person: over all landmarks, and over those MediaPipe says are visible (>= 0.5). And that frame count."""
    every, visible, frames = [], [], 0
    for a, b in zip(ours, theirs, strict=False):
        if not a or not b:
            continue
        a, b = np.asarray(a), np.asarray(b)
        distance = np.hypot(*(a[:33, :2] - b[:33, :2]).T)
        every.append(distance)
        visible.append(distance[b[:33, 2] >= 0.5])
        frames += 1
    if not frames:
        return math.nan, math.nan, 0
    return float(np.median(np.concatenate(every))), float(np.median(np.concatenate(visible))), frames


def still_landmarks(paths: list[Path], threads: int) -> list:
    """edgetm's BlazePose on unrelated stills (no tracking): 33 [x, y, visibility] per image, or None."""
    from edgetm.model import load_model
    from edgetm.pose.base import PoseOptions
    from edgetm.pose.estimators import estimator_for

    estimator = estimator_for(load_model(DETECTOR, threads=threads), PoseOptions(tracking=False))
    out = []
    for path in paths:
        persons, _ = estimator.estimate(cv2.imread(str(path)))
        out.append([[k.x, k.y, k.score] for k in persons[0].extra] if persons else None)
    return out


def write_stills(video: Path, folder: Path, every: int) -> list[Path]:
    """Every ``every``-th frame of the clip as PNG, so that both sides read the very same pixels."""
    folder.mkdir()
    capture = cv2.VideoCapture(str(video))
    paths, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            paths.append(folder / f"{index:05d}.png")
            cv2.imwrite(str(paths[-1]), frame)
        index += 1
    return paths


def against_mediapipe(video: Path, rounds: int, threads: int) -> str:
    """The MediaPipe row of the table, or why it is skipped."""
    from benchmarks.mediapipe_reference import ReferenceUnavailable, reference_python, solution_landmarks

    name = f"BlazePose full, tracking on, {threads} core{'s' * (threads > 1)}"
    try:
        python = reference_python()
        theirs, ours = [], []
        for _ in range(rounds):
            theirs.append(solution_landmarks(python, [video], video=True, threads=threads))
            ours.append(run_edgetm_on_cores(video, threads))
        # Stills tell the networks and their pre-processing apart from the two ways of tracking.
        stills = write_stills(video, video.parent / "stills", STILL_EVERY)
        their_stills = solution_landmarks(python, stills, video=False, threads=threads)
    except ReferenceUnavailable as error:
        return f"{name:36s} {'MediaPipe solution':19s} skipped: {error}"
    m = float(np.median([r["fps"] for r in theirs]))
    e = float(np.median([r.fps for r in ours]))
    every, visible, both = landmark_distances(ours[0].landmarks or [], [i["landmarks"] for i in theirs[0]["images"]])
    still_every, still_visible, still_both = landmark_distances(
        still_landmarks(stills, threads), [i["landmarks"] for i in their_stills["images"]])
    found = sum(i["landmarks"] is not None for i in theirs[0]["images"])
    return (f"{name:36s} {'MediaPipe ' + theirs[0]['mediapipe']:19s} {m:8.1f} {e:10.1f} {e / m:5.2f}x  "
            f"person {ours[0].found}/{found}; landmarks apart (median px, visible/all 33): tracking "
            f"{visible:.1f}/{every:.1f} ({both} frames), stills {still_visible:.1f}/{still_every:.1f} "
            f"({still_both} frames)")


# -- the table ------------------------------------------------------------------------------------
def stage_note(run: Run) -> str:
    stages = " ".join(f"{stage} {ms:.1f}" for stage, ms in run.stages.items())
    return f"edgetm ms: {stages} | {1e3 / run.fps:.1f}/frame" if run.fps else ""


def row(name: str, bare: list[Run], ours: list[Run]) -> str:
    b = float(np.median([r.fps for r in bare]))
    e = float(np.median([r.fps for r in ours]))
    detections = f", detector {ours[0].detections}/{bare[0].detections}" if ours[0].detections is not None else ""
    return (f"{name:36s} {'bare LiteRT':19s} {b:8.1f} {e:10.1f} {e / b:5.2f}x  person {ours[0].found}/"
            f"{bare[0].found}{detections}; {stage_note(ours[0])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # edgetm's side of the MediaPipe row
    args = parser.parse_args()
    if args.worker:
        restrict_cores(args.threads)
        print(json.dumps(asdict(run_edgetm(DETECTOR, args.worker, True, args.threads, keep_landmarks=True))))
        return 0
    cases = [("MoveNet Lightning, tracking on", MOVENET, bare_movenet, True),
             ("MoveNet Lightning, tracking off", MOVENET, bare_movenet, False),
             ("BlazePose full, tracking on", DETECTOR, bare_blazepose, True),
             ("BlazePose full, tracking off", DETECTOR, bare_blazepose, False)]
    missing = [p for p in (MOVENET, DETECTOR, LANDMARKS, ZOO / "images" / "astronaut.png") if not p.is_file()]
    if missing:
        print(f"not in the zoo at {ZOO}: {', '.join(map(str, missing))} (set EDGETM_ZOO)", file=sys.stderr)
        return 1
    interpreter(MOVENET, args.threads)  # LiteRT announces its XNNPACK delegate once: before the table, not in it
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "astronaut.avi"
        make_video(video, args.frames)
        print(f"pose: {args.frames} frames {WIDTH}x{HEIGHT} MJPEG (the astronaut, moving), {args.threads} LiteRT "
              f"thread{'s' * (args.threads > 1)}, fps: median of {args.rounds} alternating rounds\n")
        header = f"{'case':36s} {'reference':19s} {'ref fps':>8s} {'edgetm fps':>10s} {'ratio':>6s}  notes"
        print(header)
        print("-" * 120)
        for name, model, bare_loop, tracking in cases:
            bare, ours = [], []
            for _ in range(args.rounds):
                bare.append(bare_loop(video, tracking, args.threads))
                ours.append(run_edgetm(model, video, tracking, args.threads))
            print(row(name, bare, ours), flush=True)
        print(against_mediapipe(video, args.rounds, args.threads))
    print("\nbare: cv2.VideoCapture, the crop scaled by one warpAffine, set_tensor/invoke/get_tensor, in one loop. "
          "edgetm: Pipeline over the\nvideo source with PoseOptions(tracking=...). person: frames with a person found "
          "(edgetm/reference); detector: detector invokes.\nedgetm ms: median of Poses.latency_ms per stage; /frame: "
          "1000 / fps, the rest is decoding (on its own thread) and the pipeline.\nMediaPipe: "
          "mp.solutions.pose.Pose(model_complexity=1, smooth_landmarks=False) on the same clip, it and edgetm each in "
          "a\nprocess kept on the same cores. Its video mode places the next region from its auxiliary landmarks "
          "after a one-euro filter\nthat smooth_landmarks does not turn off; edgetm places it from the raw ones, "
          "hence a larger gap when tracking than on stills.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
