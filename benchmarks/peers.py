#!/usr/bin/env python3
"""edgetm against what its users would otherwise pick, on the same model files and the same frames.

One table, one line per measurement, with a ratio column: the peer's time (or CPU time) over
edgetm's, so that above 1 edgetm is faster (or cheaper). The answers are compared too (same top
label; same boxes: each of one side's boxes matched by one of the other's, same class, IoU at least
0.9), and where they differ the notes under the table say why, found by re-running edgetm the
peer's way when the cause is known.

Rows:
 1. yolov8n full-integer TFLite (zoo yolov8n-tflite) end to end on bus.jpg and zidane.jpg:
    ``Detector(frame)`` against Ultralytics ``YOLO(path).predict(frame)`` (letterbox, LiteRT,
    decode, NMS, boxes mapped back, on both sides); conf 0.25, IoU 0.45 on both.
 2. MobileNetV2 224 quant (zoo coral-mobilenet, ImageNet labels) one 640x480 frame at a time:
    ``Classifier(frame)`` against MediaPipe Tasks' ``ImageClassifier`` (BGR->RGB and mp.Image
    included, as a user writes it), at the chosen threads and at 1 thread; then paced like a 30
    fps camera (a frame every 33 ms), each at its default threads (edgetm all cores, MediaPipe 1):
    latency per frame and process CPU time per frame (idle time between frames included).
 3. A Teachable Machine float export (models/banana) classifying files, in this process, image by
    image: ``Classifier(read_image(path))`` (what ``edgetm classify`` does) against Teachable
    Machine's Python snippet (PIL open, ``ImageOps.fit`` LANCZOS 224, ``/127.5 - 1``, LiteRT).
 4. Process start to first detection: ``edgetm detect MODEL bus.jpg --json`` against a fresh
    Python process that imports Ultralytics and predicts, same model and image; spawn to the first
    line on stdout.
 5. YOLOv8n fp32 ONNX with dynamic axes (zoo nudenet-yolov8n-320) at 640, end to end, on a 16:9
    frame (zidane.jpg) and a 4:3 one (640x480 cut from it): edgetm as it runs by default, and with
    ``DetectOptions(rect=True)``, against Ultralytics on the same file (which runs a dynamic ONNX
    model rectangular by default).
 6. Decode + class-aware NMS of a crowded synthetic YOLOv8 output (benchmarks/detect.py's: 2,000
    candidates in 3 classes): ``Detector.postprocess`` against the usual numpy decode then
    torchvision's ``batched_nms``, and Ultralytics' ``non_max_suppression``, on the same array.
 7. ``edgetm run models/banana --source clip.avi --stdout`` against a hand-written OpenCV + LiteRT
    loop printing each result: process spawn to the first result line.
 8. ``edgetm classify models/banana PHOTO`` against Teachable Machine's snippet as a script:
    process spawn to exit.
 9. The demo model (sub-millisecond) in edgetm's streaming loop against a bare loop of invokes on a
    ready tensor (benchmarks/classify.py's measurement).
10. MobileNetV2 quant, one image: ``Classifier(frame)`` against a bare invoke on a ready tensor
    (classify.py again). In 9 and 10 the bare side does no preprocessing at all, so these ratios
    are below 1 by construction: they show what edgetm adds.
11. ONNX Runtime at rest: a session run every 33 ms; the process CPU time spent between runs, for
    edgetm's session (``load_model``) against a default ``onnxruntime.InferenceSession``, each in
    a fresh process.

How the comparison is kept fair:
- the same model file, the same decoded frames (written losslessly for the peer processes), the
  same thread count on both sides (``--threads``, default all cores): LiteRT and ONNX Runtime
  threads on Ultralytics' side, XNNPACK threads on MediaPipe's (peer_side.py says how), torch's;
- in-process rows alternate one call of edgetm's with one of the peer's (A, B, A, B, ...) after a
  warm-up, and report medians; the peers run in their own process, timed there around the call
  alone, while this process waits, so neither side competes with the other for the two cores;
- process rows alternate spawns after one discarded warm-up of each (file cache);
- on a shared machine medians move with other processes' load (two threads on two cores wait for
  whichever core is taken); where edgetm's median is the slower, a note gives each side's fastest
  call too;
- the peers live in virtualenvs of their own, never edgetm's: Ultralytics with torch and
  torchvision under ``${XDG_CACHE_HOME:-~/.cache}/edgetm/peers-ultralytics-...`` (made here with
  pip from PyPI the first time, about 5 GB with torch's CUDA libraries), MediaPipe in the
  environment ``mediapipe_reference.py`` makes. Where one cannot be made, its rows are skipped,
  saying why.

    .venv/bin/python benchmarks/peers.py [--runs 30] [--starts 5] [--threads N] [--only 1,2,5-7]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import edgetm  # noqa: E402
from benchmarks import classify as classify_bench  # noqa: E402
from benchmarks import detect as detect_bench  # noqa: E402
from benchmarks import fidelity  # noqa: E402
from benchmarks import run as run_bench  # noqa: E402
from benchmarks.mediapipe_reference import ReferenceUnavailable, ensure_environment, reference_python  # noqa: E402
from benchmarks.peer_side import paced as paced_calls  # noqa: E402
from edgetm.model import ModelOptions, load_model  # noqa: E402
from edgetm.model.threads import load_for_pacing  # noqa: E402
from edgetm.vision.classify import Classifier, ClassifyOptions  # noqa: E402
from edgetm.vision.detect import DetectOptions, Detector  # noqa: E402
from edgetm.vision.image import read_image  # noqa: E402
from edgetm.vision.preprocess import PreprocessOptions, ResizeMode  # noqa: E402

ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
PEER_SIDE = Path(__file__).resolve().parent / "peer_side.py"
DEMO = ROOT / "models" / "banana"
YOLO_TFLITE = ZOO / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite"
YOLO_ONNX = ZOO / "nudenet-yolov8n-320" / "320n.onnx"
MOBILENET = ZOO / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite"
IMAGENET_LABELS = ZOO / "coral-mobilenet" / "imagenet_labels.txt"
CONF, IOU = 0.25, 0.45  # Ultralytics' predict defaults to IoU 0.7: both sides are given these
SAME_BOX_IOU = 0.9  # two boxes of one class at least this close are the same detection
CAMERA_PERIOD_MS = 1000 / 30  # a 30 fps camera
PACED_FRAMES = 60  # two seconds of camera per block
CLIP_FRAMES = 60

# The Ultralytics environment. torch is pinned with ``===`` so that pip takes PyPI's build and not a
# local one (a find-links folder may hold 2.13.0+cpu, which PyPI's torchvision cannot load).
ULTRALYTICS_VERSION = "8.4.190"
TORCH_VERSION = "2.13.0"
ULTRALYTICS_REQUIREMENTS = (f"ultralytics=={ULTRALYTICS_VERSION}", f"torch==={TORCH_VERSION}", "torchvision==0.28.0",
                            "ai-edge-litert==2.3.0", "onnxruntime==1.32.0", "onnx==1.23.2")
ULTRALYTICS_CHECK = (f"import ultralytics, torch, torchvision, ai_edge_litert, onnxruntime; "
                     f"assert ultralytics.__version__ == {ULTRALYTICS_VERSION!r}")
CREATE_TIMEOUT_S = 1800  # torch from PyPI brings about 4 GB of CUDA libraries
READY_TIMEOUT_S = 300  # a peer's first import of torch or mediapipe from a cold disk
CALL_TIMEOUT_S = 120
PROCESS_TIMEOUT_S = 180

# Teachable Machine's Python snippet for its TensorFlow Lite export, on LiteRT, as a user runs it.
TM_SNIPPET = r"""
import sys
import numpy as np
from PIL import Image, ImageOps
from ai_edge_litert.interpreter import Interpreter

