"""``edgetm run``: the configuration its flags (or its file) describe, run as a service."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgetm.commands.common import given
from edgetm.errors import ConfigError


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


def run(args: argparse.Namespace) -> int:
    from edgetm.config import load_config
    from edgetm.logs import setup_logging
    from edgetm.runtime.service import Service

    if args.config and args.model:
        raise ConfigError("give a model or --config, not both", "put the model in the configuration file")
    if not args.config and not args.model:
        raise ConfigError("nothing to run", "give a model (edgetm run MODEL --source camera:0) or --config FILE")
    if args.config:
        ignored = [key for key in given(args) if key != "log"] + (["source"] if hasattr(args, "source") else [])
        if ignored or args.stdout:
            raise ConfigError("with --config, settings belong in the configuration file",
                              "remove the other flags, or run a model without --config")
    config = load_config(args.config) if args.config else config_from_arguments(args)
    setup_logging(given(args).get("log", {}).get("level") or config.log_level)
    return Service(config, Path(args.config) if args.config else None).run()


