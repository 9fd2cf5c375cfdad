"""The configuration of ``edgetm run``, validated strictly in one place.

Every stage's options are defined once, beside the stage (``ModelOptions``, ``PreprocessOptions``,
``SmoothingOptions``, each task's, source's and sink's own), and the YAML file, the command line
and the Python API all use those models. The schema here is assembled from the plugin registries
(sources, tasks, sinks), so a registered plugin is accepted without touching this file. Unknown
keys and bad values are errors naming the key path. Relative paths are taken from the
configuration file's folder. Secrets never appear here: give ``password_env`` (an environment
variable's name) or ``password_file``.
"""


import os
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, Any, Literal

from edgetm.capture import SOURCES, SourceOptions, parse_source
from edgetm.errors import NAME_PATTERN, ConfigError, EdgetmError, from_validation
from edgetm.model.options import ModelOptions
from edgetm.options import Field, Later, OneOf, ValidationError, ValidationInfo, field_validator, model_validator
from edgetm.plugins import Options, resolve_paths, type_name
from edgetm.publish import SINKS, SinkOptions
from edgetm.tasks import AUTO, TASKS, StageOptions

MAX_CONFIG_BYTES = 1 << 20
# Keys of earlier versions, and where they live now.
MOVED = {("pipelines", "*", "threshold"): "smoothing.threshold", ("pipelines", "*", "top_k"): "classify.top_k",
         ("pipelines", "*", "zone"): "detect.zone", ("pipelines", "*", "snapshot"): "detect.snapshot"}
MAX_NAME_LENGTH = 64  # names become MQTT topic levels and Home Assistant ids
# The slowest rate a pipeline is limited to: one in 1000 s. Anything slower looks like a pipeline
# that stopped, and near zero ``1 / rate`` overflows to infinity, so that nothing is published again
# (retained state is published on every change whatever the rate).
MIN_RATE_HZ = 0.001
# Longer numbers mean nothing to any setting; Python refuses to read integers of more than 4300
# digits at all.
MAX_NUMBER_CHARACTERS = 100
# A configuration is a few hundred values; aliases must not make it millions.
MAX_YAML_VALUES = 100_000


class PipelineOptions(StageOptions):
    """How a pipeline runs its task, besides the task's own options."""

    max_rate_hz: float | None = Field(None, ge=MIN_RATE_HZ, le=1000, description="most results published per "
                                      "second (retained state is sent on every change)")
    max_fps: float | None = Field(None, ge=MIN_RATE_HZ, le=1000, description="most inferences per second (saves "
                                  "CPU)")


class PipelineConfig(PipelineOptions):
    """One pipeline: a name, a model, a source, the task and how it runs. Each registered task adds
    a key of its own name holding its options (``classify: {top_k: 3}``)."""

    name: str = Field("default", pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                      description="becomes part of MQTT topics")
    model: ModelOptions
    source: SourceOptions = Field(description="camera:0, /dev/video0, picamera2, rtsp://..., a file, or a mapping "
                                  "with a type")
    task: str = Field(AUTO, description="the task to run: auto (from the model), or one of the registered tasks")

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value):
        return {"path": value} if isinstance(value, str) else value

    @field_validator("source", mode="before")
    @classmethod
    def _source_shorthand(cls, value, info: ValidationInfo):
        if isinstance(value, int) and not isinstance(value, bool):  # source: 0, as OpenCV takes it
            value = str(value)
        if isinstance(value, str):
            folder = (info.context or {}).get("folder")
            local = folder is not None and ":" not in value and not value.startswith("/")
            try:
                return parse_source(str(folder / value) if local else value)
            except EdgetmError:
                try:
                    return parse_source(value)  # report the error against what the user wrote
                except EdgetmError as error:
                    raise ValueError(str(error)) from None
        return value

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        if value != AUTO and value not in TASKS:
            raise ValueError(f"must be {AUTO} or one of {', '.join(TASKS)}")
        return value

    @model_validator(mode="after")
    def _watched_models(self) -> "PipelineConfig":
        """Only the pipeline's own model is watched: ``watch`` on a model inside a task's options (a
        pose classifier, a sound gate) would be accepted and do nothing."""
        for name, options in self.task_options().items():
            for path in _watched(options, (name,)):
                raise ValueError(f"{'.'.join(path)}.watch: only a pipeline's own model is watched (model.watch)")
        return self

    def options(self) -> PipelineOptions:
        return PipelineOptions(**{name: getattr(self, name) for name in PipelineOptions.model_fields})

    def task_options(self) -> dict[str, Options | None]:
        """Each registered task's options as given here (None where not given)."""
        return {name: getattr(self, name, None) for name in TASKS}


def _watched(options: object, path: tuple[str, ...]):
    """The key paths of models with ``watch`` set inside ``options``."""
    if isinstance(options, ModelOptions):
        if options.watch:
            yield path
        return
    if isinstance(options, Options):
        for name in type(options).model_fields:
            yield from _watched(getattr(options, name), (*path, name))


def default_device_id() -> str:
    name = os.uname().nodename.split(".")[0] or "edgetm"  # the hostname, without importing socket
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:MAX_NAME_LENGTH]