model, labels, photo, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
class_names = open(labels).readlines()
interpreter = Interpreter(model_path=model, num_threads=threads)
interpreter.allocate_tensors()
image = ImageOps.fit(Image.open(photo).convert("RGB"), (224, 224), Image.Resampling.LANCZOS)
data = (np.asarray(image).astype(np.float32) / 127.5) - 1
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], data[None])
interpreter.invoke()
prediction = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
index = int(np.argmax(prediction))
print("Class:", class_names[index][2:].strip(), "Confidence Score:", float(prediction[index]), flush=True)
"""

# The loop one writes by hand for a camera or a video: OpenCV decodes and resizes, LiteRT runs.
HAND_LOOP = r"""
import sys
import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

model, labels, video, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
names = [line.strip().split(" ", 1)[-1] for line in open(labels)]
interpreter = Interpreter(model_path=model, num_threads=threads)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
output = interpreter.get_output_details()[0]["index"]
_, height, width, _ = detail["shape"]
capture = cv2.VideoCapture(video)
while True:
    ok, frame = capture.read()
    if not ok:
        break
    rgb = cv2.cvtColor(cv2.resize(frame, (int(width), int(height))), cv2.COLOR_BGR2RGB)
    interpreter.set_tensor(detail["index"], (rgb.astype(np.float32) / 127.5 - 1)[None])
    interpreter.invoke()
    scores = interpreter.get_tensor(output)[0]
    print(names[int(np.argmax(scores))], float(np.max(scores)), flush=True)
"""


class PeerUnavailable(RuntimeError):
    """A peer's environment or process could not be had; the message says why."""


# -- the table ------------------------------------------------------------------------------------
@dataclass
class Line:
    row: int
    what: str
    peer: str
    ours: float
    theirs: float
    unit: str = "ms"
    answers: str = "-"


@dataclass
class Report:
    notes: list[str] = field(default_factory=list)
    header_done: bool = False

    WIDTHS = (3, 50, 40, 10, 10, 7)

    def header(self) -> None:
        w = self.WIDTHS
        head = (f"{'#':>{w[0]}s} {'measurement':{w[1]}s} {'peer':{w[2]}s} {'edgetm':>{w[3]}s} {'peer':>{w[4]}s} "
                f"{'ratio':>{w[5]}s}  answers")
        print(head)
        print("-" * (len(head) + 30), flush=True)
        self.header_done = True

    def add(self, line: Line) -> None:
        if not self.header_done:
            self.header()
        w = self.WIDTHS
        ratio = line.theirs / line.ours if line.ours > 0 else float("inf")
        ratio_text = f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.2f}x"
        print(f"{line.row:>{w[0]}d} {line.what:{w[1]}.{w[1]}s} {line.peer:{w[2]}.{w[2]}s} "
              f"{_value(line.ours, line.unit):>{w[3]}s} {_value(line.theirs, line.unit):>{w[4]}s} "
              f"{ratio_text:>{w[5]}s}  {line.answers}", flush=True)

    def note(self, row: int, text: str) -> None:
        self.notes.append(f"{row:>3d}: {text}")

    def close(self) -> None:
        if self.notes:
            print("\nnotes:")
            for note in self.notes:
                print(note)
        print("\nratio: the peer's time over edgetm's (CPU rows: its CPU time over edgetm's); above 1, edgetm is "
              "faster or cheaper. answers: agree = same top label, or the same boxes (class and IoU >= "
              f"{SAME_BOX_IOU}) on both sides.")


def _value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the peers' environments and processes ---------------------------------------------------------
def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


class Environments:
    """The peers' pythons, found or made once; a failure is remembered with its reason."""

    def __init__(self) -> None:
        self._found: dict[str, Path | PeerUnavailable] = {}

    def python(self, name: str) -> Path:
        if name not in self._found:
            try:
                self._found[name] = self._make(name)
            except (PeerUnavailable, ReferenceUnavailable) as error:
                self._found[name] = PeerUnavailable(str(error))
        found = self._found[name]
        if isinstance(found, PeerUnavailable):
            raise found
        return found

    @staticmethod
    def _make(name: str) -> Path:
        if name == "mediapipe":
            return reference_python(create=True)
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = cache / "edgetm" / f"peers-ultralytics-{ULTRALYTICS_VERSION}-torch-{TORCH_VERSION}"
        return ensure_environment(folder, ULTRALYTICS_REQUIREMENTS, ULTRALYTICS_CHECK, timeout_s=CREATE_TIMEOUT_S,
                                  error=PeerUnavailable)

    def env(self, name: str) -> dict[str, str]:
        """Environment variables for a peer process: Ultralytics offline, quiet, its settings in its own folder."""
        if name != "ultralytics":
            return _clean_env()
        settings = self.python(name).parents[1] / "ultralytics-settings"
        return _clean_env(YOLO_OFFLINE="1", YOLO_AUTOINSTALL="False", YOLO_VERBOSE="False",
                          YOLO_CONFIG_DIR=str(settings))


