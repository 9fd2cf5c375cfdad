#!/usr/bin/env python3
"""What trying a model in a child process first (``probe_model``) adds to a live swap.

For each model: the probe (a child starts Python and the runtime, loads the model and runs it once)
against loading the same model in this process, then a running pipeline's ``swap`` with and without
the probe. Medians of ``--rounds``.

    .venv/bin/python benchmarks/probe.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
sys.path.insert(0, str(ROOT))

import edgetm  # noqa: E402
from edgetm.model.load import load_model  # noqa: E402
from edgetm.model.options import ModelOptions  # noqa: E402
from edgetm.model.probe import probe_model  # noqa: E402
from edgetm.runtime import pipeline as pipeline_module  # noqa: E402
from tests.conftest import DEMO, write_video  # noqa: E402

MODELS = [DEMO / "model_unquant.tflite", DEMO / "model.onnx",
          ZOO / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite", ZOO / "nudenet-yolov8n-320" / "320n.onnx"]


def median_s(work, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def swaps_s(rounds: int, folder: Path) -> float:
    video = write_video(folder / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=5)
    pipeline = edgetm.Pipeline(DEMO, {"type": "video", "path": str(video), "loop": True, "realtime": True},
                               options=edgetm.PipelineOptions(max_fps=30))
    pipeline.start()
    targets = iter([DEMO / "model.onnx", DEMO / "model_unquant.tflite"] * rounds)
    try:
        return median_s(lambda: pipeline.swap(next(targets)), 2 * rounds)
    finally:
        pipeline.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'model':40s} {'probe':>8s} {'load here':>10s}")
    for model in (m for m in MODELS if m.is_file()):
        probed = median_s(lambda model=model: probe_model(ModelOptions(path=str(model))), args.rounds)
        loaded = median_s(lambda model=model: load_model(model), args.rounds)
        print(f"{model.name:40s} {probed:7.2f}s {loaded:9.3f}s")
    with tempfile.TemporaryDirectory() as folder:
        with_probe = swaps_s(args.rounds, Path(folder))
        pipeline_module.probe_model = lambda options: 0.0  # the swap as it was before the probe
        without = swaps_s(args.rounds, Path(folder))
    print(f"\nswap into a running pipeline: {with_probe:.2f} s with the probe, {without:.3f} s without "
          f"({with_probe - without:.2f} s more)")


if __name__ == "__main__":
    main()
