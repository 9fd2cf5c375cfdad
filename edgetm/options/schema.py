"""The JSON schema of an ``Options`` class (``edgetm config schema``): for editors that complete
and check a configuration file as it is typed."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from edgetm.options.base import Options
from edgetm.options.checks import tag_of, unwrap
from edgetm.options.fields import FieldInfo, Later, Limits, OneOf

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(cls: type[Options]) -> dict:
    defs: dict[str, dict] = {}
    names: dict[type, str] = {}
    top = _object(cls, defs, names)
    if defs:
        top["$defs"] = defs
    return {"$schema": DIALECT, **top}


def _ref(cls: type[Options], defs: dict, names: dict) -> dict:
    if cls not in names:
        name = cls.__name__
        taken = set(names.values())
        number = 2
        while name in taken:
            name, number = f"{cls.__name__}{number}", number + 1
        names[cls] = name
        defs[name] = {}  # reserved first: a class that holds itself refers to itself
        defs[name] = _object(cls, defs, names)
    return {"$ref": f"#/$defs/{names[cls]}"}


def _object(cls: type[Options], defs: dict, names: dict) -> dict:
    properties, required = {}, []
    for name, info in cls.model_fields.items():
        properties[name] = _field(info, defs, names)
        if info.is_required():
            required.append(name)
    found: dict[str, Any] = {"title": cls.__name__, "type": "object", "properties": properties,
                             "additionalProperties": False}
    doc = (cls.__doc__ or "").strip()
    if doc and cls.__doc__ is not Options.__doc__:
        found["description"] = " ".join(doc.split("\n\n")[0].split())
    if required:
        found["required"] = required
    return found


def _field(info: FieldInfo, defs: dict, names: dict) -> dict:
    found = _schema(info.annotation, defs, names, info.discriminator)
    if info.limits:
        found = _limited(found, info.limits)
    if info.description:
        found["description"] = info.description
    if not info.is_required() and info.default_factory is None:
        default = _json(info.default)
        if default is not _SKIP:
            found["default"] = default
    return found


_SKIP = object()


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        items = [_json(v) for v in value]
        return _SKIP if _SKIP in items else items
    if isinstance(value, Options):
        return value.model_dump(mode="json")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _SKIP


def _limited(found: dict, limits: Limits) -> dict:
    target = found
    if "anyOf" in found:  # an optional value: the limits are the value's
        target = next((s for s in found["anyOf"] if s.get("type") != "null"), found)
    kind = target.get("type")
    for key, name in (("ge", "minimum"), ("gt", "exclusiveMinimum"), ("le", "maximum"), ("lt", "exclusiveMaximum")):
        if getattr(limits, key) is not None:
            target[name] = getattr(limits, key)
    lengths = ("minLength", "maxLength") if kind == "string" else ("minItems", "maxItems")
    if limits.min_length is not None:
        target[lengths[0]] = limits.min_length
    if limits.max_length is not None:
        target[lengths[1]] = limits.max_length
    if limits.pattern is not None:
        target["pattern"] = limits.pattern
    return found


def _tagged(classes: list[type[Options]], tag: str, defs: dict, names: dict) -> dict:
    found = {"oneOf": [_ref(c, defs, names) for c in classes]}
    return {**found, "discriminator": {"propertyName": tag,
                                       "mapping": {tag_of(c, tag): f"#/$defs/{names[c]}" for c in classes}}}


def _nullable(found: dict) -> dict:
    choices = found["anyOf"] if list(found) == ["anyOf"] else [found]
    return {"anyOf": [*choices, {"type": "null"}]}


def _schema(annotation: Any, defs: dict, names: dict, discriminator: str | None = None) -> dict:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        tag = next((e.discriminator for e in extra if isinstance(e, FieldInfo) and e.discriminator), discriminator)
        marker = next((e for e in extra if isinstance(e, OneOf | Later)), None)
        if isinstance(marker, OneOf):  # the whole family, each class imported now
            found = _tagged([marker.family[t] for t in marker.family], marker.field, defs, names)
            found = _nullable(found) if type(None) in typing.get_args(inner) else found
        elif isinstance(marker, Later):
            optional = type(None) in typing.get_args(inner)
            found = _schema(marker.get() | None if optional else marker.get(), defs, names, tag)
        else:
            found = _schema(inner, defs, names, tag)
        for e in extra:
            limits = e.limits if isinstance(e, FieldInfo) else e if isinstance(e, Limits) else None
            if limits:
                found = _limited(found, limits)
        return found
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        classes = [unwrap(m) for m in members]
        if len(members) > 1 and all(isinstance(c, type) and issubclass(c, Options) and tag_of(c, "type")
                                    for c in classes):
            found = _tagged(classes, discriminator or "type", defs, names)
        else:
            choices = [_schema(m, defs, names) for m in members]
            found = choices[0] if len(choices) == 1 else {"anyOf": choices}
        return _nullable(found) if type(None) in typing.get_args(annotation) else found
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin is list or (origin is tuple and typing.get_args(annotation)[-1:] == (Ellipsis,)):
        args = typing.get_args(annotation)
        return {"type": "array", "items": _schema(args[0], defs, names) if args else {}}
    if origin is tuple:
        args = typing.get_args(annotation)
        return {"type": "array", "prefixItems": [_schema(a, defs, names) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if origin is dict:
        _, value = typing.get_args(annotation) or (Any, Any)
        return {"type": "object", "additionalProperties": _schema(value, defs, names)}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    if annotation in simple:
        return {"type": simple[annotation]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    if isinstance(annotation, type) and issubclass(annotation, Options):
        return _ref(annotation, defs, names)
    return {}