def _read_line(stream, timeout_s: float) -> str:
    """One line from a child's stdout, or "" at its end; TimeoutError after ``timeout_s``."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise TimeoutError(f"no answer within {timeout_s:.0f} s")
    return stream.readline()


class Peer:
    """A peer_side.py server in a peer's environment: one JSON request, one JSON reply."""

    def __init__(self, environments: Environments, name: str, arguments: list[str], workdir: Path) -> None:
        python = environments.python(name)
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([str(python), str(PEER_SIDE), *arguments], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors, text=True, cwd=workdir,
                                        env=environments.env(name))
        self.ready = self._reply(READY_TIMEOUT_S)

    def _reply(self, timeout_s: float) -> dict:
        try:
            line = _read_line(self.process.stdout, timeout_s)
        except TimeoutError as error:
            self.close()
            raise PeerUnavailable(f"{PEER_SIDE.name}: {error}") from None
        if not line:
            self.process.wait(30)
            self.errors.seek(0)
            last = [text for text in self.errors.read().splitlines() if text.strip()][-1:] or ["no output"]
            self.close()
            raise PeerUnavailable(f"{PEER_SIDE.name} stopped: {last[0]}")
        return json.loads(line)

    def call(self, **request: object) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._reply(CALL_TIMEOUT_S)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write('{"op": "stop"}\n')
                self.process.stdin.close()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)
        self.errors.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Spawned:
    first_s: float  # spawn to the first line on stdout
    exit_s: float  # spawn to exit
    first: str  # that line


def spawn(command: list[str], env: dict[str, str] | None = None, stop_after_first: bool = False,
          cwd: Path = ROOT) -> Spawned:
    """Run a command, timing the first line it prints and its exit (stopped after the first line
    when ``stop_after_first``)."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env, cwd=cwd)
        try:
            first = _read_line(process.stdout, PROCESS_TIMEOUT_S)
            first_s = time.perf_counter() - start
            if stop_after_first:
                process.terminate()
            process.communicate(timeout=PROCESS_TIMEOUT_S)
            exit_s = time.perf_counter() - start
        except (TimeoutError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(10)
            raise
        if not first or (process.returncode not in (0, -15) and not stop_after_first):
            errors.seek(0)
            raise RuntimeError(f"{Path(command[0]).name} {' '.join(command[1:3])} failed: {errors.read()[-500:]}")
    return Spawned(first_s, exit_s, first.strip())


def compile_edgetm() -> None:
    """edgetm's modules as an installed copy has them, compiled to bytecode: pip compiles a package
    when it installs it, as it compiled the peers', but a checkout (or PYTHONDONTWRITEBYTECODE set)
    would compile every changed module again on every start."""
    import compileall

    compileall.compile_dir(ROOT / "edgetm", quiet=1)


def import_seconds(command: list[str]) -> float:
    """Seconds a Python command spends importing modules, its top-level imports summed as
    ``python -X importtime`` reports them (imports made later, inside functions, included)."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True, text=True,
                          timeout=PROCESS_TIMEOUT_S, cwd=ROOT)
    total_us = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        # "import time: self | cumulative | name": nested imports are indented under their parent.
        if line.startswith("import time:") and len(parts) == 3 and not parts[2].startswith("  ") \
                and parts[1].strip().isdigit():
            total_us += int(parts[1])
    return total_us / 1e6


def explain_start(ctx: Context, row: int, ours: list[str], theirs: list[str], ours_s: float, theirs_s: float,
                  peer: str) -> None:
    """Where a slower start goes: the time each side spends importing modules."""
    ours_imports, theirs_imports = import_seconds(ours), import_seconds(theirs)
    verdict = "imports make up most of the difference" if ours_imports - theirs_imports >= (ours_s - theirs_s) / 2 \
        else "imports do not explain it"
    ctx.report.note(row, f"edgetm {ours_s:.2f} s, the {peer} {theirs_s:.2f} s; python -X importtime counts "
                         f"{ours_imports:.2f} s of imports in edgetm's whole process (it slows them a little; some "
                         f"may come after the first result) and {theirs_imports:.2f} s in the {peer}'s: {verdict}.")


# -- comparing answers ----------------------------------------------------------------------------
def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_boxes(ours: Sequence[Sequence[float]], theirs: Sequence[Sequence[float]],
               min_iou: float = SAME_BOX_IOU) -> tuple[bool, str]:
    """Rows [x1, y1, x2, y2, score, class]: whether every box of each side has its match on the
    other (same class, IoU >= min_iou), and a few words saying so."""
    left = list(range(len(theirs)))
    matched = 0
    for box in sorted(ours, key=lambda r: -r[4]):
        candidates = [(i, _iou(box, theirs[i])) for i in left if int(theirs[i][5]) == int(box[5])]
        best = max(candidates, key=lambda c: c[1], default=None)
        if best is not None and best[1] >= min_iou:
            left.remove(best[0])
            matched += 1
    if matched == len(ours) == len(theirs):
        return True, f"agree ({matched} boxes)"
    return False, f"differ: {len(ours)} vs {len(theirs)} boxes, {matched} alike"


def rows_of(detections: edgetm.Detections) -> list[list[float]]:
    return [[*d.box, d.score, d.class_id] for d in detections.detections]


def counts(rows: Sequence[Sequence[float]], labels: Sequence[str] | None) -> str:
    found: dict[str, int] = {}
    for row in rows:
        name = labels[int(row[5])] if labels else str(int(row[5]))
        found[name] = found.get(name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in sorted(found.items(), key=lambda kv: -kv[1])) or "nothing"


