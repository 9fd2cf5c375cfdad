#!/usr/bin/env python3
"""MediaPipe itself, as a reference for edgetm's pose estimators, kept in a virtualenv of its own.

The ``mediapipe`` package is never an edgetm dependency: it pins numpy and brings its own OpenCV
build, which conflict with edgetm's. This module is used from both sides:

- from edgetm's environment (benchmarks, tests): ``reference_python()`` finds or makes the other
  environment, ``solution_landmarks()`` and ``make_task_bundle()`` run this file there;
- as a script, by that environment's python, where it imports only numpy, cv2 and mediapipe:

      python mediapipe_reference.py solution --frames DIR_OR_FILES... [--video] [--threads N]
      python mediapipe_reference.py task --detector pose_detection.tflite \\
          --landmarks pose_landmark_full.tflite --out pose_landmarker.task

``solution`` runs MediaPipe's own pose solution (``mp.solutions.pose.Pose``, model complexity 1,
the full landmark model) and prints JSON: for every image (or every frame of a video file) the 33
landmarks as [x, y, visibility] in pixels, or null when no one was found, and the time each
``process()`` call took. Stills run in static image mode; ``--video`` runs the frames as one
sequence (the landmark model follows the person from frame to frame) with landmark smoothing off,
so that its landmarks are those of each frame and can be compared with another estimator's.
``--threads N`` keeps the process (and so every thread MediaPipe starts) on N CPU cores, since
the solution has no thread setting of its own.

``task`` builds a MediaPipe Tasks pose landmarker bundle from the two networks of MediaPipe's pose
solution, adding the image-input metadata the Tasks API requires.

Set ``EDGETM_MEDIAPIPE_PYTHON`` to use an existing python that has mediapipe 0.10.21; otherwise
one is made on first use under ``${XDG_CACHE_HOME:-~/.cache}/edgetm/mediapipe-0.10.21``
(by ``ensure_environment``, which makes benchmarks/peers.py's Ultralytics environment too).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

MEDIAPIPE_VERSION = "0.10.21"
HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
CREATE_TIMEOUT_S = 900  # pip fetches mediapipe with jax, scipy and matplotlib: a few hundred MB
RUN_TIMEOUT_S = 900
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm")


class ReferenceUnavailable(RuntimeError):
    """MediaPipe's environment could not be made or did not run; the message says why."""


# -- edgetm's side ------------------------------------------------------------------------------
def environment_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "edgetm" / f"mediapipe-{MEDIAPIPE_VERSION}"


