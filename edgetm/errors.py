"""Typed errors. Each says what is wrong and, where there is one, what to do about it.

The CLI prints ``str(error)`` as one line and exits non-zero; anything that is not an
``EdgetmError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class EdgetmError(Exception):
    """Base class for errors a user can fix."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ModelError(EdgetmError):
    """The model file is missing, corrupt, unsupported or needs something we do not have."""


class NoHeadError(ModelError):
    """A model has no dense layer before its output: nothing to cut a classification head off at
    (an embedding model, whose output is its features)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} has no dense layer before its output to find its features at",
                         "name the feature tensor (--feature-tensor), or use an embedding model")


class LabelsError(EdgetmError):
    """A labels file is unreadable or does not match the model's output."""


class ImageError(EdgetmError):
    """An image cannot be read or decoded."""


class ConfigError(EdgetmError):
    """A configuration value, option or missing optional dependency."""


class SourceError(EdgetmError):
    """A capture source cannot be opened."""


def missing_dependency(module: str, extra: str | None = None, apt: str | None = None) -> ConfigError:
    """The error for an optional library that is not installed."""
    if extra:
        hint = f"install it with: pip install 'edgetm[{extra}]'"
    elif apt:
        hint = f"install it with: sudo apt install {apt}"
    else:
        hint = f"install it with: pip install {module}"
    return ConfigError(f"the Python module '{module}' is not installed", hint)


# Names that become MQTT topic levels and Home Assistant ids.
NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"
# Topic prefixes: levels of the same characters joined by single slashes. No empty level (a
# leading, trailing or double slash), no wildcard (+ #), no control character or NUL.
PREFIX_PATTERN = r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$"
MAX_PREFIX_LENGTH = 128
# The longest topic edgetm makes. MQTT allows 65,535 bytes, but a topic as long as that is a
# mistake that brokers and paho handle badly; prefixes, device and pipeline names are bounded
# (and long labels cut, see ``events.topic_level``) so that every topic stays under this.
MAX_TOPIC_BYTES = 1024


def from_validation(error, what: str, moved: dict[tuple[str, ...], str] | None = None) -> ConfigError:
    """A ValidationError (``edgetm.options``) as one line naming each bad key path and what is allowed.

    ``moved`` names keys that now live elsewhere, by key path (``*`` for any list index)."""
    found = problems(error, moved)
    shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    return ConfigError(f"{what}: {shown}")


def problems(error, moved: dict[tuple[str, ...], str] | None = None, paths: bool = True) -> list[str]:
    """What is wrong, one phrase per bad value (after its key path, unless ``paths`` is false)."""
    found = []
    for item in error.errors(include_url=False):
        pattern = tuple("*" if isinstance(part, int) else str(part) for part in item.get("loc", ()))
        path = ".".join(str(part) for part in item.get("loc", ()) if not str(part).startswith("function-"))
        message = item.get("msg", "invalid").removeprefix("Value error, ")
        context = item.get("ctx") or {}
        kind = item.get("type")
        if kind == "extra_forbidden" and moved and pattern in moved:
            message = f"unknown key (it is now {moved[pattern]})"
        elif kind == "extra_forbidden":
            message = "unknown key"
        elif kind in ("literal_error", "enum") and "expected" in context:
            message = f"must be one of {context['expected']}"
        elif kind == "union_tag_invalid":
            message = f"type must be one of {context.get('expected_tags', '')}"
        elif kind == "string_pattern_mismatch" and context.get("pattern") == NAME_PATTERN:
            message = "may hold only letters, digits and . _ -"
        elif kind == "string_pattern_mismatch" and context.get("pattern") == PREFIX_PATTERN:
            message = "must be topic levels of letters, digits, _ and - joined by single / (like home/edgetm)"
        found.append(f"{path}: {message}" if path and paths else message)
    return found
