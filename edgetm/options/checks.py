"""The check of each kind of annotation, made once per field: a function taking ``(value, loc,
errors, context)`` that returns the value converted, or ``BAD`` after recording why not."""

from __future__ import annotations

import enum
import math
import operator
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from edgetm.options.fields import BAD, Checked, Errors, FieldInfo, Later, Limits, OneOf


def _number(value: Any) -> str:
    """A bound as messages show it: 1, not 1.0."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _choices(values: list) -> str:
    shown = [repr(v.value if isinstance(v, enum.Enum) else v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


Check = Callable[[Any, tuple, Errors, Any], Any]  # (value, loc, errors, context) -> value or BAD
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _check_bool(strict: bool) -> Check:
    def check(value, loc, errors, context):
        if isinstance(value, bool):
            return value
        if not strict:
            if isinstance(value, int | float) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            if isinstance(value, str):
                return errors.add(loc, "bool_parsing", "Input should be a valid boolean, unable to interpret input",
                                  value)
        return errors.add(loc, "bool_type", "Input should be a valid boolean", value)
    return check


def _check_int(strict: bool) -> Check:
    # A boolean is not a number here: ``threads: true`` is a mistake, not 1.
    def check(value, loc, errors, context):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and not strict:
            if not math.isfinite(value):
                return errors.add(loc, "finite_number", "Input should be a finite number", value)
            if value.is_integer():
                return int(value)
            return errors.add(loc, "int_from_float", "Input should be a valid integer, got a number with a "
                              "fractional part", value)
        if isinstance(value, str) and not strict:
            try:
                return int(value.strip())
            except ValueError:
                return errors.add(loc, "int_parsing", "Input should be a valid integer, unable to parse string as "
                                  "an integer", value)
        return errors.add(loc, "int_type", "Input should be a valid integer", value)
    return check


def _check_float(strict: bool) -> Check:
    def check(value, loc, errors, context):
        if isinstance(value, bool):
            return errors.add(loc, "float_type", "Input should be a valid number", value)
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
        elif isinstance(value, str) and not strict:
            try:
                number = float(value.strip())
            except ValueError:
                return errors.add(loc, "float_parsing", "Input should be a valid number, unable to parse string as "
                                  "a number", value)
        else:
            return errors.add(loc, "float_type", "Input should be a valid number", value)
        if not math.isfinite(number):  # no setting means NaN or infinity
            return errors.add(loc, "finite_number", "Input should be a finite number", value)
        return number
    return check


def _check_str(value, loc, errors, context):
    if isinstance(value, str):
        return value
    return errors.add(loc, "string_type", "Input should be a valid string", value)


def _check_none(value, loc, errors, context):
    if value is None:
        return None
    return errors.add(loc, "none_required", "Input should be None", value)


def _check_any(value, loc, errors, context):
    return value


def _check_literal(allowed: tuple, strict: bool) -> Check:
    expected = _choices(list(allowed))

    def check(value, loc, errors, context):
        for option in allowed:
            if value == option and type(value) is type(option):  # True is not 1
                return option
        if isinstance(value, str) and not strict:
            for option in allowed:
                if isinstance(option, int) and not isinstance(option, bool) and value.strip() == str(option):
                    return option
        return errors.add(loc, "literal_error", f"Input should be {expected}", value, expected=expected)
    return check


def _check_enum(kind: type[enum.Enum], strict: bool) -> Check:
    members = list(kind)
    expected = _choices(members)

    def check(value, loc, errors, context):
        if isinstance(value, kind):
            return value
        if not strict or isinstance(value, str | int):
            for member in members:
                if member.value == value and type(member.value) is type(value):
                    return member
        return errors.add(loc, "enum", f"Input should be {expected}", value, expected=expected)
    return check


# (Limits field, error kind, words, whether a value fails the bound)
_BOUNDS = (("ge", "greater_than_equal", "greater than or equal to", operator.lt),
           ("gt", "greater_than", "greater than", operator.le),
           ("le", "less_than_equal", "less than or equal to", operator.gt),
           ("lt", "less_than", "less than", operator.ge))
_LENGTHS = (("min_length", "at least", "short", operator.lt), ("max_length", "at most", "long", operator.gt))


def check_limits(inner: Check, limits: Limits) -> Check:
    pattern = re.compile(limits.pattern) if limits.pattern is not None else None

    def check(value, loc, errors, context):
        value = inner(value, loc, errors, context)
        if value is BAD:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            for name, kind, words, fails in _BOUNDS:
                bound = getattr(limits, name)
                if bound is not None and fails(value, bound):
                    return errors.add(loc, kind, f"Input should be {words} {_number(bound)}", value, **{name: bound})
        if isinstance(value, str | list | tuple | dict):
            what, unit = _sized(value)
            for name, words, side, fails in _LENGTHS:
                bound = getattr(limits, name)
                if bound is not None and fails(len(value), bound):
                    string = what == "String"
                    tail = "" if string else f" after validation, not {len(value)}"
                    return errors.add(loc, f"string_too_{side}" if string else f"too_{side}",
                                      f"{what} should have {words} {bound} {unit(bound)}{tail}", value,
                                      **{name: bound})
        if pattern is not None and isinstance(value, str):
            found = pattern.search(value)
            # Python's $ also matches before a final newline; a name with one in it must not pass.
            if found is None or (limits.pattern.endswith("$") and found.end() != len(value)):
                return errors.add(loc, "string_pattern_mismatch", f"String should match pattern "
                                  f"'{limits.pattern}'", value, pattern=limits.pattern)
        return value
    return check


def _sized(value: Any) -> tuple[str, Callable[[int], str]]:
    if isinstance(value, str):
        return "String", lambda n: "character" if n == 1 else "characters"
    what = {list: "List", tuple: "Tuple", dict: "Dictionary"}[next(t for t in (list, tuple, dict)
                                                                 if isinstance(value, t))]
    return what, lambda n: "item" if n == 1 else "items"


def _check_sequence(item: Check, kind: type, strict: bool) -> Check:
    name = "list" if kind is list else "tuple"

    def check(value, loc, errors, context):
        if not isinstance(value, list | tuple) or (strict and not isinstance(value, kind)):
            return errors.add(loc, f"{name}_type", f"Input should be a valid {name}", value)
        before = len(errors.items)
        out = [item(v, (*loc, i), errors, context) for i, v in enumerate(value)]
        return BAD if len(errors.items) > before else kind(out)
    return check


def _check_fixed_tuple(items: list[Check], strict: bool) -> Check:
    def check(value, loc, errors, context):
        if not isinstance(value, list | tuple) or (strict and not isinstance(value, tuple)):
            return errors.add(loc, "tuple_type", "Input should be a valid tuple", value)
        if len(value) > len(items):
            return errors.add(loc, "too_long", f"Tuple should have at most {len(items)} items after validation, "
                              f"not {len(value)}", value, max_length=len(items))
        before = len(errors.items)
        out = [check_item(v, (*loc, i), errors, context)
               for i, (check_item, v) in enumerate(zip(items, value, strict=False))]
        for i in range(len(value), len(items)):
            errors.add((*loc, i), "missing", "Field required", value)
        return BAD if len(errors.items) > before else tuple(out)
    return check


def _check_dict(key: Check, item: Check) -> Check:
    def check(value, loc, errors, context):
        if not isinstance(value, dict):
            return errors.add(loc, "dict_type", "Input should be a valid dictionary", value)
        before = len(errors.items)
        out = {key(k, (*loc, f"[key {k!r}]"), errors, context): item(v, (*loc, str(k)), errors, context)
               for k, v in value.items()}
        return BAD if len(errors.items) > before else out
    return check


def _check_options(kind: type[Checked]) -> Check:
    def check(value, loc, errors, context):
        if isinstance(value, kind):
            return value
        if isinstance(value, dict):
            return kind._check(value, loc, errors, context)
        return errors.add(loc, "model_type", f"Input should be a valid dictionary or instance of {kind.__name__}",
                          value, class_name=kind.__name__)
    return check


def tag_of(kind: type, field: str) -> str | None:
    info = getattr(kind, "model_fields", {}).get(field)
    return info.default if info is not None and isinstance(info.default, str) else None


def _check_tagged(family: Any, field: str) -> Check:
    """A union of options told apart by one literal field (``type: camera``). ``family`` maps each
    tag to its class: a dict, or a plugin registry, which imports a class when first asked for it."""

    def check(value, loc, errors, context):
        if isinstance(value, Checked):
            tag = getattr(value, field, None)
            if isinstance(tag, str) and tag in family and isinstance(value, family[tag]):
                return value
        if not isinstance(value, dict):
            return errors.add(loc, "model_attributes_type", "Input should be a valid dictionary or object to "
                              "extract fields from", value)
        if field not in value:
            return errors.add(loc, "union_tag_not_found", f"Unable to extract tag using discriminator '{field}'",
                              value, discriminator=f"'{field}'")
        tag = value[field]
        if not isinstance(tag, str) or tag not in family:
            expected = ", ".join(repr(known) for known in family)
            return errors.add(loc, "union_tag_invalid", f"Input tag '{tag}' found using '{field}' does not match "
                              f"any of the expected tags: {expected}", value, discriminator=f"'{field}'", tag=str(tag),
                              expected_tags=expected)
        return _check_options(family[tag])(value, (*loc, tag), errors, context)
    return check


def _check_deferred(marker: OneOf | Later, inner: Any, strict: bool) -> Check:
    """The check of a field marked ``OneOf`` or ``Later``: its classes are found when a value comes."""
    if isinstance(marker, OneOf):
        check = _check_tagged(marker.family, marker.field)
    else:
        made: list[Check] = []

        def check(value, loc, errors, context):
            if not made:
                made.append(compile_check(marker.get(), strict))
            return made[0](value, loc, errors, context)
    if type(None) not in typing.get_args(inner):
        return check
    return lambda value, loc, errors, context: None if value is None else check(value, loc, errors, context)


def unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _exact(value: Any, annotation: Any) -> bool:
    """Whether ``value`` is already of the union member ``annotation`` (then no other is tried)."""
    kind = unwrap(annotation)
    if kind is float:
        return isinstance(value, float)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(kind, type) and isinstance(value, kind)


def _check_union(members: list, checks: list[Check]) -> Check:
    def check(value, loc, errors, context):
        for annotation, member in zip(members, checks, strict=True):
            if _exact(value, annotation):
                return member(value, loc, errors, context)
        first: list[dict] = []
        for member in checks:
            trial = Errors()
            result = member(value, loc, trial, context)
            if result is not BAD:
                return result
            first = first or trial.items
        errors.items.extend(first)
        return BAD
    return check


def compile_check(annotation: Any, strict: bool, discriminator: str | None = None) -> Check:
    """The check for one annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        infos = [e for e in extra if isinstance(e, FieldInfo)]
        limits = [e.limits if isinstance(e, FieldInfo) else e for e in extra if isinstance(e, FieldInfo | Limits)]
        tag = next((i.discriminator for i in infos if i.discriminator), discriminator)
        marker = next((e for e in extra if isinstance(e, OneOf | Later)), None)
        check = compile_check(inner, strict, tag) if marker is None else _check_deferred(marker, inner, strict)
        for bounds in limits:
            if bounds:
                check = check_limits(check, bounds)
        return check
    if origin in (typing.Union, types.UnionType):
        members = list(typing.get_args(annotation))
        optional = type(None) in members
        members = [m for m in members if m is not type(None)]
        options = [unwrap(m) for m in members]
        if discriminator is None and len(members) > 1 and all(
                isinstance(m, type) and issubclass(m, Checked) and tag_of(m, "type") for m in options):
            discriminator = "type"  # options of different kinds are told apart by their type
        if discriminator is not None and len(members) > 1:
            check = _check_tagged({tag_of(m, discriminator): m for m in options}, discriminator)
        elif len(members) == 1:
            check = compile_check(members[0], strict)
        else:
            check = _check_union(members, [compile_check(m, strict) for m in members])
        if not optional:
            return check
        return lambda value, loc, errors, context: None if value is None else check(value, loc, errors, context)
    if origin is typing.Literal:
        return _check_literal(typing.get_args(annotation), strict)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return _check_fixed_tuple([compile_check(a, strict) for a in args], strict)
        return _check_sequence(compile_check(args[0], strict) if args else _check_any, origin, strict)
    if origin is dict:
        key, value = typing.get_args(annotation) or (Any, Any)
        return _check_dict(compile_check(key, strict), compile_check(value, strict))
    if annotation is bool:
        return _check_bool(strict)
    if annotation is int:
        return _check_int(strict)
    if annotation is float:
        return _check_float(strict)
    if annotation is str:
        return _check_str
    if annotation is None or annotation is type(None):
        return _check_none
    if annotation is Any or annotation is object:
        return _check_any
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _check_enum(annotation, strict)
    if isinstance(annotation, type) and issubclass(annotation, Checked):
        return _check_options(annotation)
    raise TypeError(f"options cannot hold a value of type {annotation!r}")
