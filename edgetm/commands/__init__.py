"""What each ``edgetm`` subcommand does with its parsed arguments; each returns the exit status.

Each handler carries its subcommand's name; the work is split by subcommand family."""

from __future__ import annotations

from edgetm.commands.bench import bench
from edgetm.commands.common import EXIT_USER_ERROR, given
from edgetm.commands.config_files import config
from edgetm.commands.describe import devices, info
from edgetm.commands.images import classify, detect, pose
from edgetm.commands.running import config_from_arguments, run
from edgetm.commands.sound import listen
from edgetm.commands.training import collect, train

__all__ = ["EXIT_USER_ERROR", "bench", "classify", "collect", "config", "config_from_arguments", "detect", "devices",
           "given", "info", "listen", "pose", "run", "train"]
