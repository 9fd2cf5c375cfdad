"""Fields, their limits, and the errors a check reports."""


from collections.abc import Callable
from typing import Any, ClassVar


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a field that must be given
BAD = object()  # what a check returns after recording an error


class Limits:
    """Bounds on a value: numbers (``ge``, ``gt``, ``le``, ``lt``), lengths of strings, lists and
    tuples (``min_length``, ``max_length``) and a regular expression a string must match."""

    __slots__ = ("ge", "gt", "le", "lt", "max_length", "min_length", "pattern")

    def __init__(self, ge=None, gt=None, le=None, lt=None, min_length=None, max_length=None, pattern=None) -> None:
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt
        self.min_length, self.max_length, self.pattern = min_length, max_length, pattern

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in self.__slots__)

    def __repr__(self) -> str:
        given = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__
                          if getattr(self, name) is not None)
        return f"Limits({given})"


class FieldInfo:
    """One field: its annotation (resolved on first use), default, description and limits."""

    def __init__(self, default: Any = REQUIRED, *, default_factory: Callable[[], Any] | None = None,
                 description: str | None = None, discriminator: str | None = None, **limits: Any) -> None:
        if default is not REQUIRED and default_factory is not None:
            raise TypeError("give a default or a default_factory, not both")
        self.default = default
        self.default_factory = default_factory
        self.description = description
        self.discriminator = discriminator
        self.limits = Limits(**limits)
        self.name = ""
        self.owner: type[Checked] | None = None
        self.extra: tuple = ()  # markers from Annotated[...] on the field's own annotation
        self._annotation: Any = REQUIRED

    @property
    def annotation(self) -> Any:
        if self._annotation is REQUIRED and self.owner is not None:
            from edgetm.options.base import resolve

            resolve(self.owner)
        return self._annotation

    @property
    def metadata(self) -> list:
        """The limits (when any) and the markers on the field (such as ``LocalPath``'s)."""
        self.annotation  # noqa: B018 - resolves the markers
        return [*([self.limits] if self.limits else []), *self.extra]

    def is_required(self) -> bool:
        return self.default is REQUIRED and self.default_factory is None

    def get_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default

    def __repr__(self) -> str:
        return f"FieldInfo({self.name}, default={self.default!r})"


def Field(default: Any = REQUIRED, *, default_factory: Callable[[], Any] | None = None,
          description: str | None = None, discriminator: str | None = None, ge: Any = None, gt: Any = None,
          le: Any = None, lt: Any = None, min_length: int | None = None, max_length: int | None = None,
          pattern: str | None = None) -> Any:
    """A field's default, description and limits; also usable inside ``Annotated[...]`` for the
    items of a tuple or list."""
    return FieldInfo(default, default_factory=default_factory, description=description, discriminator=discriminator,
                     ge=ge, gt=gt, le=le, lt=lt, min_length=min_length, max_length=max_length, pattern=pattern)


class OneOf:
    """Marks a field, ``Annotated[Base, OneOf(family)]``, holding one of a family of options classes
    told apart by a literal field (``type: camera``). ``family`` maps each tag to its class as a
    plugin registry does (``tag in family``, ``family[tag]``, iteration over the tags), and a class
    is looked up only when a value names it: a configuration naming a camera imports no other
    source. The schema lists the whole family."""

    __slots__ = ("family", "field")

    def __init__(self, family: Any, field: str = "type") -> None:
        self.family = family
        self.field = field


class Later:
    """Marks a field, ``Annotated[Base | None, Later(get)]``, whose annotation is ``get()``, asked
    for only when a value is checked or the schema is made: its class is imported then, not when
    the class holding the field is made."""

    __slots__ = ("get",)

    def __init__(self, get: Callable[[], Any]) -> None:
        self.get = get


# -- errors ------------------------------------------------------------------------------------------------------
class ValidationError(ValueError):
    """Every bad value of one check, each with its key path (``loc``), kind, message and context."""

    def __init__(self, title: str, items: list[dict]) -> None:
        self.title = title
        self._items = items
        super().__init__(str(self))

    def errors(self, include_url: bool = False) -> list[dict]:
        return [dict(item) for item in self._items]

    def error_count(self) -> int:
        return len(self._items)

    def __str__(self) -> str:
        lines = [f"{len(self._items)} validation error{'s' if len(self._items) != 1 else ''} for {self.title}"]
        for item in self._items:
            lines.append(".".join(str(part) for part in item["loc"]) or "(whole)")
            lines.append(f"  {item['msg']}")
        return "\n".join(lines)


class ValidationInfo:
    """What a field validator may take as its last argument: the ``context`` given to
    ``model_validate`` (such as the configuration file's folder)."""

    __slots__ = ("context", "field_name")

    def __init__(self, context: Any, field_name: str | None) -> None:
        self.context = context
        self.field_name = field_name



class Errors:
    """Errors collected during one check."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, loc: tuple, kind: str, message: str, value: Any, **context: Any) -> object:
        item = {"type": kind, "loc": loc, "msg": message, "input": value}
        if context:
            item["ctx"] = context
        self.items.append(item)
        return BAD




class Checked:
    """What the checks know of ``Options``: a class with ``model_fields`` and a ``_check``
    classmethod (``base.py``), kept apart so that the checks need not import it."""

    model_fields: ClassVar[dict[str, FieldInfo]] = {}
