"""Plugin registries and the options base they share.

Sources, tasks and sinks are plugins: each declares its own options (an ``Options`` class with a
literal ``type``, unknown keys refused) and is registered explicitly by a call, never by the side
effect of an import. The configuration schema is assembled from the registries, so registering
a plugin is all it takes for ``edgetm run`` to accept it.

edgetm's own plugins are registered by name and place (``"camera"`` at
``"edgetm.capture.camera:CameraOptions"``) and imported the first time they are asked for: a run
from a video file imports no camera, microphone, MQTT or detector code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from edgetm.errors import ConfigError
from edgetm.options import Options

__all__ = ["LocalPath", "Options", "Registry", "imported", "local_path", "resolve_paths", "type_name"]

P = TypeVar("P")


def type_name(options: type[Options]) -> str:
    """The literal default of an options class's ``type`` field: its name in configurations."""
    field = options.model_fields.get("type")
    if field is None or not isinstance(field.default, str):
        raise TypeError(f"{options.__name__} needs a literal 'type' field with a default")
    return field.default


def imported(where: str) -> Any:
    """What ``where`` ("package.module:attribute") names, its module imported now."""
    from importlib import import_module

    module, _, attribute = where.partition(":")
    return getattr(import_module(module), attribute)


class Registry(Generic[P]):
    """Plugins of one kind by name. ``name_of`` gives a plugin's name (by default its options'
    ``type``)."""

    def __init__(self, kind: str, name_of: Callable[[Any], str] = type_name) -> None:
        self.kind = kind
        self._name_of = name_of
        self._entries: dict[str, P | str] = {}  # a plugin, or where it is ("module:attribute") until first asked for
        self.version = 0  # bumped on every change, so schemas built from the registry know to rebuild

    def register(self, plugin: P) -> P:
        self._entries[self._name_of(plugin)] = plugin
        self.version += 1
        return plugin

    def register_at(self, name: str, where: str) -> None:
        """Register the plugin ``name`` found at ``where`` ("package.module:attribute"), imported
        the first time it is asked for."""
        if ":" not in where:
            raise ValueError(f"'{where}' is not a place like package.module:attribute")
        self._entries[name] = where
        self.version += 1

    def _load(self, name: str) -> P:
        entry = self._entries[name]
        if not isinstance(entry, str):
            return entry
        plugin = imported(entry)
        if self._name_of(plugin) != name:
            raise TypeError(f"{entry} is registered as {self.kind} '{name}' but names itself "
                            f"'{self._name_of(plugin)}'")
        self._entries[name] = plugin
        return plugin

    def unregister(self, name: str) -> None:
        if self._entries.pop(name, None) is not None:
            self.version += 1

    def __getitem__(self, name: str) -> P:
        if name not in self._entries:
            raise ConfigError(f"no {self.kind} named '{name}'", f"known: {', '.join(self._entries) or 'none'}")
        return self._load(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> Iterator[tuple[str, P]]:
        """Every plugin with its name, in the order registered; each is imported as it comes."""
        for name in list(self._entries):
            yield name, self._load(name)



class _Local:
    """Marks a field holding a path on this device: relative paths in a configuration file are
    taken from that file's folder."""


LocalPath = Annotated[str, _Local()]


def _is_local(annotation: Any) -> bool:
    """``LocalPath``, or a union holding it (``LocalPath | None``)."""
    if any(isinstance(m, _Local) for m in getattr(annotation, "__metadata__", ())):
        return True
    return get_origin(annotation) is not list and any(_is_local(a) for a in get_args(annotation))


def _is_local_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return _is_local(get_args(annotation)[0])
    return any(_is_local_list(a) for a in get_args(annotation))


def local_path(folder: Path, value: str) -> str:
    """A path as a configuration file in ``folder`` means it (URLs are left alone)."""
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else folder / path)


def resolve_paths(options: Options, folder: Path) -> Options:
    """A copy of ``options`` with every ``LocalPath`` (also in lists and nested options) taken
    relative to ``folder``."""
    updates: dict[str, Any] = {}
    for name, field in type(options).model_fields.items():
        value = getattr(options, name)
        local = _is_local(field.annotation) or any(isinstance(m, _Local) for m in field.metadata)
        if isinstance(value, str) and local:
            updates[name] = local_path(folder, value)
        elif isinstance(value, list) and _is_local_list(field.annotation):
            updates[name] = [local_path(folder, v) for v in value]
        elif isinstance(value, Options):
            updates[name] = resolve_paths(value, folder)
        elif isinstance(value, list) and value and all(isinstance(v, Options) for v in value):
            updates[name] = [resolve_paths(v, folder) for v in value]
    return options.model_copy(update=updates) if updates else options
