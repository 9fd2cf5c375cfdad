"""``Options``: the base of every settings class, its validators, and how a class's checks are
made on first use."""


import enum
import sys
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from edgetm.options.checks import Check, check_limits, compile_check
from edgetm.options.fields import BAD, REQUIRED, Checked, Errors, FieldInfo, Limits, ValidationError, ValidationInfo


def check_field(cls: type["Options"], name: str, value: Any, context: Any = None) -> Any:
    """``value`` as field ``name`` of ``cls`` takes it (its type and limits, not the class's
    validators); raises ValidationError."""
    compiled = cls.__dict__.get("_compiled") or resolve(cls)
    errors = Errors()
    checked = compiled.checks[name](value, (), errors, context)
    if checked is BAD:
        raise ValidationError(f"{cls.__name__}.{name}", errors.items)
    return checked




# -- validators ------------------------------------------------------------------------------------------------------
class _Validator:
    """A field or model validator, as declared in a class body."""

    def __init__(self, function: Any, fields: tuple[str, ...] | None, mode: str) -> None:
        self.function = function.__func__ if isinstance(function, classmethod | staticmethod) else function
        self.fields = fields
        self.mode = mode
        code = self.function.__code__
        self.takes_info = code.co_argcount >= 3 if fields is not None else False


def field_validator(*fields: str, mode: str = "after") -> Callable[[Any], Any]:
    """Check or convert the value of ``fields``: ``before`` type conversion (shorthands) or after it.
    Decorate a classmethod taking ``(cls, value)`` or ``(cls, value, info)``; raise ValueError to refuse."""
    if mode not in ("before", "after"):
        raise ValueError("mode is 'before' or 'after'")
    return lambda function: _Validator(function, fields, mode)


def model_validator(*, mode: str = "after") -> Callable[[Any], Any]:
    """Check the whole object once its fields are made (``after``: a method taking ``self`` and
    returning it), or convert the mapping first (``before``: a classmethod taking ``(cls, data)``)."""
    if mode not in ("before", "after"):
        raise ValueError("mode is 'before' or 'after'")
    return lambda function: _Validator(function, None, mode)


# -- the options base ------------------------------------------------------------------------------------------------
def _own_annotations(cls: type) -> dict[str, Any]:
    """The annotations written in ``cls``'s own body (inspect.get_annotations, without importing inspect)."""
    return cls.__dict__.get("__annotations__", {})  # noqa: RUF063


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return typing.get_origin(annotation) is typing.ClassVar


class _Compiled:
    """A class's checks, made on its first use."""

    __slots__ = ("after", "before", "checks", "model_after", "model_before")

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}
        self.before: dict[str, list[_Validator]] = {}
        self.after: dict[str, list[_Validator]] = {}
        self.model_before: list[_Validator] = []
        self.model_after: list[_Validator] = []


def resolve(cls: type["Options"]) -> _Compiled:
    """Resolve the annotations of ``cls``'s fields and make their checks (once per class).

    Annotations a module postpones (``from __future__ import annotations``) are strings, each
    compiled here by ``typing.get_type_hints``, for the class and every base: tens of microseconds
    apiece. The modules of the options used on the way to a run's first result (and this one) do
    not postpone theirs, so that only plugins' and commands' classes pay it, once."""
    compiled = cls.__dict__.get("_compiled")
    if compiled is not None:
        return compiled
    local: dict[str, Any] = {}
    for klass in cls.__mro__:  # the names of the functions the classes were made in, the nearest first
        local = {**klass.__dict__.get("_locals", {}), **local}
    hints = typing.get_type_hints(cls, localns=local, include_extras=True)
    compiled = _Compiled()
    for name, info in cls.model_fields.items():
        annotation = hints[name]
        if typing.get_origin(annotation) is typing.Annotated:  # LocalPath and the like: markers on the field
            _, *extra = typing.get_args(annotation)
            info.extra = tuple(e for e in extra if not isinstance(e, FieldInfo | Limits))
        info._annotation = annotation
        check = compile_check(annotation, cls._strict, info.discriminator)
        compiled.checks[name] = check_limits(check, info.limits) if info.limits else check
    for klass in reversed(cls.__mro__):
        for attribute in klass.__dict__.values():
            if isinstance(attribute, _Validator):
                if attribute.fields is None:
                    (compiled.model_before if attribute.mode == "before" else compiled.model_after).append(attribute)
                else:
                    for name in attribute.fields:
                        if name not in cls.model_fields:
                            raise TypeError(f"{cls.__name__}: a validator for '{name}', which is not a field")
                        target = compiled.before if attribute.mode == "before" else compiled.after
                        target.setdefault(name, []).append(attribute)
    cls._compiled = compiled
    return compiled