def _clean_env() -> dict[str, str]:
    """The environment for the other python: edgetm's PYTHONPATH must not leak into it."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


# Beside mediapipe, edgetm's own pure-Python dependencies, so that edgetm's MediaPipe Tasks
# estimator can run there too (with ROOT on its path).
ALSO_INSTALLED = ("pyyaml>=6.0",)


def _runs(python: Path, check: str) -> bool:
    """Whether ``python -c check`` exits 0 (a quick look at what an environment has)."""
    try:
        return subprocess.run([str(python), "-c", check], capture_output=True, timeout=120,
                              env=_clean_env()).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def ensure_environment(folder: Path, requirements: Sequence[str], check: str, create: bool = True,
                       timeout_s: float = CREATE_TIMEOUT_S, error: type[RuntimeError] = RuntimeError) -> Path:
    """The python of the virtualenv at ``folder`` once ``check`` (Python code) runs there; made with
    pip the first time, which needs the network and up to ``timeout_s``, unless ``create`` is false.
    A failed or half-made environment is removed, and ``error`` raised saying why."""
    python = folder / "bin" / "python"
    if python.exists() and _runs(python, check):
        return python
    if not create:
        raise error(f"no environment at {folder}")
    print(f"creating a virtualenv in {folder} (pip install {' '.join(requirements)})", file=sys.stderr, flush=True)
    base = shutil.which("python3") or sys.executable
    what = " ".join(requirements)
    try:
        subprocess.run([base, "-m", "venv", "--clear", str(folder)], capture_output=True, text=True, timeout=120,
                       check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements],
                       capture_output=True, text=True, timeout=timeout_s, check=True, env=_clean_env())
    except subprocess.CalledProcessError as failure:
        shutil.rmtree(folder, ignore_errors=True)  # a half-made environment would be taken for a working one
        raise error(f"installing {what} failed: {_last_line(failure.stderr or failure.stdout or '')}") from None
    except subprocess.TimeoutExpired as failure:
        shutil.rmtree(folder, ignore_errors=True)
        raise error(f"installing {what} took over {failure.timeout:.0f} s") from None
    except OSError as failure:
        shutil.rmtree(folder, ignore_errors=True)
        raise error(f"cannot make a virtualenv with {base}: {failure}") from None
    if not _runs(python, check):
        raise error(f"{python} was made but cannot import what was installed")
    return python


def reference_python(create: bool = True) -> Path:
    """The python that has mediapipe: ``$EDGETM_MEDIAPIPE_PYTHON``, else a virtualenv in the user's
    cache, made here the first time (which needs the network) unless ``create`` is false."""
    given = os.environ.get("EDGETM_MEDIAPIPE_PYTHON")
    if given:
        return Path(given)
    folder = environment_dir()
    check = f"import mediapipe, yaml; assert mediapipe.__version__ == {MEDIAPIPE_VERSION!r}"
    if not create and not _runs(folder / "bin" / "python", check):
        raise ReferenceUnavailable(f"no MediaPipe environment at {folder} (benchmarks/pose.py makes it)")
    return ensure_environment(folder, (f"mediapipe=={MEDIAPIPE_VERSION}", *ALSO_INSTALLED), check,
                              error=ReferenceUnavailable)


def _run_here(python: Path, arguments: list[str], timeout_s: float) -> str:
    """Run this file with the other python; its stdout."""
    try:
        done = subprocess.run([str(python), str(HERE), *arguments], capture_output=True, text=True,
                              timeout=timeout_s, env=_clean_env())
    except subprocess.TimeoutExpired:
        raise ReferenceUnavailable(f"MediaPipe ({' '.join(arguments[:1])}) took over {timeout_s:.0f} s") from None
    except OSError as error:
        raise ReferenceUnavailable(f"cannot run {python}: {error}") from None
    if done.returncode != 0:
        raise ReferenceUnavailable(f"MediaPipe ({arguments[0]}) failed: {_last_line(done.stderr)}")
    return done.stdout


def solution_landmarks(python: Path, paths: Sequence[str | Path], video: bool = False, *,
                       threads: int | None = None, timeout_s: float = RUN_TIMEOUT_S) -> dict:
    """MediaPipe's pose solution on images, folders of images or a video file: the parsed JSON
    (``images``: per image its ``landmarks``, 33 [x, y, visibility] in pixels or None; ``process_ms``;
    ``done_s``, the clock after each image; ``fps``). ``threads``: the CPU cores it may use."""
    arguments = ["solution", "--frames", *map(str, paths)]
    if video:
        arguments.append("--video")
    if threads is not None:
        arguments += ["--threads", str(threads)]
    out = _run_here(python, arguments, timeout_s)
    return json.loads(_last_line(out))  # MediaPipe may print before the JSON line


def make_task_bundle(python: Path, detector_tflite: str | Path, landmarks_tflite: str | Path,
                     out_path: str | Path) -> Path:
    """A MediaPipe Tasks pose landmarker (.task) made from the pose solution's two networks."""
    _run_here(python, ["task", "--detector", str(detector_tflite), "--landmarks", str(landmarks_tflite),
                       "--out", str(out_path)], 300)
    return Path(out_path)