def truncating(detector: Detector) -> Detector | None:
    """The same detector quantizing its int8 input as Ultralytics does (``astype`` after
    ``pixels / 255 / scale + zero_point``: truncation toward zero) instead of rounding; None when
    the input is not quantized or the preprocessor keeps no table to swap."""
    spec = detector.model.input
    table = getattr(detector.preprocessor, "_table", None)
    if spec.quantization is None or table is None or table.shape != (1, 256, 1) or spec.dtype != np.int8:
        return None
    scale, zero = np.float32(spec.quantization.scale), np.float32(spec.quantization.zero_point)
    real = np.arange(256, dtype=np.float32) / np.float32(255) / scale + zero
    twin = Detector(detector.model, detector.options)
    twin.preprocessor._table = np.clip(real, -128, 127).astype(np.int8).view(np.uint8).reshape(1, 256, 1)
    return twin


# -- rows -----------------------------------------------------------------------------------------
@dataclass
class Context:
    report: Report
    environments: Environments
    workdir: Path
    runs: int
    starts: int
    threads: int

    def frame_file(self, name: str, frame: np.ndarray) -> Path:
        """The frame written losslessly, for a peer process to read the same pixels."""
        path = self.workdir / f"{name}.png"
        cv2.imwrite(str(path), frame)
        return path


