"""``edgetm config``: the documented example written to start from, and the schema it follows."""

from __future__ import annotations

import argparse
import json
import os
from importlib import resources
from pathlib import Path

from edgetm.errors import ConfigError

# Package data, so that an installed edgetm has it; the repository's edgetm.example.yaml links here.
EXAMPLE = "edgetm.example.yaml"


def example_text() -> str:
    """The example configuration: every key, most commented out at their defaults."""
    return resources.files("edgetm").joinpath(EXAMPLE).read_text(encoding="utf-8")


def write_example(path: Path, force: bool = False) -> None:
    """Write the example to ``path``; an existing file is kept unless ``force``."""
    if path.is_dir():
        raise ConfigError(f"{path} is a folder", f"give a file name, e.g. {path / 'edgetm.yaml'}")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        with os.fdopen(os.open(path, flags, 0o644), "w", encoding="utf-8") as file:
            file.write(example_text())
    except FileExistsError:
        raise ConfigError(f"{path} exists already", "edit it, or add --force to replace it with the example") from None
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None


def config(args: argparse.Namespace) -> int:
    if args.action == "schema":
        from edgetm.config import schema

        print(json.dumps(schema().model_json_schema(), indent=2, allow_nan=False))
        return 0
    path = Path(args.path).expanduser()
    write_example(path, args.force)
    print(f"wrote {path}: set its model, source and sinks (relative paths are taken from its folder), then run "
          f"edgetm run --config {path}")
    return 0
