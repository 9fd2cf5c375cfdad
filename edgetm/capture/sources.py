"""The source registry, and the options a source string stands for (the strings are listed in
``edgetm/capture/__init__.py``). A new source is one file with its options (a literal ``type`` and
an ``open`` method) and one ``SOURCES.register_at`` line here; each is imported when first named."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from edgetm.capture import SOUND_SUFFIXES, VIDEO_SUFFIXES
from edgetm.capture.base import Source, SourceOptions
from edgetm.errors import ConfigError, from_validation
from edgetm.options import ValidationError
from edgetm.plugins import Registry
from edgetm.vision.image import has_magic

SOURCES: Registry[type[SourceOptions]] = Registry("source")
for _name, _where in (("camera", "camera:CameraOptions"), ("picamera2", "picamera:Picamera2Options"),
                      ("network", "network:NetworkOptions"), ("video", "video:VideoOptions"),
                      ("images", "images:ImagesOptions"), ("mic", "microphone:MicOptions"),
                      ("wav", "sound_file:SoundFileOptions"), ("audio", "ffmpeg:FfmpegAudioOptions")):
    SOURCES.register_at(_name, f"edgetm.capture.{_where}")

_NETWORK = re.compile(r"^(rtsps?|rtmp|https?|udp|tcp)://", re.IGNORECASE)


def parse_source(text: str, **options) -> SourceOptions:
    """The options a source string stands for; ``options`` are that source's own settings."""
    try:
        return _parse_source(text.strip(), options)
    except ValidationError as error:
        raise from_validation(error, f"source {text}") from None


def _parse_source(text: str, options: dict) -> SourceOptions:
    if match := re.fullmatch(r"camera(?::(\d+))?|(\d+)", text):
        return SOURCES["camera"](device=int(match.group(1) or match.group(2) or 0), **options)
    if re.fullmatch(r"/dev/video\d+", text):
        return SOURCES["camera"](device=text, **options)
    if match := re.fullmatch(r"picamera2(?::(\d+))?", text):
        return SOURCES["picamera2"](camera=int(match.group(1) or 0), **options)
    if match := re.fullmatch(r"mic(?::(.+))?", text):
        device = match.group(1)
        return SOURCES["mic"](device=int(device) if device and device.isdigit() else device, **options)
    if text.startswith("audio:"):
        return SOURCES["audio"](url=text.removeprefix("audio:"), **options)
    if text.startswith("wav:") or Path(text).suffix.lower() in SOUND_SUFFIXES:
        return SOURCES["wav"](path=str(Path(text.removeprefix("wav:")).expanduser()), **options)
    if _NETWORK.match(text):
        return SOURCES["network"](url=text, **options)
    path = Path(text).expanduser()
    if path.suffix.lower() in VIDEO_SUFFIXES and not path.is_dir():
        return SOURCES["video"](path=str(path), **options)
    if path.exists() or has_magic(text):
        return SOURCES["images"](paths=[text], **options)
    raise ConfigError(f"unknown source '{text}'",
                      "use camera:0, /dev/video0, picamera2, rtsp://..., a video file, images (file, folder, glob), "
                      "mic, wav:FILE or audio:URL")


def source_options(source: SourceOptions | str | Mapping) -> SourceOptions:
    """Options for a source given as a string, a mapping with a ``type``, or options already."""
    if isinstance(source, str):
        return parse_source(source)
    if isinstance(source, Mapping):
        try:
            return SOURCES[str(source.get("type"))].model_validate(dict(source))
        except ValidationError as error:
            raise from_validation(error, "source") from None
    return source


def open_source(source: SourceOptions | str | Mapping) -> Source:
    return source_options(source).open()


def source_paced(source: SourceOptions | str | Mapping | Source) -> bool:
    """Whether the source's items come at the world's pace (``SourceOptions.paced``); a source
    object made elsewhere is taken to come as fast as it is read."""
    return False if isinstance(source, Source) else source_options(source).paced


__all__ = ["SOURCES", "open_source", "parse_source", "source_options", "source_paced"]
