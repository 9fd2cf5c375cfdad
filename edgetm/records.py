"""Records: small typed classes of values (a frame, a result, a model's tensor), made by naming
their fields.

    class Unit(Record):
        item: Item
        input: Any
        notes: list[str] = field(default_factory=list)

A ``Record`` is what ``@dataclass(frozen=True)`` makes, for the part of it edgetm uses: an
``__init__`` taking the fields in order or by name (``kw_only=True``: by name only), defaults and
``field(default_factory=..., compare=False)``, a ``__repr__``, ``__eq__`` on the type and the
compared fields, and ``__hash__``; a frozen record (the default) refuses assignment, and
``frozen=False`` makes a mutable, unhashable one. ``replace`` and ``as_dict`` are
``dataclasses.replace`` and ``asdict``.

Why not ``dataclasses``: it writes the source of each class's methods and compiles it when the
class is made, 0.6-0.8 ms per frozen class on a desktop core and several times that on a Pi; the
classes on the way to ``edgetm run``'s first result took 15-20 ms of its start. A record's methods
are written once, here, and read the class's field list: making a class costs microseconds, and
making an object is as fast as a frozen dataclass's (its values go into ``__dict__`` at once,
where a frozen dataclass sets each through ``object.__setattr__``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

__all__ = ["Record", "as_dict", "field", "replace"]

R = TypeVar("R", bound="Record")
_NONE: Any = object()  # no default


class _Field:
    __slots__ = ("compare", "default", "factory")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, compare: bool) -> None:
        self.default, self.factory, self.compare = default, factory, compare


def field(*, default: Any = _NONE, default_factory: Callable[[], Any] | None = None, compare: bool = True) -> Any:
    """A field's default made afresh for each object (``default_factory``), or a field left out
    of ``==`` and the hash (``compare=False``)."""
    if default is not _NONE and default_factory is not None:
        raise TypeError("give a default or a default_factory, not both")
    return _Field(default, default_factory, compare)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(annotation, "__origin__", None) is ClassVar


class FrozenRecordError(AttributeError):
    """Assignment to a field of a frozen record."""


class Record:
    """The base of every record; see the module's documentation."""

    _fields: ClassVar[tuple[str, ...]] = ()  # every field, in order (a base class's first)
    _positional: ClassVar[tuple[str, ...]] = ()  # those that may be given by position
    _names: ClassVar[frozenset[str]] = frozenset()  # every field, as a set
    _compared: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[tuple[tuple[str, Any, Callable[[], Any] | None], ...]] = ()  # (name, default, factory)

    def __init_subclass__(cls, frozen: bool = True, kw_only: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict.fromkeys(cls._fields)
        positional = list(cls._positional)
        compared = list(cls._compared)
        defaults = {name: (default, factory) for name, default, factory in cls._defaults}
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - own, unevaluated
            if _is_classvar(annotation):
                continue
            value = cls.__dict__.get(name, _NONE)
            spec = value if isinstance(value, _Field) else _Field(value, None, True)
            if isinstance(value, _Field):
                if spec.default is _NONE:
                    delattr(cls, name)
                else:
                    setattr(cls, name, spec.default)  # as a dataclass leaves it: the default on the class
            if name not in fields:
                fields[name] = None
                if not kw_only:
                    positional.append(name)
            if spec.compare and name not in compared:
                compared.append(name)
            elif not spec.compare and name in compared:
                compared.remove(name)
            if spec.default is not _NONE or spec.factory is not None:
                defaults[name] = (spec.default, spec.factory)
            else:
                defaults.pop(name, None)
        cls._fields = tuple(fields)
        cls._names = frozenset(fields)
        cls._positional = tuple(positional)
        cls._compared = tuple(compared)
        cls._defaults = tuple((name, *defaults[name]) for name in cls._fields if name in defaults)
        if not frozen and "__hash__" not in cls.__dict__:
            cls.__hash__ = None  # type: ignore[assignment] - mutable and compared by value: unhashable
        if "__setattr__" not in cls.__dict__:
            cls.__setattr__ = Record._refuse_set if frozen else object.__setattr__  # type: ignore[method-assign]
            cls.__delattr__ = Record._refuse_delete if frozen else object.__delattr__  # type: ignore[method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        values = self.__dict__
        if args:
            if len(args) > len(cls._positional):
                cls._refuse(args, kwargs)
            values.update(zip(cls._positional, args, strict=False))
            if kwargs and not values.keys().isdisjoint(kwargs):
                cls._refuse(args, kwargs)
        if kwargs:
            values.update(kwargs)
            if not values.keys() <= cls._names:
                cls._refuse(args, kwargs)
        if len(values) != len(cls._fields):
            for name, default, factory in cls._defaults:
                if name not in values:
                    values[name] = default if factory is None else factory()
            if len(values) != len(cls._fields):
                cls._refuse(args, kwargs)

    @classmethod
    def _refuse(cls, args: tuple, kwargs: dict) -> None:
        """The error for arguments that do not make one of these, as Python words it for a call."""
        name = cls.__name__
        if len(args) > len(cls._positional):
            raise TypeError(f"{name}() takes {len(cls._positional)} positional arguments but {len(args)} were given")
        twice = next((key for key in kwargs if key in cls._positional[:len(args)]), None)
        if twice is not None:
            raise TypeError(f"{name}() got multiple values for argument '{twice}'")
        unknown = next((key for key in kwargs if key not in cls._names), None)
        if unknown is not None:
            raise TypeError(f"{name}() got an unexpected keyword argument '{unknown}'")
        given = {*cls._positional[:len(args)], *kwargs, *(default[0] for default in cls._defaults)}
        missing = [field for field in cls._fields if field not in given]
        raise TypeError(f"{name}() missing {len(missing)} required argument{'s' if len(missing) > 1 else ''}: "
                        f"{', '.join(repr(field) for field in missing)}")

    def _refuse_set(self, name: str, value: Any) -> None:
        raise FrozenRecordError(f"cannot assign to field '{name}' of a {type(self).__name__}")

    def _refuse_delete(self, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field '{name}' of a {type(self).__name__}")

    def __repr__(self) -> str:
        values = self.__dict__
        return f"{type(self).__qualname__}({', '.join(f'{name}={values[name]!r}' for name in self._fields)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        mine, theirs, names = self.__dict__, other.__dict__, self._compared
        return tuple(mine[name] for name in names) == tuple(theirs[name] for name in names)

    def __hash__(self) -> int:
        values = self.__dict__
        return hash(tuple(values[name] for name in self._compared))


def replace(record: R, **changes: Any) -> R:
    """A copy of ``record`` with ``changes``."""
    values = record.__dict__
    return type(record)(**{**{name: values[name] for name in record._fields}, **changes})


def as_dict(value: Any) -> Any:
    """A record as a dict of its fields, records, lists, tuples and dicts inside it likewise."""
    if isinstance(value, Record):
        return {name: as_dict(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return type(value)(as_dict(v) for v in value)
    if isinstance(value, dict):
        return {k: as_dict(v) for k, v in value.items()}
    return value