# -- MediaPipe's side: runs in its environment, with numpy, cv2 and mediapipe only ---------------
def _restrict_cores(threads: int | None) -> list[int]:
    """Keep this process on ``threads`` cores: set before mediapipe starts its threads, which inherit it."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if threads and cores:
        cores = cores[:threads]
        os.sched_setaffinity(0, cores)
    return cores


def _frames(paths: Sequence[str]) -> Iterator[tuple[str, object]]:
    """(name, BGR image) for every image of the paths, folders in name order, videos frame by frame."""
    import cv2

    for given in paths:
        path = Path(given)
        if path.is_dir():
            for inner in sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
                yield str(inner), cv2.imread(str(inner))
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            capture = cv2.VideoCapture(str(path))
            index = 0
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                yield f"{path}#{index}", image
                index += 1
            capture.release()
        else:
            yield str(path), cv2.imread(str(path))


def run_solution(paths: Sequence[str], video: bool, threads: int | None) -> dict:
    cores = _restrict_cores(threads)
    import cv2
    import mediapipe as mp

    pose = mp.solutions.pose.Pose(static_image_mode=not video, model_complexity=1, smooth_landmarks=False,
                                  enable_segmentation=False, min_detection_confidence=0.5,
                                  min_tracking_confidence=0.5)
    images, process_ms, done_s = [], [], []
    for name, image in _frames(paths):
        if image is None:
            images.append({"path": name, "landmarks": None, "error": "unreadable"})
            continue
        height, width = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        found = pose.process(rgb).pose_landmarks
        end = time.perf_counter()
        process_ms.append((end - start) * 1e3)
        done_s.append(end)
        landmarks = None if found is None else \
            [[round(p.x * width, 3), round(p.y * height, 3), round(p.visibility, 4)] for p in found.landmark]
        images.append({"path": name, "landmarks": landmarks})
    pose.close()
    fps = (len(done_s) - 1) / (done_s[-1] - done_s[0]) if len(done_s) > 1 and done_s[-1] > done_s[0] else None
    return {"mediapipe": mp.__version__, "video": video, "cores": cores, "images": images,
            "process_ms": [round(t, 3) for t in process_ms], "done_s": done_s, "fps": fps}


def build_task(detector: str, landmarks: str, out: str) -> None:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils

    def with_metadata(path: str, mean: float, std: float, outputs: int) -> bytes:
        writer = metadata_writer.MetadataWriter.create(bytearray(Path(path).read_bytes()))
        writer.add_general_info(Path(path).name).add_image_input(norm_mean=[mean], norm_std=[std])
        for _ in range(outputs):
            writer.add_feature_output()
        return bytes(writer.populate()[0])

    # The detector takes RGB in [-1, 1] and gives boxes and scores; the landmark model takes [0, 1]
    # and gives landmarks, presence, segmentation, heatmap and world landmarks.
    model_asset_bundle_utils.create_model_asset_bundle({
        "pose_detector.tflite": with_metadata(detector, 127.5, 127.5, 2),
        "pose_landmarks_detector.tflite": with_metadata(landmarks, 0.0, 255.0, 5)}, out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    solution = commands.add_parser("solution", help="MediaPipe's pose solution; JSON on stdout")
    solution.add_argument("--frames", nargs="+", required=True, help="images, folders of images, or a video file")
    solution.add_argument("--video", action="store_true", help="one sequence: track from frame to frame")
    solution.add_argument("--threads", type=int, default=None, help="CPU cores the process may use")
    task = commands.add_parser("task", help="a pose landmarker .task from the two networks")
    task.add_argument("--detector", required=True)
    task.add_argument("--landmarks", required=True)
    task.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "solution":
        print(json.dumps(run_solution(args.frames, args.video, args.threads)))
    else:
        build_task(args.detector, args.landmarks, args.out)
    return 0


if __name__ == "__main__":
    # Run as a script, this folder comes first on sys.path, and its files (pose.py, audio.py...) must
    # not shadow modules mediapipe imports.
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE.parent]
    sys.exit(main())
