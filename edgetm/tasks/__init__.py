"""Tasks: what a pipeline runs on each item. A new task is one file (its ``Task`` subclass and
options) and one ``TASKS.register_at`` line here; each is imported when a pipeline runs it."""

from __future__ import annotations

from collections.abc import Mapping

from edgetm.errors import ConfigError
from edgetm.model.model import Model
from edgetm.plugins import Options, Registry, type_name
from edgetm.tasks.base import StageOptions, Task, Tracked, Unit

AUTO = "auto"

# In the order ``auto`` tries them: the first whose kinds hold the model's runs it.
TASKS: Registry[type[Task]] = Registry("task", lambda task: type_name(task.Options))
TASKS.register_at("classify", "edgetm.tasks.classify:ClassifyTask")
TASKS.register_at("detect", "edgetm.tasks.detect:DetectTask")
TASKS.register_at("sound", "edgetm.tasks.sound:SoundTask")
TASKS.register_at("pose", "edgetm.tasks.pose:PoseTask")

# A flag that sets each task's options, to name in an error: options usually come from one.
FLAG_HINTS = {"classify": "--top-k", "detect": "--conf", "sound": "--overlap", "pose": "--estimator"}


def choose(model: Model, requested: str = AUTO, given: Mapping[str, Options | None] | None = None) -> Options:
    """The options of the task a pipeline runs on ``model``: the task named, or the first whose
    kinds include the model's; ``given`` holds options per task name (None where not given), and
    options for a task that will not run are an error rather than ignored."""
    given = given or {}
    if requested == AUTO:
        name = next((n for n, task in TASKS.items() if model.task in task.kinds), None)
        if name is None:
            raise ConfigError(f"{model.source} is a {model.task.value} model, which no task runs",
                              f"name the task to run it with (one of {', '.join(TASKS)})")
    else:
        name = type_name(TASKS[requested].Options)  # an unknown name is an error naming the known ones
    unused = [n for n, options in given.items() if options is not None and n != name]
    if unused:
        them = "it" if len(unused) == 1 else "them"
        raise ConfigError(f"{' and '.join(unused)} options are given, but {model.source} runs as a {name} task",
                          f"remove {them}: the pipeline's {' and '.join(unused)} key, or the flags that set {them} "
                          f"(such as {' and '.join(FLAG_HINTS.get(n, '--' + n) for n in unused)})")
    return given.get(name) or TASKS[name].Options()


def build_task(model: Model, options: Options, stages: StageOptions | None = None) -> Task:
    """The task its options are for, running ``model``."""
    return TASKS[type_name(type(options))](model, options, stages or StageOptions())


__all__ = ["AUTO", "TASKS", "StageOptions", "Task", "Tracked", "Unit", "build_task", "choose"]
