"""Building blocks of the ``edgetm`` command line: a parser whose errors are one line, parsers
for flag values, and flags that stand for one field of an options model each (help text, shown
default and validation all come from the field).

A flag names its options class by place (``"edgetm.vision.detect:DetectOptions"``), imported only
when its help is shown or the flag is given: ``edgetm run`` has detector, pose, sound and MQTT
flags, and a run of a classifier on a video should not wait for those modules to import."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Union, get_args, get_origin

from edgetm.errors import problems

if TYPE_CHECKING:
    from collections.abc import Iterator

    from edgetm.options import Options

def options_class(options: type[Options] | str) -> type[Options]:
    """The class ``options`` is or names."""
    if not isinstance(options, str):
        return options
    from edgetm.plugins import imported

    return imported(options)


class LazyHelp:
    """A flag's help text, made by ``make`` when help is shown (``Parser.format_help``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], str]) -> None:
        self.make = make

    def __str__(self) -> str:
        return self.make()


class Choices:
    """The values field ``field`` of ``options`` (a class, or where it is) takes: its enum's or its
    literal's (those in ``leave_out`` left out), found when a flag's value is checked or its help
    shown."""

    def __init__(self, options: type[Options] | str, field: str, leave_out: tuple[str, ...] = ()) -> None:
        self.options = options
        self.field = field
        self.leave_out = leave_out

    def _values(self) -> list[str]:
        kind = options_class(self.options).model_fields[self.field].annotation
        while get_origin(kind) is Annotated or get_origin(kind) in (Union, UnionType):  # Annotated, X | None
            kind = next(a for a in get_args(kind) if a is not type(None))
        values = [m.value for m in kind] if isinstance(kind, type) else list(get_args(kind))  # an enum, or a Literal
        return [value for value in values if value not in self.leave_out]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __contains__(self, value: object) -> bool:
        return value in self._values()


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` (COLUMNS, else the terminal, else 80) without
    importing shutil, which argparse does on the first flag added and which costs 2 ms of a start."""
    try:
        return max(int(os.environ["COLUMNS"]), 1)
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line naming the flag and where to look, not the usage again;
    and a flag is taken only as spelled in full (``run --json`` is not ``--jsonl``)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def format_help(self) -> str:
        for action in self._actions:
            if isinstance(action.help, LazyHelp):
                action.help = str(action.help)
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists what it takes)\n")


def size(text: str) -> tuple[int, int]:
    """WxH or a single side."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 224 or 320x240") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 224 or 320x240")
    return parts[0], parts[1]


def triple(text: str) -> tuple[float, ...]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number or three comma-separated numbers") from None
    return tuple(values * 3 if len(values) == 1 else values)


def name_list(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def zone(text: str) -> dict:
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        raise argparse.ArgumentTypeError("a zone is points like '0,0 1,0 1,0.5'") from None
    return {"points": points}


def shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def field_help(options: type[Options] | str, field: str, text: str | LazyHelp | None = None,
               show_default: bool = True) -> str:
    """A flag's help: ``text``, else the field's description, with the field's default."""
    from edgetm.options import REQUIRED

    info = options_class(options).model_fields[field]
    text = str(text) if text is not None else info.description or ""
    default = info.default
    if show_default and default is not REQUIRED and default not in (None, False) and "default" not in text:
        text += f" (default: {shown(default)})"
    return text


def adder(group, options: type[Options] | str, field: str, *flags: str, dest: str,
           parse: Callable[[str], Any] | None = None, show_default: bool = True, text: str | LazyHelp | None = None,
           **kwargs) -> None:
    """Add a flag for the field ``field`` of ``options`` (a class, or where it is), given under
    ``dest`` (a dotted path into the options); ``text`` replaces the field's description where the
    flag says its opposite (``--no-...``)."""
    if "choices" not in kwargs and kwargs.get("action") not in ("store_true", "store_const"):
        kwargs.setdefault("metavar", field.upper())
    kwargs["help"] = LazyHelp(lambda: field_help(options, field, text, show_default))
    if kwargs.get("action") in ("store_true", "store_const"):
        group.add_argument(*flags, dest=dest, default=argparse.SUPPRESS, **kwargs)
        return
    check = checker(options, field, parse, whole=kwargs.get("action") != "append")
    group.add_argument(*flags, dest=dest, type=check, default=argparse.SUPPRESS, **kwargs)


def checker(options: type[Options] | str, field: str, parse: Callable[[str], Any] | None = None,
             whole: bool = True) -> Callable[[str], Any]:
    """An argparse type that checks a flag's value as the field ``field`` of ``options`` (a class,
    or where it is) checks it (unless not ``whole``: an appended value is checked with the rest by
    the options model)."""
    if not isinstance(options, str) and field not in options.model_fields:
        raise TypeError(f"{options.__name__} has no field {field}")

    def check(text_value: str):
        from edgetm.options import ValidationError, check_field

        value = parse(text_value) if parse else text_value
        if not whole:
            return value
        try:
            check_field(options_class(options), field, value)
            return value  # as given: the options model makes it its own type (and argparse checks choices)
        except ValidationError as error:
            raise argparse.ArgumentTypeError("; ".join(problems(error, paths=False))) from None

    check.__name__ = field  # argparse names the type in "invalid <type> value" messages
    check.options, check.field = options, field  # type: ignore[attr-defined] - what it checks, for its tests
    return check


def verbosity(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """-v and -q, on the program and each subcommand (SUPPRESS there keeps what was given before the name)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const="debug", default=default,
                       help="debug lines too: connection attempts, source reopens, stage timings once a minute")
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const="error", default=default,
                       help="errors only")
