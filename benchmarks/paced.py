#!/usr/bin/env python3
"""Threads and spinning at a camera's pace: what each runtime setting costs per frame, paced at
30 fps and back to back, against the setting edgetm picks by default.

A camera leaves the interpreter idle between frames. The runtime's worker threads then sleep (or
spin, burning a core), and waking them at the next frame can cost more than they save. This is
the measurement edgetm's defaults come from (``edgetm/model/threads.py``, ``edgetm/model/onnx.py``).

Each setting runs in a process of its own (a runtime's thread pool is per process, and so is the
CPU clock read here); settings take turns round after round, and medians are reported. Per frame:
the invoke's latency (set input, invoke, get output, the input ready) and the process's CPU time
from one frame's start to the next one's, so threads spinning while idle are counted.

- LiteRT: 1 thread, every core, and edgetm's default (``load_for_pacing``: for a paced source
  one thread when the model's single-thread invoke is at most 10 ms, else every core; back to back
  every core);
- ONNX Runtime: every core with its threads spinning (its own default) and not (edgetm's), 1 thread.

ratio: edgetm's default's latency against the setting's, paced (> 1: edgetm's is faster).

    .venv/bin/python benchmarks/paced.py [--frames 120] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
PERIOD_MS = 1000 / 30
CORES = os.cpu_count() or 1


def _input(shape, dtype):
    """The same random input for every setting: [0, 1) for float inputs, 0..255 for integer ones."""
    import numpy as np

    values = np.random.default_rng(0).random(tuple(shape))
    return values.astype(dtype) if np.dtype(dtype).kind == "f" else (values * 255).astype(dtype)


def _runner(path: str, setting: str, paced: bool):
    """One invoke of the model under ``setting`` on a ready input, and the threads it runs on."""
    import numpy as np

    if setting == "edgetm":
        sys.path.insert(0, str(ROOT))
        from edgetm.model.options import ModelOptions
        from edgetm.model.threads import load_for_pacing

        model = load_for_pacing(ModelOptions(path=path), paced)
        return model.backend.bare([_input(model.input.shape, model.input.dtype)]), model.backend.describe()["threads"]
    kind, threads, *rest = setting.split(":")
    threads = CORES if threads == "all" else int(threads)
    if kind == "ort":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0" if rest == ["nospin"] else "1")
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        first = session.get_inputs()[0]
        shape = [d if isinstance(d, int) else (1 if i == 0 else 320) for i, d in enumerate(first.shape)]
        feed = {first.name: _input(shape, np.float32)}
        return (lambda: session.run(None, feed)), threads
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    tensor = _input(detail["shape"], detail["dtype"])
    output = interpreter.get_output_details()[0]["index"]

    def run():
        interpreter.set_tensor(detail["index"], tensor)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run, threads


def child(path: str, setting: str, period_ms: float, frames: int) -> None:
    run, threads = _runner(path, setting, period_ms > 0)
    for _ in range(10):
        run()
    latency, cpu = [], []
    for _ in range(frames):
        cpu_start, start = time.process_time(), time.perf_counter()
        run()
        latency.append((time.perf_counter() - start) * 1e3)
        if period_ms:
            time.sleep(max(0.0, period_ms / 1e3 - (time.perf_counter() - start)))
        cpu.append((time.process_time() - cpu_start) * 1e3)
    print(json.dumps({"latency": statistics.median(latency), "cpu": statistics.fmean(cpu), "threads": threads}))


def measure(path: Path, setting: str, period_ms: float, frames: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(path), setting, str(period_ms), str(frames)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{path.name} {setting}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, setting, period, frames = args.child
        child(path, setting, float(period), int(frames))
        return 0

    litert = ["edgetm", "litert:1", "litert:all"]
    onnx = ["edgetm", "ort:all:spin", "ort:all:nospin", "ort:1:nospin"]
    models = [("demo float", ROOT / "models" / "banana" / "model_unquant.tflite", litert),
              ("demo ONNX", ROOT / "models" / "banana" / "model.onnx", onnx)]
    if ZOO.is_dir():
        models[1:1] = [("MobileNetV2 quant", ZOO / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite", litert),
                       ("YOLOv8n int8", ZOO / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite", litert)]
        models.append(("YOLOv8n fp32 ONNX 320", ZOO / "nudenet-yolov8n-320" / "320n.onnx", onnx))
    else:
        print(f"zoo not found at {ZOO}: MobileNetV2 and YOLOv8n skipped (set EDGETM_ZOO)", file=sys.stderr)

    print(f"per frame, {CORES} cores, paced = one frame every {PERIOD_MS:.1f} ms (30 fps), medians of {args.rounds} "
          f"rounds of {args.frames} frames, settings interleaved (ms)\n")
    header = (f"{'model':22s} {'setting':16s} {'threads':>7s} | {'paced':>7s} {'CPU':>7s} | {'b2b':>7s} {'CPU':>7s} "
              f"| {'ratio':>6s}")
    print(f"{'':47s} | {'at 30 fps':^15s} | {'back to back':^15s} |")
    print(header)
    print("-" * len(header))
    for name, path, settings in models:
        results: dict[tuple[str, float], list[dict]] = {}
        for _ in range(args.rounds):
            for period in (PERIOD_MS, 0.0):
                for setting in settings:
                    results.setdefault((setting, period), []).append(measure(path, setting, period, args.frames))
        med = {key: {"latency": statistics.median(r["latency"] for r in runs),
                     "cpu": statistics.median(r["cpu"] for r in runs), "threads": runs[0]["threads"]}
               for key, runs in results.items()}
        ours = med[("edgetm", PERIOD_MS)]["latency"]
        for setting in settings:
            paced, b2b = med[(setting, PERIOD_MS)], med[(setting, 0.0)]
            threads = paced["threads"] if paced["threads"] == b2b["threads"] else f"{paced['threads']}/{b2b['threads']}"
            label = "edgetm default" if setting == "edgetm" else setting
            print(f"{name:22s} {label:16s} {threads!s:>7s} | {paced['latency']:7.2f} {paced['cpu']:7.2f} | "
                  f"{b2b['latency']:7.2f} {b2b['cpu']:7.2f} | {paced['latency'] / ours:5.2f}x")
    print("\nthreads: paced/back to back where edgetm's default differs. CPU: the process's, per frame, idle "
          "time included.\nratio: the setting's paced latency / edgetm default's (> 1: edgetm's default is faster).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