class Config(Options):
    device_id: str = Field(default_factory=default_device_id, pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                           description="names this device in MQTT topics (default: the hostname)")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="the least important "
                                                                   "log lines shown")
    stats_interval_s: float = Field(30.0, ge=1.0, le=86400.0, description="seconds between stats published")
    stuck_after_s: float = Field(30.0, ge=1.0, le=3600.0, description="a pipeline that makes no progress for this "
                                 "long (a model call or device that hangs) stops systemd's watchdog and edgetm "
                                 "exits non-zero, to be restarted")
    pipelines: list[PipelineConfig] = Field(min_length=1)
    sinks: list[SinkOptions] = Field(default_factory=lambda: [SINKS["stdout"]()])

    @model_validator(mode="after")
    def _unique(self) -> "Config":
        names = [p.name for p in self.pipelines]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"two pipelines are named '{duplicate}'")
        for options in {type(s) for s in self.sinks}:
            if options.unique and sum(type(s) is options for s in self.sinks) > 1:
                raise ValueError(f"only one {type_name(options)} sink: {options.unique}")
        snapshots = [p.name for p in self.pipelines if getattr(getattr(p, "detect", None), "snapshot", False)]
        if snapshots and not any(s.publishes_state for s in self.sinks):
            raise ValueError(f"pipeline {snapshots[0]} takes snapshots, but no sink publishes them (add an mqtt sink)")
        return self

    def sink(self, name: str) -> SinkOptions | None:
        """The first sink of type ``name``."""
        return next((s for s in self.sinks if s.type == name), None)


def _subclass(base: type, fields: dict[str, tuple[Any, Any]]) -> type:
    """``base`` with ``fields`` (name: (annotation, Field)) added or replaced."""
    return type(base.__name__, (base,), {"__module__": base.__module__, "__doc__": base.__doc__,
                                          "__annotations__": {name: kind for name, (kind, _) in fields.items()},
                                          **{name: info for name, (_, info) in fields.items()}})


def _task_options(name: str) -> Any:
    return TASKS[name].Options


@lru_cache(maxsize=4)
def _schema(tasks_version: int) -> type[Config]:
    # Sources and sinks are looked up in their registries when a value names one; each task adds a
    # key, imported when a configuration gives it.
    pipeline = _subclass(PipelineConfig, {
        "source": (Annotated[SourceOptions, OneOf(SOURCES)],
                   Field(description=PipelineConfig.model_fields["source"].description)),
        **{name: (Annotated[Options | None, Later(partial(_task_options, name))],
                  Field(None, description=f"options of the {name} task")) for name in TASKS},
    })
    return _subclass(Config, {
        "pipelines": (list[pipeline], Field(min_length=1)),  # type: ignore[valid-type]
        "sinks": (list[Annotated[SinkOptions, OneOf(SINKS)]],
                  Field(default_factory=Config.model_fields["sinks"].default_factory)),
    })


def schema() -> type[Config]:
    """The configuration model as the task registry stands now."""
    return _schema(TASKS.version)


def parse_config(data: object, what: str = "configuration", folder: Path | None = None) -> Config:
    """Validate a configuration; relative paths are taken from ``folder`` when given."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a mapping with at least 'pipelines'")
    try:
        config = schema().model_validate(data, context={"folder": folder})
    except ValidationError as error:
        raise from_validation(error, what, MOVED) from None
    return resolve_paths(config, folder) if folder is not None else config  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _yaml_loader() -> type:
    """The YAML loader configuration files are read with, made on first use: YAML is imported only
    by a command that reads a file (``edgetm run MODEL`` from flags does not wait for it)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        """``yaml.safe_load``, but a key given twice in one mapping is an error (PyYAML keeps the last
        one silently, so that a setting written twice would quietly lose), and so is a number longer
        than any setting takes."""

        def construct_document(self, node):
            # Aliases are references: nine levels of nine ("billion laughs") fit in a few hundred bytes and
            # expand to 9**9 values once validated. Count the expanded size first, each node once.
            sizes: dict[int, int] = {}

            def size(node) -> int:
                if id(node) not in sizes:
                    sizes[id(node)] = 0  # a node that holds itself counts once
                    children = node.value if isinstance(node, yaml.SequenceNode) else (
                        [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
                    sizes[id(node)] = min(1 + sum(size(child) for child in children), MAX_YAML_VALUES + 1)
                return sizes[id(node)]

            if size(node) > MAX_YAML_VALUES:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the document expands to more than {MAX_YAML_VALUES} values (through aliases)",
                    node.start_mark)
            return super().construct_document(node)

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                first: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # keys merged in with << may be overridden: that is what merging is for
                    key = self.construct_object(key_node, deep=True)
                    try:
                        line = first.setdefault(key, key_node.start_mark.line)
                    except TypeError:  # an unhashable key: PyYAML's own error says so
                        continue
                    if line != key_node.start_mark.line:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"the key '{key}' is given twice (first at line {line + 1})",
                            key_node.start_mark)
            return super().construct_mapping(node, deep)

    def number(tag: str):
        construct = _Loader.yaml_constructors[tag]

        def checked(loader: _Loader, node):
            if len(node.value) > MAX_NUMBER_CHARACTERS:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a number of {len(node.value)} characters is longer than any setting takes",
                    node.start_mark)
            return construct(loader, node)

        return checked

    for tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        _Loader.add_constructor(tag, number(tag))
    return _Loader


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file."""
    path = Path(path).expanduser()
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is too large for a configuration file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist",
                          f"copy edgetm.example.yaml there and edit it; edgetm config init {path} writes that "
                          "example") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    import yaml

    try:
        data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    # Absolute, so that paths stay right whatever the working directory (and a path joined again,
    # as a model swapped in by name is, is not joined twice); the folder the file was named in, not
    # the one a link points into: the root's edgetm.example.yaml is a link into the package.
    return parse_config(data, str(path), config_folder(path))


def config_folder(path: Path) -> Path:
    """The folder relative paths in the configuration file ``path`` are taken from."""
    return Path(os.path.abspath(path)).parent
