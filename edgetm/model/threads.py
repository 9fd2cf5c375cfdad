"""How many threads a model runs on when nobody said: chosen by measuring it, for paced loops.

Back to back (a folder of photos, a video file read as fast as it decodes), every core helps: the
runtime's worker threads go from one invoke to the next without sleeping. A camera at 15-30 fps
leaves the interpreter idle for tens of milliseconds between frames; its workers go to sleep, and
waking them at the next frame costs more than they save on a light model. Measured on a 2-core
machine at 30 fps (``benchmarks/paced.py``), LiteRT's MobileNetV2 quant takes 7.8 ms per frame on 2
threads against 6.8 ms on 1 (3.8 ms back to back on 2), while YOLOv8n int8 still gains from the
second thread (17 ms against 27 ms). So for a paced source a model is tried on one thread first
and keeps it when one invoke is short enough that a sleeping worker would not pay for itself.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from edgetm.model.load import load_model, warm_up_inputs
from edgetm.model.model import Model, ModelFormat
from edgetm.model.options import ModelOptions

log = logging.getLogger(__name__)

# A LiteRT model whose single-thread invoke takes at most this long runs on one thread when paced
# (the crossover measured by benchmarks/paced.py: see the module docstring).
PACED_ONE_THREAD_MS = 10.0
# Timed invokes after the load's own warm-up run (XNNPACK packs weights on the first).
PROBE_RUNS = 3


def load_for_pacing(options: ModelOptions, paced: bool) -> Model:
    """``options``' model, on the threads a ``paced`` (or back-to-back) loop runs it fastest with,
    unless ``threads`` says how many: all cores back to back; for a paced source, one thread for a
    light LiteRT model, else all cores, and ONNX Runtime's threads not spinning (unless ``spin``)."""
    cores = os.cpu_count() or 1
    onnx = Path(options.path).suffix.lower() == ".onnx"
    if paced and onnx and options.spin is None:
        options = options.model_copy(update={"spin": False})  # ONNX Runtime's threads: not while idle
    if not paced or onnx or options.threads is not None or options.delegate or cores == 1:
        return load_model(options)
    single = load_model(options.model_copy(update={"threads": 1}))
    if single.format is not ModelFormat.TFLITE:  # an ONNX model inside a folder
        return _reload(options, single, "ONNX Runtime")
    invoke_ms = _invoke_ms(single)
    if invoke_ms <= PACED_ONE_THREAD_MS:
        log.debug("%s: one thread for a paced source (%.1f ms per invoke on one thread; a sleeping second "
                  "thread costs more to wake than it saves)", single.source, invoke_ms)
        return single
    return _reload(options, single, f"{invoke_ms:.1f} ms per invoke on one thread")


def _invoke_ms(model: Model) -> float:
    run = model.backend.bare(warm_up_inputs(model.inputs, model.metadata.get("sample_rate")))
    times = []
    for _ in range(PROBE_RUNS):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
        if times[-1] > 4 * PACED_ONE_THREAD_MS:  # clearly heavy: no need to wait for more
            break
    import statistics

    return statistics.median(times)


def _reload(options: ModelOptions, single: Model, why: str) -> Model:
    log.debug("%s: all cores for a paced source (%s)", single.source, why)
    del single
    return load_model(options)
