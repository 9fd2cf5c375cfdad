"""What each ``edgetm`` subcommand does with its parsed arguments; each returns the exit status.

Each handler carries its subcommand's name; the work is split by subcommand family. A handler's
module is imported when the handler is first looked up: one command does not wait for the others'
imports (training, MQTT, the configuration schema, ...).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from edgetm.commands.common import EXIT_USER_ERROR, given

if TYPE_CHECKING:
    from edgetm.commands.bench import bench
    from edgetm.commands.config_files import config
    from edgetm.commands.describe import devices, info
    from edgetm.commands.images import classify, detect, pose
    from edgetm.commands.running import config_from_arguments, run
    from edgetm.commands.sound import listen
    from edgetm.commands.training import collect, train

# name -> the module of edgetm.commands that defines it
_HANDLERS = {"bench": "bench", "config": "config_files", "devices": "describe", "info": "describe",
             "classify": "images", "detect": "images", "pose": "images", "config_from_arguments": "running",
             "run": "running", "listen": "sound", "collect": "training", "train": "training"}

__all__ = ["EXIT_USER_ERROR", "bench", "classify", "collect", "config", "config_from_arguments", "detect", "devices",
           "given", "handler", "info", "listen", "pose", "run", "train"]


def handler(name: str) -> Callable[[argparse.Namespace], int]:
    """The handler of the subcommand ``name``, its module imported now."""
    return getattr(importlib.import_module(f"edgetm.commands.{_HANDLERS[name]}"), name)


def __getattr__(name: str):
    if name in _HANDLERS:
        # Kept here: importing edgetm.commands.bench binds the module, not its handler, to ``bench``.
        globals()[name] = found = handler(name)
        return found
    raise AttributeError(f"module 'edgetm.commands' has no attribute {name!r}")