def elapsed_ms(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1e3


@dataclass
class Timing:
    """Medians and fastest calls (ms) of alternating calls, and the load average meanwhile."""

    ours: float
    theirs: float
    ours_best: float
    theirs_best: float
    load: float


# Calls a side makes in a row where one call takes a few milliseconds (row 2): back to back, as
# the row says, rather than each call finding the other process's threads still spinning.
BLOCK_CALLS = 6


def interleave(ours: Callable[[int], object], theirs: Callable[[int], float], runs: int,
               items: int = 1, block: int = 1) -> Timing:
    """``runs`` rounds of ``block`` calls of edgetm's (timed here) and as many of the peer's
    (``theirs`` returns its time), on input ``round % items``. Which goes first alternates, so that
    neither always finds the caches as the other left them. With blocks, each block's first call is
    left out: for calls of a few milliseconds, what the other process leaves behind (threads still
    spinning, cold caches) would otherwise be most of what is measured."""
    mine: list[float] = []
    other: list[float] = []
    kept = slice(1 if block > 1 else 0, None)
    for n in range(runs):
        item = n % items
        if n % 2:
            other += [theirs(item) for _ in range(block)][kept]
        mine += [elapsed_ms(lambda item=item: ours(item)) for _ in range(block)][kept]
        if not n % 2:
            other += [theirs(item) for _ in range(block)][kept]
    return Timing(median(mine), median(other), min(mine), min(other), os.getloadavg()[0])


def add_timed(ctx: Context, row: int, what: str, peer: str, timing: Timing, answers: str) -> None:
    """A line of medians; where edgetm's is the slower, a note with the fastest call of each side,
    what each does when nothing else wants the cores."""
    ctx.report.add(Line(row, what, peer, timing.ours, timing.theirs, answers=answers))
    if timing.ours > timing.theirs:
        ctx.report.note(row, f"{what}: fastest calls edgetm {timing.ours_best:.2f} ms, {peer} "
                             f"{timing.theirs_best:.2f} ms; load average {timing.load:.1f} on {os.cpu_count()} cores "
                             "at the end of the row.")


def row_yolo_tflite(ctx: Context) -> None:
    """1. yolov8n full-integer TFLite end to end against Ultralytics' predict."""
    detector = Detector(load_model(YOLO_TFLITE, threads=ctx.threads), DetectOptions(conf=CONF, iou=IOU))
    frames = {name: read_image(ZOO / "images" / name) for name in ("bus.jpg", "zidane.jpg")}
    files = [str(ctx.frame_file(name, frame)) for name, frame in frames.items()]
    with Peer(ctx.environments, "ultralytics", ["yolo", "--model", str(YOLO_TFLITE), "--images", *files,
                                                "--threads", str(ctx.threads), "--conf", str(CONF), "--iou",
                                                str(IOU)], ctx.workdir) as peer:
        name = f"Ultralytics {peer.ready['ultralytics']} predict"
        for item, (image, frame) in enumerate(frames.items()):
            for _ in range(5):
                detector(frame)
            timing = interleave(lambda _, f=frame: detector(f), lambda _, i=item: peer.call(item=i)["ms"], ctx.runs)
            mine = rows_of(detector(frame))
            other = peer.call(item=item, result=True)["result"]
            agree, words = same_boxes(mine, other)
            add_timed(ctx, 1, f"yolov8n int8 TFLite, {ctx.threads} thr, {image}", name, timing, words)
            if not agree:
                explain_yolo(ctx, 1, image, frame, detector, mine, other)


def explain_yolo(ctx: Context, row: int, image: str, frame: np.ndarray, detector: Detector, mine: list,
                 other: list) -> None:
    labels = detector.model.labels
    text = f"{image}: edgetm finds {counts(mine, labels)}; Ultralytics {counts(other, labels)}."
    twin = truncating(detector)
    if twin is not None:
        alike, _ = same_boxes(rows_of(twin(frame)), other)
        if alike:
            text += (" edgetm quantizing the int8 input as Ultralytics does (astype, truncating toward zero) finds "
                     "exactly Ultralytics' boxes: that is the whole difference. edgetm rounds to nearest, as "
                     "LiteRT's own Quantize op does.")
        else:
            text += " Quantizing as Ultralytics does (truncation) does not explain it alone."
    ctx.report.note(row, text)


def mobilenet_frames(ctx: Context) -> tuple[list[np.ndarray], list[str]]:
    """640x480 camera frames of the zoo's ImageNet photos, and their files."""
    names = ("coral_grace_hopper.bmp", "coral_cat.bmp", "coral_parrot.jpg", "coffee.png", "chelsea.png")
    frames = [cv2.resize(read_image(ZOO / "images" / n), (640, 480), interpolation=cv2.INTER_AREA) for n in names]
    return frames, [str(ctx.frame_file(Path(n).stem, f)) for n, f in zip(names, frames, strict=True)]


def row_mediapipe(ctx: Context) -> None:
    """2. MobileNetV2 quant against MediaPipe's ImageClassifier: threads, 1 thread, paced at 30 fps."""
    frames, files = mobilenet_frames(ctx)
    options = ClassifyOptions(top_k=1)
    for threads in dict.fromkeys((ctx.threads, 1)):
        classifier = Classifier(load_model(MOBILENET, IMAGENET_LABELS, threads=threads), options)
        with Peer(ctx.environments, "mediapipe", ["mediapipe", "--model", str(MOBILENET), "--images", *files,
                                                  "--threads", str(threads)], ctx.workdir) as peer:
            peer_name = f"MediaPipe {peer.ready['mediapipe']} ImageClassifier"
            for frame in frames:
                for _ in range(5):
                    classifier(frame)
            timing = interleave(lambda i, c=classifier: c(frames[i]), lambda i: peer.call(item=i)["ms"],
                                ctx.runs, len(frames), block=BLOCK_CALLS)
            agree = [classifier(frame).index == peer.call(item=i, result=True)["result"][0]
                     for i, frame in enumerate(frames)]
            add_timed(ctx, 2, f"MobileNetV2 quant 640x480 frame, {threads} thr", peer_name, timing,
                      _agreement(agree))
        if not all(agree) and threads == ctx.threads:
            explain_crop(ctx, frames, files, agree, classifier)
        del classifier
    paced_row(ctx)


def _agreement(agree: list[bool]) -> str:
    return f"agree ({len(agree)} images)" if all(agree) else f"differ: {sum(agree)}/{len(agree)} images alike"


def explain_crop(ctx: Context, frames: list[np.ndarray], files: list[str], agree: list[bool],
                 classifier: Classifier) -> None:
    """MediaPipe stretches the whole frame into the input; edgetm crops the centre. Re-run edgetm stretching."""
    squash = Classifier(classifier.model, classifier.options, PreprocessOptions(resize=ResizeMode.SQUASH))
    differ = [Path(files[i]).stem for i, alike in enumerate(agree) if not alike]
    with Peer(ctx.environments, "mediapipe", ["mediapipe", "--model", str(MOBILENET), "--images", *files,
                                              "--threads", str(ctx.threads)], ctx.workdir) as peer:
        theirs = [peer.call(item=i, result=True)["result"][0] for i in range(len(frames))]
    stretched = [squash(frame).index == answer for frame, answer in zip(frames, theirs, strict=True)]
    why = ("edgetm stretching the whole frame as MediaPipe does (resize squash) gives MediaPipe's labels on all: "
           "MediaPipe's ImageClassifier squashes the 4:3 frame into 224x224, edgetm crops the centre, as ImageNet "
           "models are evaluated") if all(stretched) else "stretching the frame as MediaPipe does does not explain it"
    ctx.report.note(2, f"top labels differ on {', '.join(differ)}: {why}.")


def paced_row(ctx: Context) -> None:
    """Row 2, paced: a frame every 33 ms, each side at its default threads, blocks alternating."""
    frames, files = mobilenet_frames(ctx)
    # edgetm's default for a paced source (edgetm/model/threads.py): one thread if that keeps up, else all cores.
    model = load_for_pacing(ModelOptions(path=str(MOBILENET), labels=str(IMAGENET_LABELS)), paced=True)
    classifier = Classifier(model, ClassifyOptions(top_k=1))
    frame = frames[0]
    gc.collect()
    with Peer(ctx.environments, "mediapipe", ["mediapipe", "--model", str(MOBILENET), "--images", *files,
                                              "--threads", "0"], ctx.workdir) as peer:
        peer_name = f"MediaPipe {peer.ready['mediapipe']} ImageClassifier, 1 thr"
        latency: dict[str, list[float]] = {"edgetm": [], "peer": []}
        cpu: dict[str, list[float]] = {"edgetm": [], "peer": []}
        for _ in range(3):
            block = paced_calls(lambda _: classifier(frame), 0, PACED_FRAMES, CAMERA_PERIOD_MS)
            latency["edgetm"] += block["latency_ms"]
            cpu["edgetm"].append(block["cpu_ms_per_frame"])
            block = peer.call(op="paced", item=0, frames=PACED_FRAMES, period_ms=CAMERA_PERIOD_MS)
            latency["peer"] += block["latency_ms"]
            cpu["peer"].append(block["cpu_ms_per_frame"])
    what = f"MobileNetV2 at 30 fps, default thr ({model.backend.describe()['threads']}):"
    ctx.report.add(Line(2, f"{what} latency", peer_name, median(latency["edgetm"]), median(latency["peer"])))
    ctx.report.add(Line(2, f"{what} CPU/frame", peer_name, median(cpu["edgetm"]), median(cpu["peer"])))


def row_teachable(ctx: Context) -> None:
    """3. A Teachable Machine float export on files against Teachable Machine's snippet, in process."""
    from PIL import Image, ImageOps

    model = load_model(DEMO)  # the folder: model_unquant.tflite, what the browser runs; all cores
    classifier = Classifier(model, still=True)  # as edgetm classify runs photos
    bare = fidelity.Bare(DEMO / "model_unquant.tflite")  # the snippet's interpreter (all cores too)
    photos = sorted((DEMO / "samples").glob("*.jpg"))

    def snippet(path: Path) -> np.ndarray:
        image = ImageOps.fit(Image.open(path).convert("RGB"), (224, 224), Image.Resampling.LANCZOS)
        return bare.scores(np.asarray(image))

    for _ in range(3):
        for path in photos:
            classifier(read_image(path))
            snippet(path)
    timing = interleave(lambda i: classifier(read_image(photos[i])), lambda i: elapsed_ms(lambda: snippet(photos[i])),
                        ctx.runs * 4, len(photos))
    agree, worst = [], 0.0
    for path in photos:
        mine, scores = classifier(read_image(path)), snippet(path)
        agree.append(mine.index == int(np.argmax(scores)))
        worst = max(worst, abs(mine.score - float(scores[mine.index])))
    add_timed(ctx, 3, "TM float export (demo), photo file -> label", "TM Python snippet (PIL + LiteRT)", timing,
              f"{_agreement(agree)}, max |dp| {worst:.1e}")


def row_detect_start(ctx: Context) -> None:
    """4. Process spawn to the first detection: edgetm detect against Ultralytics in a fresh process."""
    compile_edgetm()
    python = ctx.environments.python("ultralytics")
    image = ZOO / "images" / "bus.jpg"
    ours_cmd = [sys.executable, "-m", "edgetm", "detect", str(YOLO_TFLITE), str(image), "--json", "--threads",
                str(ctx.threads), "--conf", str(CONF), "--iou", str(IOU)]
    peer_cmd = [str(python), str(PEER_SIDE), "yolo-once", "--model", str(YOLO_TFLITE), "--image", str(image),
                "--threads", str(ctx.threads), "--conf", str(CONF), "--iou", str(IOU)]
    env = ctx.environments.env("ultralytics")
    spawn(ours_cmd)  # warm-up: the file cache
    spawn(peer_cmd, env, cwd=ctx.workdir)
    mine, theirs = [], []
    for _ in range(ctx.starts):
        ours = spawn(ours_cmd)
        peer = spawn(peer_cmd, env, cwd=ctx.workdir)
        mine.append(ours.first_s)
        theirs.append(peer.first_s)
    found = [[*d["box"], d["score"], d["class_id"]] for d in json.loads(ours.first)["detections"]]
    other = json.loads(peer.first)["detections"]
    agree, words = same_boxes(found, other)
    ctx.report.add(Line(4, "spawn -> first detection, yolov8n int8, bus.jpg", f"new python, Ultralytics "
                        f"{ULTRALYTICS_VERSION} predict", median(mine), median(theirs), "s", words))
    if not agree:
        detector = Detector(load_model(YOLO_TFLITE, threads=ctx.threads), DetectOptions(conf=CONF, iou=IOU))
        explain_yolo(ctx, 4, image.name, read_image(image), detector, found, other)


def row_onnx(ctx: Context) -> None:
    """5. YOLOv8n fp32 ONNX with dynamic axes against Ultralytics: each at its default at the model's own
    size, and both asked for 640."""
    wide = read_image(ZOO / "images" / "zidane.jpg")
    height, width = wide.shape[:2]
    cut = wide[:, (width - height * 4 // 3) // 2:][:, :height * 4 // 3]
    frames = {"zidane.jpg 1280x720 (16:9)": wide,
              "640x480 (4:3) cut from zidane.jpg": cv2.resize(cut, (640, 480), interpolation=cv2.INTER_AREA)}
    files = [str(ctx.frame_file(f"onnx{i}", frame)) for i, frame in enumerate(frames.values())]
    own = load_model(YOLO_ONNX, threads=ctx.threads)
    side = own.input.image_size()[0]
    # Given a size, edgetm keeps the square unless asked for rect (README, Rectangular inference).
    settings = [("default", own, DetectOptions(conf=CONF, iou=IOU), side),
                ("640, rect", load_model(YOLO_ONNX, threads=ctx.threads, input_size=(640, 640)),
                 DetectOptions(conf=CONF, iou=IOU, rect=True), 640)]
    for label, model, options, imgsz in settings:
        detector = Detector(model, options)
        with Peer(ctx.environments, "ultralytics", ["yolo", "--model", str(YOLO_ONNX), "--images", *files, "--imgsz",
                                                    str(imgsz), "--threads", str(ctx.threads), "--conf", str(CONF),
                                                    "--iou", str(IOU)], ctx.workdir) as peer:
            name = f"Ultralytics {peer.ready['ultralytics']} predict imgsz={imgsz}"
            runs = max(ctx.runs // BLOCK_CALLS, 5)  # up to 75 ms a call
            for item, (image, frame) in enumerate(frames.items()):
                detector(frame)
                detector(frame)
                # In blocks, as row 2: ONNX Runtime's workers spin on for tens of milliseconds after a run,
                # so a single call would mostly measure the other process's spinning threads.
                timing = interleave(lambda _, f=frame, d=detector: d(f), lambda _, i=item: peer.call(item=i)["ms"],
                                    runs, block=BLOCK_CALLS)
                other = peer.call(item=item, result=True)["result"]
                shape = "x".join(map(str, detector.preprocessor.size_of(detector.prepare(frame).tensor)))
                _, words = same_boxes(rows_of(detector(frame)), other)
                add_timed(ctx, 5, f"YOLOv8n fp32 ONNX {image.split(' ')[1]}, {label} {shape}", name, timing, words)
    ctx.report.note(5, f"the model ({YOLO_ONNX.name}) has dynamic axes and was trained at {side}; both sides letterbox "
                       "a frame into the smallest stride-aligned rectangle. '640, rect' is --input-size 640 640 "
                       "--rect: given a size alone, edgetm keeps the square (more work: 640x640 against 640x384 "
                       "for 16:9), as a fixed size asks.")


def row_nms(ctx: Context) -> None:
    """6. Decode + NMS of the crowded synthetic output against torchvision and Ultralytics."""
    raw = detect_bench.crowded()
    path = ctx.workdir / "crowded.npy"
    np.save(path, raw, allow_pickle=False)
    # As benchmarks/detect.py: a TFLite YOLOv8's boxes are fractions of the input; the peers get pixels.
    pixels = np.array([640] * 4 + [1] * 80, np.float32)[None, :, None]
    detector = Detector(load_model(ZOO / "yolov8n-tflite" / "yolov8n_integer_quant.tflite", threads=1),
                        DetectOptions(conf=CONF, iou=IOU, max_det=10_000))  # no cap: all sides do the same work
    outputs = [raw / pixels]
    with Peer(ctx.environments, "ultralytics", ["nms", "--outputs", str(path), "--threads", str(ctx.threads),
                                                "--conf", str(CONF), "--iou", str(IOU), "--max-det", "10000"],
              ctx.workdir) as peer:
        for _ in range(5):
            detector.postprocess(outputs)
        times: dict[str, list[float]] = {"edgetm": [], "torchvision": [], "ultralytics": []}
        for _ in range(ctx.runs * 2):
            start = time.perf_counter()
            detector.postprocess(outputs)
            times["edgetm"].append((time.perf_counter() - start) * 1e3)
            for method in ("torchvision", "ultralytics"):
                times[method].append(peer.call(item=0, method=method)["ms"])
        boxes, scores, classes = detector.postprocess(outputs)
        mine = np.concatenate([boxes, scores[:, None], classes[:, None]], 1).tolist()
        for method, title in (("torchvision", f"numpy decode + torchvision {peer.ready['torchvision']} "
                                              "batched_nms"),
                              ("ultralytics", f"Ultralytics {peer.ready['ultralytics']} non_max_suppression")):
            other = peer.call(item=0, method=method, result=True)["result"]
            _, words = same_boxes(mine, other, min_iou=0.999)
            ctx.report.add(Line(6, "decode + NMS, crowded 2,000 boxes, 3 classes", title, median(times["edgetm"]),
                                median(times[method]), answers=words))


def row_run_start(ctx: Context) -> None:
    """7. edgetm run to its first result against a hand-written OpenCV + LiteRT loop."""
    compile_edgetm()
    video = ctx.workdir / "clip.avi"
    run_bench.make_video(video, CLIP_FRAMES)
    ours_cmd = [sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(video), "--stdout", "--threads",
                str(ctx.threads), "-q"]
    bare_cmd = [sys.executable, "-c", HAND_LOOP, str(DEMO / "model_unquant.tflite"), str(DEMO / "labels.txt"),
                str(video), str(ctx.threads)]
    spawn(ours_cmd, stop_after_first=True)
    spawn(bare_cmd, stop_after_first=True)
    mine, theirs = [], []
    for _ in range(ctx.starts):
        ours = spawn(ours_cmd, stop_after_first=True)
        bare = spawn(bare_cmd, stop_after_first=True)
        mine.append(ours.first_s)
        theirs.append(bare.first_s)
    label = json.loads(ours.first)["label"]
    theirs_label = bare.first.rsplit(" ", 1)[0]
    answers = "agree" if label == theirs_label else f"differ: {label} vs {theirs_label}"
    ctx.report.add(Line(7, "spawn -> first result, demo model on a video", "OpenCV + LiteRT loop by hand",
                        median(mine), median(theirs), "s", answers))
    if median(mine) > median(theirs):
        explain_start(ctx, 7, ours_cmd, bare_cmd, median(mine), median(theirs), "hand-written loop")


def row_classify_process(ctx: Context) -> None:
    """8. edgetm classify as a process against Teachable Machine's snippet as a script."""
    compile_edgetm()
    photo = DEMO / "samples" / "ripe-1.jpg"
    ours_cmd = [sys.executable, "-m", "edgetm", "classify", str(DEMO), str(photo), "--json"]
    snippet_cmd = [sys.executable, "-c", TM_SNIPPET, str(DEMO / "model_unquant.tflite"), str(DEMO / "labels.txt"),
                   str(photo), str(os.cpu_count() or 1)]
    spawn(ours_cmd)
    spawn(snippet_cmd)
    mine, theirs = [], []
    for _ in range(ctx.starts):
        ours = spawn(ours_cmd)
        snippet = spawn(snippet_cmd)
        mine.append(ours.exit_s)
        theirs.append(snippet.exit_s)
    label = json.loads(ours.first)["label"]
    theirs_label = snippet.first.split("Class: ", 1)[1].split(" Confidence", 1)[0]
    answers = "agree" if label == theirs_label else f"differ: {label} vs {theirs_label}"
    ctx.report.add(Line(8, "edgetm classify demo PHOTO: spawn -> exit", "TM snippet as a script", median(mine),
                        median(theirs), "s", answers))
    if median(mine) > median(theirs):
        explain_start(ctx, 8, ours_cmd, snippet_cmd, median(mine), median(theirs), "snippet")


def _camera_frame() -> np.ndarray:
    """classify.py's frame: a decoded 640x480 camera frame."""
    return cv2.resize(read_image(ZOO / "images" / "coral_grace_hopper.bmp"), (640, 480), interpolation=cv2.INTER_AREA)


def row_demo_loop(ctx: Context) -> None:
    """9. The demo model in edgetm's streaming loop against a bare loop (classify.py's measurement)."""
    result = classify_bench.measure("demo float", DEMO / "model_unquant.tflite", _camera_frame(), ctx.runs * 5,
                                    ctx.threads)
    ctx.report.add(Line(9, "demo model, streaming loop, per frame", "bare invoke loop, ready tensor",
                        result["loop"], result["bare_block"], answers="same tensor"))
    ctx.report.note(9, f"edgetm's loop also decodes nothing but does preprocess each 640x480 frame "
                       f"({result['preprocess']:.3f} ms, in a helper thread when it pays) and postprocess "
                       f"({result['postprocess']:.3f} ms); the bare loop is handed the ready tensor: "
                       f"{result['loop'] - result['bare_block']:.3f} ms a frame is what edgetm adds.")


def row_mobilenet_overhead(ctx: Context) -> None:
    """10. MobileNetV2 quant, one image: edgetm against a bare invoke (classify.py)."""
    result = classify_bench.measure("MobileNetV2 224 quant", MOBILENET, _camera_frame(), ctx.runs * 5, ctx.threads)
    ctx.report.add(Line(10, "MobileNetV2 quant, one image", "bare invoke, ready tensor", result["edgetm"],
                        result["bare"], answers="same tensor"))
    ctx.report.note(10, f"overhead over the bare invoke: {result['overhead']:.3f} ms (preprocess "
                        f"{result['preprocess']:.3f}, postprocess {result['postprocess']:.3f}); inference "
                        f"{result['inference']:.2f} ms against the bare {result['bare']:.2f} ms.")


def row_ort_idle(ctx: Context) -> None:
    """11. ONNX Runtime at rest between runs paced at 30 fps: edgetm's session against a default one."""
    model = DEMO / "model.onnx"
    results: dict[str, list[dict]] = {"edgetm": [], "default": [], "no-spin": []}
    for _ in range(2):
        for which in results:
            out = subprocess.run([sys.executable, __file__, "--ort-idle", which, "--model", str(model)],
                                 capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, check=True, cwd=ROOT)
            results[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
    idle = {k: median([r["idle_cpu_ms"] for r in v]) for k, v in results.items()}
    busy = {k: median([r["run_ms"] for r in v]) for k, v in results.items()}
    ctx.report.add(Line(11, "demo ONNX run every 33 ms: CPU while idle/frame", "onnxruntime.InferenceSession(path)",
                        idle["edgetm"], idle["default"]))
    ctx.report.note(11, f"a run takes {busy['edgetm']:.2f} ms (edgetm, {results['edgetm'][0]['threads']} threads) and "
                        f"{busy['default']:.2f} ms (default session); the rest of each 33 ms is idle. A default "
                        "session with session.intra_op.allow_spinning = 0 spends "
                        f"{idle['no-spin']:.2f} ms of CPU while idle (runs {busy['no-spin']:.2f} ms): what is spent "
                        "at rest is ONNX Runtime's thread pool spinning, waiting for the next run.")


def ort_idle(which: str, model_path: Path, frames: int = PACED_FRAMES) -> dict:
    """In a fresh process: an ONNX session run every 33 ms; median run time, and process CPU time
    per frame between the end of a run and the start of the next."""
    if which == "edgetm":
        # As a pipeline with a paced source (a camera) loads it.
        model = load_for_pacing(ModelOptions(path=str(model_path)), paced=True)
        inputs = [np.zeros(spec.shape, spec.dtype) for spec in model.inputs]

        def run() -> None:
            model.run(*inputs)

        threads = model.backend.describe()["threads"]
    else:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if which == "no-spin":
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(model_path), options)
        spec = session.get_inputs()[0]
        feed = {spec.name: np.zeros([d if isinstance(d, int) else 1 for d in spec.shape], np.float32)}

        def run() -> None:
            session.run(None, feed)

        threads = "default"
    for _ in range(10):
        run()
    idle, busy = [], []
    period = CAMERA_PERIOD_MS / 1e3
    tick = time.perf_counter()
    for _ in range(frames):
        tick += period
        t0 = time.perf_counter()
        run()
        t1, c1 = time.perf_counter(), time.process_time()
        while (left := tick - time.perf_counter()) > 0:
            time.sleep(left)
        idle.append((time.process_time() - c1) * 1e3)
        busy.append((t1 - t0) * 1e3)
    return {"idle_cpu_ms": median(idle), "run_ms": median(busy), "threads": threads}


ROWS: dict[int, tuple[str, Callable[[Context], None], tuple[Path, ...]]] = {
    1: ("yolov8n int8 TFLite vs Ultralytics", row_yolo_tflite, (YOLO_TFLITE,)),
    2: ("MobileNetV2 quant vs MediaPipe ImageClassifier", row_mediapipe, (MOBILENET, IMAGENET_LABELS)),
    3: ("Teachable Machine export vs its snippet, in process", row_teachable, (DEMO,)),
    4: ("start to first detection vs Ultralytics", row_detect_start, (YOLO_TFLITE,)),
    5: ("YOLOv8n fp32 ONNX with dynamic axes vs Ultralytics", row_onnx, (YOLO_ONNX,)),
    6: ("decode + NMS vs torchvision and Ultralytics", row_nms, (ZOO / "yolov8n-tflite",)),
    7: ("edgetm run start vs a hand-written loop", row_run_start, (DEMO,)),
    8: ("edgetm classify process vs the snippet script", row_classify_process, (DEMO,)),
    9: ("demo model streaming loop vs bare loop", row_demo_loop, (DEMO, ZOO / "images")),
    10: ("MobileNetV2 one-image overhead vs bare invoke", row_mobilenet_overhead, (MOBILENET,)),
    11: ("ONNX Runtime CPU at rest", row_ort_idle, (DEMO,)),
}


def parse_rows(text: str) -> list[int]:
    """"1,2,5-7" -> [1, 2, 5, 6, 7]."""
    chosen: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        chosen += range(int(first), int(last or first) + 1)
    unknown = sorted(set(chosen) - set(ROWS))
    if unknown:
        raise argparse.ArgumentTypeError(f"no row {', '.join(map(str, unknown))} (rows 1-{len(ROWS)})")
    return sorted(set(chosen))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="alternating calls per in-process measurement "
                        "(several rows take a multiple)")
    parser.add_argument("--starts", type=int, default=5, help="alternating process starts per start-up row")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads on both sides")
    parser.add_argument("--only", type=parse_rows, default=None, metavar="ROWS", help="rows to run: 1,2,5-7")
    parser.add_argument("--ort-idle", choices=("edgetm", "default", "no-spin"), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ort_idle:
        print(json.dumps(ort_idle(args.ort_idle, args.model)))
        return 0
    report = Report()
    print(f"edgetm {edgetm.__version__} against its peers on this machine ({os.cpu_count()} cores), {args.threads} "
          f"threads on both sides unless said; medians of {args.runs} alternating calls, {args.starts} process "
          "starts\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="edgetm-peers-") as workdir:
        ctx = Context(report, Environments(), Path(workdir), args.runs, args.starts, args.threads)
        for number in args.only or list(ROWS):
            title, measure, needs = ROWS[number]
            missing = [str(p) for p in needs if not p.exists()]
            if missing:
                report.note(number, f"skipped ({title}): {missing[0]} not found (set EDGETM_ZOO)")
                continue
            say(f"row {number}: {title}")
            try:
                measure(ctx)
            except PeerUnavailable as error:
                report.note(number, f"skipped ({title}): {error}")
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as error:
                report.note(number, f"failed ({title}): {type(error).__name__}: {error}")
            gc.collect()
    report.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
