"""``edgetm listen``: a sound model on a microphone or a file, window by window."""

from __future__ import annotations

import argparse

from edgetm.commands.common import checked, given, load
from edgetm.errors import ConfigError
from edgetm.results import to_json


def listen(args: argparse.Namespace) -> int:
    from edgetm.audio.classify import SoundOptions
    from edgetm.capture import parse_source
    from edgetm.config import PipelineOptions
    from edgetm.errors import SourceError
    from edgetm.runtime.pipeline import Pipeline

    flags = given(args)
    options = checked(SoundOptions, flags.get("sound"), "options")
    text = getattr(args, "source", "mic")
    source = parse_source(text)
    extra = flags.get("source_options", {})
    foreign = sorted(f"--{name}" for name in extra if name not in type(source).model_fields)
    if foreign:
        raise ConfigError(f"{', '.join(foreign)} does not apply to the source {text} ({source.type})")
    pipeline = Pipeline(load(args), parse_source(text, **extra) if extra else source, options, PipelineOptions())
    windows = 0
    for seen in pipeline:
        windows += 1
        result = seen.result
        if windows == 1 and not args.json:
            print(f"{'T_START':>8s} {'T_END':>8s}  {'LABEL':20s} {'SCORE':>6s} {'DBFS':>7s}   TOP {options.top_k}")
        if args.json:
            print(to_json(result.to_dict(), text), flush=True)
            continue
        top = ", ".join(f"{p.label} {p.score:.3f}" for p in result.top)
        label = "(quiet)" if result.gated else result.label or "-"
        print(f"{result.t_start:8.3f} {result.t_end:8.3f}  {label:20s} {result.score:6.3f} {result.dbfs:7.1f}   {top}",
              flush=True)
    if windows == 0 and pipeline.source.problem:
        raise SourceError(pipeline.source.problem)
    if windows == 0:
        task = pipeline.task
        raise ConfigError(f"{text} gave no window of sound: a window is {task.samples} samples at {task.rate} Hz",
                          "give a longer recording, or --partial pad to pad the last window with silence")
    return 0


