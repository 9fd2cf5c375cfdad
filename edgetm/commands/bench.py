"""``edgetm bench``: how fast a model runs on this board, as a pipeline runs it, beside the bare
runtime on the same model.

The pipeline reads a source (by default a synthetic 640x480 video written for the run, decoded
as a camera's MJPEG frames would be), prepares, infers, postprocesses and smooths each frame; its
per-stage latencies, frame rate, CPU time per frame and peak memory are reported. The reference
line runs the same loaded model through the runtime's own API on a ready input, nothing else.
Back to back by default; ``--realtime`` paces the source as a camera does (and the reference with
it), with the threads edgetm picks for a paced source.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgetm.commands.common import model_options, preprocess_options
from edgetm.errors import ConfigError
from edgetm.records import Record, as_dict

# Frames run before measuring: the runtime's first calls allocate and tune.
WARM_UP = 10
# What edgetm itself does to a frame, between the source's decoding and the sinks.
OWN_STAGES = ("preprocess", "inference", "postprocess")
# What the pipeline's stats say of how a stream's next frame is prepared (``runtime/prefetch.py``).
PREPARE_KEYS = ("prepare_ahead", "prepare_ms_per_item", "prepare_rounds")
# The synthetic source: a camera's usual size.
FRAME_SIZE = (640, 480)


class Latency(Record):
    p50: float
    p95: float


class BenchReport(Record):
    model: str
    runtime: dict
    source: str
    paced: bool  # the source came at its frame rate, as a camera's does; the reference was paced the same
    frames: int
    stages_ms: dict[str, Latency]
    frame_ms: float  # wall time per result, the loop's whole cost
    fps: float
    cpu_ms_per_frame: float  # all of the process's threads
    rss_peak_mb: float
    bare_invoke_ms: Latency
    bare_cpu_ms: float
    bare_input_shape: list[int]  # the first input's, as the pipeline last fed it (rectangular inference)
    ratio: float | None  # bare invoke / edgetm per frame: the share of the bare runtime's rate edgetm keeps
    # (back to back; None when paced, where the frame rate is the source's)
    stages_ratio: float  # bare invoke / edgetm's own stages (prepare, infer, postprocess), decoding left out
    prepare: dict  # a stream's: next frame prepared ahead or in turn, and the times each way when timed


def _percentiles(values: list[float]) -> Latency:
    """As the pipeline's own stats give them."""
    from edgetm.runtime.stats import Rolling

    rolling = Rolling(len(values))
    rolling.values.extend(values)
    return Latency(**rolling.percentiles())


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def synthetic_video(folder: Path, frames: int) -> Path:
    """A video of smooth gradients and edges with a little noise: roughly what a camera's JPEG
    encoder and the resize see, without depending on any file."""
    import cv2

    width, height = FRAME_SIZE
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) % 96 * 2.5], -1)
    rng = np.random.default_rng(0)
    path = folder / "synthetic.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, FRAME_SIZE)
    for n in range(frames):
        frame = np.roll(base, 4 * n, axis=1) + rng.normal(0, 6, base.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return path


def measure(model, source, named: str, frames: int,
            options) -> tuple[dict[str, list[float]], float, float, int, dict]:
    """Per-stage latencies of ``frames`` results after the warm-up, wall and CPU seconds for them,
    how many results there were, and how the stream's frames were prepared."""
    from edgetm.runtime.pipeline import Pipeline

    stages: dict[str, list[float]] = {}
    counted, start, cpu = 0, 0.0, 0.0
    pipeline = Pipeline(model, source, options=options)
    for n, observation in enumerate(pipeline):
        if n == WARM_UP:
            start, cpu = time.perf_counter(), _cpu_s()
        if n < WARM_UP:
            continue
        for stage, value in observation.latency_ms.items():
            stages.setdefault(stage, []).append(value)
        counted += 1
        if counted == frames:
            break
    if counted == 0:
        raise ConfigError(f"{named} gave no results after the {WARM_UP} frames run first to warm up",
                          f"give a source of more than {WARM_UP} frames (a video, or a folder of more images)")
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu
    status = pipeline.status()
    return stages, wall, cpu, counted, {key: status[key] for key in PREPARE_KEYS if key in status}


def bare(model, runs: int, period_s: float = 0.0) -> tuple[Latency, float, list[int]]:
    """The runtime's own invoke on the same model and threads, on a ready input of the shape the
    pipeline last fed; one every ``period_s`` when paced, CPU time per invoke counting the idle time
    between (threads that spin), and the first input's shape."""
    from edgetm.model.load import warm_up_inputs

    inputs = warm_up_inputs(model.inputs, model.metadata.get("sample_rate"))
    fitted = model.backend.fitted
    if fitted is not None and inputs and fitted != inputs[0].shape:
        # Rectangular inference: the pipeline fed this shape, so the reference runs at it too.
        inputs[0] = np.zeros(fitted, inputs[0].dtype)
    run = model.backend.bare(inputs)
    for _ in range(WARM_UP):
        run()
    times = []
    cpu = _cpu_s()
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
        if period_s:
            time.sleep(max(0.0, period_s - (time.perf_counter() - start)))
    return _percentiles(times), (_cpu_s() - cpu) * 1e3 / runs, [int(d) for d in inputs[0].shape] if inputs else []


def _source(given: str | None, realtime: bool):
    """The source to read: the one given, paced with ``realtime`` where it can be; None for the
    synthetic video."""
    from edgetm.capture.sources import parse_source

    if given is None:
        return None
    options = parse_source(given)
    if not realtime or options.paced:
        return options
    if "realtime" not in type(options).model_fields:
        raise ConfigError(f"--realtime paces files that play in time (videos, sound files), not {given}",
                          "leave --realtime out: images are read one after another")
    return options.model_copy(update={"realtime": True})


def benchmark(args: argparse.Namespace) -> BenchReport:
    from edgetm.capture.sources import source_paced
    from edgetm.capture.video import VideoOptions
    from edgetm.config import PipelineOptions
    from edgetm.model.model import TaskKind
    from edgetm.model.threads import load_for_pacing

    source = _source(getattr(args, "source", None), args.realtime)
    paced = args.realtime or (source is not None and source_paced(source))
    model = load_for_pacing(model_options(args), paced)
    options = PipelineOptions(preprocess=preprocess_options(args))
    with tempfile.TemporaryDirectory(prefix="edgetm-bench-") as folder:
        if source is None:
            if model.task is TaskKind.SOUND:
                raise ConfigError(f"{model.source} is a sound model: it needs a sound source",
                                  "give --source mic or --source a .wav file")
            source = VideoOptions(path=str(synthetic_video(Path(folder), args.frames + WARM_UP)), realtime=paced)
            named = f"synthetic {FRAME_SIZE[0]}x{FRAME_SIZE[1]} MJPEG video{' at 30 fps' if paced else ''}"
        else:
            named = args.source + (" (paced)" if paced else "")
        stages, wall, cpu, counted, prepare = measure(model, source, named, args.frames, options)
    invoke, bare_cpu, bare_shape = bare(model, max(counted, 20), wall / counted if paced else 0.0)
    frame_ms = wall * 1e3 / counted
    return BenchReport(
        model=str(model.source), runtime=model.backend.describe(), source=named, paced=paced, frames=counted,
        stages_ms={stage: _percentiles(values) for stage, values in stages.items()},
        frame_ms=round(frame_ms, 3), fps=round(counted / wall, 1), cpu_ms_per_frame=round(cpu * 1e3 / counted, 3),
        rss_peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        bare_invoke_ms=invoke, bare_cpu_ms=round(bare_cpu, 3), bare_input_shape=bare_shape,
        ratio=None if paced else round(invoke.p50 / frame_ms, 2),
        stages_ratio=round(invoke.p50 / sum(statistics.median(stages.get(stage, [0.0])) for stage in OWN_STAGES), 2),
        prepare=prepare)


def _prepared(prepare: dict) -> str:
    if "prepare_ahead" not in prepare:
        return "the newest frame, taken as it comes (a paced source)"
    way = "ahead, in a helper thread" if prepare["prepare_ahead"] else "in turn"
    times = prepare.get("prepare_ms_per_item")
    if times is None:
        return f"prepared {way} (too few frames to time both ways)"
    rounds = prepare["prepare_rounds"]
    return (f"prepared {way}: ahead was at least as fast in {rounds['ahead_won']} of {rounds['of']} paired rounds "
            f"(median {times['ahead']:.3f} ms a frame ahead, {times['inline']:.3f} ms in turn)")


def bench(args: argparse.Namespace) -> int:
    report = benchmark(args)
    if args.json:
        print(json.dumps(as_dict(report), allow_nan=False))
        return 0
    runtime = ", ".join(f"{key} {value}" for key, value in report.runtime.items())
    print(f"model        {report.model} ({runtime})")
    print(f"source       {report.source}, {report.frames} frames after {WARM_UP} to warm up")
    print(f"{'stage':24s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for stage, latency in report.stages_ms.items():
        print(f"{stage:24s} {latency.p50:8.2f} {latency.p95:8.2f}")
    shape = "x".join(map(str, report.bare_input_shape))
    print(f"{'bare runtime invoke':24s} {report.bare_invoke_ms.p50:8.2f} {report.bare_invoke_ms.p95:8.2f}   "
          f"(input {shape}, as the pipeline fed it)")
    print(f"next frame   {_prepared(report.prepare)}")
    print(f"per frame    {report.frame_ms:.2f} ms ({report.fps} fps), CPU {report.cpu_ms_per_frame:.2f} ms "
          f"(bare invoke {report.bare_cpu_ms:.2f} ms), peak RSS {report.rss_peak_mb} MB")
    if not report.paced:
        print(f"ratio        {report.ratio:.2f} bare invoke / edgetm per frame (the source's decoding included), "
              f"{report.stages_ratio:.2f} bare invoke / edgetm's own stages (preprocess, inference, postprocess)")
    else:  # paced, the frame rate is the source's: what compares is the work per frame
        print(f"ratio        {report.stages_ratio:.2f} bare invoke (paced the same) / edgetm's own stages "
              "(preprocess, inference, postprocess)")
    return 0


__all__ = ["BenchReport", "bench", "benchmark"]
