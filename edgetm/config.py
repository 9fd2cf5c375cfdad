"""The YAML configuration of ``edgetm run``, validated strictly in one place.

Unknown keys and bad values are errors that name the key path and what is allowed. Sources and
sinks are plugins: each declares its own settings with a literal ``type``. Relative paths are
taken from the configuration file's folder. Secrets never appear here: give ``password_env``
(an environment variable's name) or ``password_file``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from edgetm.capture import ImagesConfig, SourceConfig, VideoConfig, parse_source
from edgetm.errors import ConfigError, EdgetmError, from_validation
from edgetm.publish.mqtt import NAME, MqttConfig
from edgetm.publish.stdout import JsonlConfig, StdoutConfig
from edgetm.runtime.smoothing import SmoothingConfig
from edgetm.vision.detect import BoxUnits, DetectLayout, DetectOptions, Zone
from edgetm.vision.preprocess import ColorOrder, Interpolation, Normalization, PreprocessOptions, ResizeMode

SinkConfig = Annotated[MqttConfig | StdoutConfig | JsonlConfig, Field(discriminator="type")]
_MAX_CONFIG_BYTES = 1 << 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(Strict):
    path: str = Field(description=".tflite / .onnx file, or a Teachable Machine export folder or zip")
    labels: str | None = Field(None, description="labels file (default: beside the model, then embedded)")
    threads: int | None = Field(None, ge=1, le=256, description="inference threads (default: all cores)")
    delegate: str | None = Field(None, description="TFLite delegate: edgetpu or a library path")
    providers: list[str] | None = Field(None, description="ONNX Runtime execution providers, preferred first")
    input_size: tuple[int, int] | None = Field(None, description="[width, height] for dynamic-input models")


class PreprocessConfig(Strict):
    resize: ResizeMode | None = Field(None, description="crop, squash or letterbox (default: from the model)")
    interpolation: Interpolation = Interpolation.LINEAR
    normalize: Literal["tm", "unit", "imagenet", "raw", "pixels"] | None = None
    mean: tuple[float, float, float] | None = Field(None, description="custom mean (pixel units), with std")
    std: tuple[float, float, float] | None = Field(None, description="custom std (pixel units), with mean")
    bgr: bool = False

    @model_validator(mode="after")
    def _mean_with_std(self) -> PreprocessConfig:
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std go together")
        if self.std is not None and min(self.std) <= 0:
            raise ValueError("std values must be positive")
        return self

    def options(self, input_size: tuple[int, int] | None = None) -> PreprocessOptions:
        normalize = Normalization(self.mean, self.std) if self.mean and self.std else self.normalize
        return PreprocessOptions(resize=self.resize, interpolation=self.interpolation, normalize=normalize,
                                 color=ColorOrder.BGR if self.bgr else None, size=input_size)


class DetectConfig(Strict):
    conf: float = Field(0.25, ge=0.0, le=1.0, description="confidence threshold")
    iou: float = Field(0.45, ge=0.0, le=1.0, description="NMS IoU threshold")
    agnostic: bool = Field(False, description="NMS across classes instead of per class")
    classes: list[str] | None = Field(None, min_length=1, description="detect and count only these labels")
    max_det: int = Field(300, ge=1, le=10000)
    layout: DetectLayout | None = Field(None, description="yolov8, yolov5, yolox, end2end, ssd (default: from shapes)")
    boxes: BoxUnits = Field(BoxUnits.AUTO, description="auto, normalized or pixels")

    def options(self) -> DetectOptions:
        return DetectOptions(conf=self.conf, iou=self.iou, agnostic=self.agnostic,
                             classes=tuple(self.classes) if self.classes else None, max_det=self.max_det,
                             layout=self.layout, boxes=self.boxes)


class ZoneConfig(Strict):
    points: list[tuple[float, float]] = Field(min_length=3, description="polygon corners [[x, y], ...]")
    units: Literal["fraction", "pixels"] = Field("fraction", description="fractions of the frame (0..1) or pixels")

    def zone(self) -> Zone:
        return Zone(self.points, fractions=self.units == "fraction")


class PipelineConfig(Strict):
    name: str = Field("default", pattern=NAME.pattern, description="becomes part of MQTT topics")
    model: ModelConfig
    source: SourceConfig = Field(description="camera:0, /dev/video0, picamera2, rtsp://..., a file, or a mapping "
                                 "with a type")
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    top_k: int = Field(3, ge=1, le=100)
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="a label counts when it scores at least this")
    smoothing: SmoothingConfig = Field(default_factory=SmoothingConfig)
    max_rate_hz: float | None = Field(None, gt=0, le=1000, description="most results published per second")
    max_fps: float | None = Field(None, gt=0, le=1000, description="most inferences per second (saves CPU)")
    detect: DetectConfig = Field(default_factory=DetectConfig, description="detector models only")
    zone: ZoneConfig | None = Field(None, description="detectors: count only objects whose centre is inside")
    snapshot: bool = Field(False, description="detectors: publish an annotated JPEG when the counts change")

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value):
        return {"path": value} if isinstance(value, str) else value

    @field_validator("source", mode="before")
    @classmethod
    def _source_shorthand(cls, value, info: ValidationInfo):
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


class Config(Strict):
    device_id: str = Field(default_factory=lambda: _hostname(), pattern=NAME.pattern,
                           description="names this device in MQTT topics (default: the hostname)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    stats_interval_s: float = Field(30.0, ge=1.0, le=86400.0, description="how often stats are published")
    pipelines: list[PipelineConfig] = Field(min_length=1)
    sinks: list[SinkConfig] = Field(default_factory=lambda: [StdoutConfig()])

    @model_validator(mode="after")
    def _unique(self) -> Config:
        names = [p.name for p in self.pipelines]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"two pipelines are named '{duplicate}'")
        if sum(isinstance(s, MqttConfig) for s in self.sinks) > 1:
            raise ValueError("only one mqtt sink: pipelines share its connection")
        return self

    @property
    def mqtt(self) -> MqttConfig | None:
        return next((s for s in self.sinks if isinstance(s, MqttConfig)), None)


def _hostname() -> str:
    name = socket.gethostname().split(".")[0] or "edgetm"
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def _relative_to(folder: Path, value: str | None) -> str | None:
    if value is None or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else folder / path)


def _resolve_paths(config: Config, folder: Path) -> None:
    for pipeline in config.pipelines:
        pipeline.model.path = _relative_to(folder, pipeline.model.path) or pipeline.model.path
        pipeline.model.labels = _relative_to(folder, pipeline.model.labels)
        source = pipeline.source
        if isinstance(source, VideoConfig):
            source.path = _relative_to(folder, source.path) or source.path
        elif isinstance(source, ImagesConfig):
            source.paths = [_relative_to(folder, p) or p for p in source.paths]
    for sink in config.sinks:
        if isinstance(sink, JsonlConfig):
            sink.path = _relative_to(folder, sink.path) or sink.path


def parse_config(data: object, what: str = "configuration", folder: Path | None = None) -> Config:
    """Validate a configuration; relative paths are taken from ``folder`` when given."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a mapping with at least 'pipelines'")
    try:
        config = Config.model_validate(data, context={"folder": folder})
    except ValidationError as error:
        raise from_validation(error, what) from None
    if folder is not None:
        _resolve_paths(config, folder)
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file."""
    path = Path(path).expanduser()
    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is too large for a configuration file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    return parse_config(data, str(path), path.parent)
