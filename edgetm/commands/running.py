"""``edgetm run``: the configuration its flags (or its file) describe, run as a service."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from edgetm.commands.common import given
from edgetm.errors import ConfigError
from edgetm.logs import STATUS

if TYPE_CHECKING:
    from edgetm.runtime.service import Service

# How often the progress line of files and folders is brought up to date.
PROGRESS_INTERVAL_S = 0.25


def config_from_arguments(args: argparse.Namespace):
    """The configuration the flags of ``edgetm run MODEL`` describe: only what was given."""
    from edgetm.capture import DEFAULT_SOURCE, parse_source
    from edgetm.config import parse_config

    flags = given(args)
    text = getattr(args, "source", DEFAULT_SOURCE)
    source = parse_source(text)
    extra = flags.get("source_options", {})
    foreign = sorted(f"--{name}" for name in extra if name not in type(source).model_fields)
    if foreign:
        raise ConfigError(f"{', '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not apply to the source "
                          f"{text} ({source.type})")
    if extra:
        source = parse_source(text, **extra)
    sinks: list[dict] = []
    if "mqtt" in flags:
        if "url" not in flags["mqtt"]:
            raise ConfigError("MQTT settings are given without a broker", "add --mqtt URL")
        sinks.append({"type": "mqtt", **flags["mqtt"]})
    if getattr(args, "stdout", False) or not sinks:
        sinks.append({"type": "stdout"})
    if "jsonl" in flags:
        sinks.append({"type": "jsonl", **flags["jsonl"]})
    pipeline = {**flags.get("pipeline", {}), "model": {"path": args.model, **flags.get("model", {})},
                "source": source.model_dump()}
    if "detect" in flags:
        pipeline["detect"] = flags["detect"]
    return parse_config({**flags.get("service", {}), "pipelines": [pipeline], "sinks": sinks}, "options")


# Flags that say how much edgetm tells, not what it runs: with --config they apply on top of the file.
ON_TOP = {"log.level", "verbosity"}


def refuse_flags_beside_config(args: argparse.Namespace) -> None:
    """Every flag but those ``ON_TOP`` describes what the configuration file describes: given with
    --config, it would be ignored, so it is an error naming it."""
    names: dict[str, str] = args.flag_names
    ignored = sorted(names[dest] for dest, value in vars(args).items()
                     if dest in names and dest not in ON_TOP | {"config", "help"} and value not in (None, False))
    if ignored:
        raise ConfigError(f"{', '.join(ignored)} would be ignored with --config: the file says what to run",
                          "put the setting in the file (edgetm config schema lists its keys), or run a model "
                          "without --config")


def run(args: argparse.Namespace) -> int:
    from edgetm.config import load_config
    from edgetm.logs import setup_logging
    from edgetm.runtime.service import Service

    if args.config and args.model:
        raise ConfigError("give a model or --config, not both", "put the model in the configuration file")
    if not args.config and not args.model:
        raise ConfigError("nothing to run", "give a model (edgetm run MODEL --source camera:0) or --config FILE "
                          "(edgetm config init FILE writes the documented example to edit)")
    level = given(args).get("log", {}).get("level")
    if level and args.verbosity:
        raise ConfigError(f"{'-v' if args.verbosity == 'debug' else '-q'} and --log-level both set the log level",
                          "give one of them")
    if args.config:
        refuse_flags_beside_config(args)
    config = load_config(args.config) if args.config else config_from_arguments(args)
    setup_logging(args.verbosity or level or config.log_level)
    service = Service(config, Path(args.config) if args.config else None)
    if not STATUS.enabled:
        return service.run()
    done = threading.Event()
    shower = threading.Thread(target=show_progress, args=(service, done), name="edgetm-progress", daemon=True)
    shower.start()
    try:
        return service.run()
    finally:
        done.set()
        shower.join(PROGRESS_INTERVAL_S * 4)
        STATUS.clear()


def show_progress(service: Service, done: threading.Event) -> None:
    """"37/120 frames" for each pipeline reading a file or folder, until ``done``."""
    while not done.wait(PROGRESS_INTERVAL_S):
        parts = [(name, progress) for name, pipeline in list(service.pipelines.items())
                 if (progress := pipeline.source.progress()) is not None]
        if parts:
            STATUS.show(", ".join(f"{name + ' ' if len(parts) > 1 else ''}{p.done}/{p.total} {p.unit}"
                                  for name, p in parts))