def _validated(cls: type, validators: Sequence[_Validator], value: Any, where: tuple, errors: Errors,
               context: Any) -> Any:
    """``value`` through a field's ``validators`` in turn (BAD, recorded, when one refuses it)."""
    try:
        for validator in validators:
            info = (ValidationInfo(context, where[-1]),) if validator.takes_info else ()
            value = validator.function(cls, value, *info)
    except (ValueError, AssertionError) as error:
        return _validator_error(error, where, errors, value)
    return value


def _validator_error(error: Exception, loc: tuple, errors: Errors, value: Any) -> object:
    kind = "assertion_error" if isinstance(error, AssertionError) else "value_error"
    prefix = "Assertion failed, " if kind == "assertion_error" else "Value error, "
    return errors.add(loc, kind, f"{prefix}{error}", value, error=str(error))


class Options(Checked):
    """Settings of one stage, plugin or command: strict (unknown keys are errors, and so are NaN and
    infinity, which no setting means), immutable once made. A subclass given ``strict=True`` takes
    only values already of their field's type."""

    model_fields: typing.ClassVar[dict[str, FieldInfo]] = {}
    _strict: typing.ClassVar[bool] = False
    _compiled: typing.ClassVar[_Compiled | None] = None

    def __init_subclass__(cls, strict: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if strict is not None:
            cls._strict = strict
        cls._compiled = None
        fields = {name: _copy_field(info) for name, info in cls.model_fields.items()}
        for name, annotation in _own_annotations(cls).items():
            if name.startswith("_") or _is_classvar(annotation):
                continue
            value = cls.__dict__.get(name, REQUIRED)
            info = value if isinstance(value, FieldInfo) else FieldInfo(value)
            if name in cls.__dict__:
                delattr(cls, name)  # the value lives on each object; the default in model_fields
            info.name = name
            fields[name] = info
        for info in fields.values():
            info.owner = cls
            info._annotation = REQUIRED
        cls.model_fields = fields
        frame = sys._getframe(1)
        if frame.f_locals is not frame.f_globals:  # a class made inside a function may name the function's locals
            cls._locals = dict(frame.f_locals)

    def __init__(self, **data: Any) -> None:
        type(self)._make(self, data, None)

    @classmethod
    def _make(cls, target: "Options | None", data: dict, context: Any) -> "Options":
        errors = Errors()
        made = cls._check(data, (), errors, context, target)
        if made is BAD:
            raise ValidationError(cls.__name__, errors.items)
        return made

    @classmethod
    def _check(cls, data: dict, loc: tuple, errors: Errors, context: Any, target: "Options | None" = None) -> Any:
        compiled = cls.__dict__.get("_compiled") or resolve(cls)
        before = len(errors.items)
        for validator in compiled.model_before:
            try:
                data = validator.function(cls, data)
            except (ValueError, AssertionError) as error:
                return _validator_error(error, loc, errors, data)
        if not isinstance(data, dict):
            return errors.add(loc, "model_type", f"Input should be a valid dictionary or instance of {cls.__name__}",
                              data, class_name=cls.__name__)
        fields = cls.model_fields
        for key in data:
            if key not in fields:
                errors.add((*loc, key), "extra_forbidden", "Extra inputs are not permitted", data[key])
        values: dict[str, Any] = {}
        for name, info in fields.items():
            if name not in data:
                if info.is_required():
                    errors.add((*loc, name), "missing", "Field required", data)
                else:
                    values[name] = info.get_default()
                continue
            value, where = data[name], (*loc, name)
            value = _validated(cls, compiled.before.get(name, ()), value, where, errors, context)
            if value is not BAD:
                value = compiled.checks[name](value, where, errors, context)
            if value is not BAD:
                value = _validated(cls, compiled.after.get(name, ()), value, where, errors, context)
            if value is not BAD:
                values[name] = value
        if len(errors.items) > before:
            return BAD
        made = target if target is not None else object.__new__(cls)
        made.__dict__.update(values)
        object.__setattr__(made, "_given", frozenset(k for k in data if k in fields))
        for validator in compiled.model_after:
            try:
                result = validator.function(made)
            except (ValueError, AssertionError) as error:
                return _validator_error(error, loc, errors, data)
            made = made if result is None else result
        return made

    # -- pydantic's names, for the same jobs ------------------------------------------------------------------------
    @classmethod
    def model_validate(cls, data: Any, *, context: Any = None) -> Any:
        """Make an object of this class from a mapping (an object of it is returned as it is)."""
        if isinstance(data, cls):
            return data
        return cls._make(None, data, context)

    @classmethod
    def model_validate_json(cls, text: str | bytes, *, context: Any = None) -> Any:
        import json

        return cls.model_validate(json.loads(text), context=context)

    @property
    def model_fields_set(self) -> set[str]:
        """The fields given when the object was made (or changed by ``model_copy``), not defaulted."""
        return set(self._given)

    def off_default(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` given with a value other than their default, in the order named: the
        settings that would be ignored where they do not apply (a default left in a file is not)."""
        fields = type(self).model_fields
        return [name for name in names if name in self._given and getattr(self, name) != fields[name].default]

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy with ``update`` applied, unchecked: for values the program made itself."""
        import copy

        made = object.__new__(type(self))
        made.__dict__.update(copy.deepcopy(self.__dict__) if deep else self.__dict__)
        if update:
            unknown = set(update) - set(type(self).model_fields)
            if unknown:
                raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
            made.__dict__.update(update)
        object.__setattr__(made, "_given", self._given | frozenset(update or ()))
        return made

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False, exclude: set[str] | None = None) -> dict:
        """The fields as a mapping, nested options too; ``mode="json"`` gives only JSON types."""
        return {name: _dump(value, mode, exclude_none) for name, value in self._items()
                if name not in (exclude or ()) and not (exclude_none and value is None)}

    def model_dump_json(self, *, exclude_none: bool = False) -> str:
        import json

        return json.dumps(self.model_dump(mode="json", exclude_none=exclude_none), allow_nan=False)

    @classmethod
    def model_json_schema(cls) -> dict:
        """The JSON schema of this class (draft 2020-12), with nested options under ``$defs``."""
        from edgetm.options.schema import json_schema

        return json_schema(cls)

    def _items(self) -> Iterator[tuple[str, Any]]:
        for name in type(self).model_fields:
            yield name, self.__dict__[name]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return self._items()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: make a new one with model_copy(update=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(self.__dict__[name] == other.__dict__[name] for name in type(self).model_fields)

    def __hash__(self) -> int:
        return hash((type(self), *(_hashable(value) for _, value in self._items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in self._items())})"

    def __copy__(self) -> Any:
        return self.model_copy()

    def __deepcopy__(self, memo: dict) -> Any:
        return self.model_copy(deep=True)

    def __reduce__(self):
        raise TypeError("options are not pickled: use model_dump_json and model_validate_json")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _copy_field(info: FieldInfo) -> FieldInfo:
    """A subclass's own copy of an inherited field (its annotation is resolved in the subclass)."""
    made = FieldInfo.__new__(FieldInfo)
    made.__dict__.update(info.__dict__)
    return made


def _dump(value: Any, mode: str, exclude_none: bool) -> Any:
    if isinstance(value, Options):
        return value.model_dump(mode=mode, exclude_none=exclude_none)
    if isinstance(value, list | tuple):
        items = [_dump(v, mode, exclude_none) for v in value]
        return items if mode == "json" or isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _dump(v, mode, exclude_none) for k, v in value.items()}
    if mode == "json" and isinstance(value, enum.Enum):
        return value.value
    return value
