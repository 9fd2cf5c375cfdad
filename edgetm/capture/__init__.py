"""Sources, chosen by a URI-like string or options with a ``type``.

    camera:0, /dev/video0, 0    USB / CSI camera through OpenCV (V4L2); a bare number, as OpenCV takes it
    picamera2, picamera2:1      Raspberry Pi camera through picamera2
    rtsp://..., http(s)://...   network stream
    clip.mp4                    video file (every frame; realtime: paced to its fps)
    photos/, shot.jpg, '*.png'  image files, folders and globs
    mic, mic:1, mic:USB         microphone (PortAudio): default, by index or by part of its name
    wav:clip.wav, clip.flac     sound file (every block; realtime: paced to its rate)
    audio:rtsp://..., audio:clip.mp4   the sound of a stream or video, decoded by ffmpeg

A new source is one file with its options (a literal ``type`` and an ``open`` method) and one
``SOURCES.register`` line here.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from edgetm.capture.base import (
    Block,
    Delivery,
    EndOfStream,
    Frame,
    Item,
    LiveOptions,
    Source,
    SourceOptions,
)
from edgetm.capture.camera import CameraOptions
from edgetm.capture.ffmpeg import FfmpegAudioOptions
from edgetm.capture.images import ImagesOptions
from edgetm.capture.live import LiveSource
from edgetm.capture.microphone import MicOptions
from edgetm.capture.network import NetworkOptions
from edgetm.capture.picamera import Picamera2Options
from edgetm.capture.sound_file import SOUND_SUFFIXES, SoundFileOptions
from edgetm.capture.video import VIDEO_SUFFIXES, VideoOptions
from edgetm.errors import ConfigError, from_validation
from edgetm.events import SourceState
from edgetm.plugins import Registry

SOURCES: Registry[type[SourceOptions]] = Registry("source")
for _options in (CameraOptions, Picamera2Options, NetworkOptions, VideoOptions, ImagesOptions, MicOptions,
                 SoundFileOptions, FfmpegAudioOptions):
    SOURCES.register(_options)

DEFAULT_SOURCE = "camera:0"
_NETWORK = re.compile(r"^(rtsps?|rtmp|https?|udp|tcp)://", re.IGNORECASE)


def parse_source(text: str, **options) -> SourceOptions:
    """The options a source string stands for; ``options`` are that source's own settings."""
    try:
        return _parse_source(text.strip(), options)
    except ValidationError as error:
        raise from_validation(error, f"source {text}") from None


def _parse_source(text: str, options: dict) -> SourceOptions:
    if match := re.fullmatch(r"camera(?::(\d+))?|(\d+)", text):
        return CameraOptions(device=int(match.group(1) or match.group(2) or 0), **options)
    if re.fullmatch(r"/dev/video\d+", text):
        return CameraOptions(device=text, **options)
    if match := re.fullmatch(r"picamera2(?::(\d+))?", text):
        return Picamera2Options(camera=int(match.group(1) or 0), **options)
    if match := re.fullmatch(r"mic(?::(.+))?", text):
        device = match.group(1)
        return MicOptions(device=int(device) if device and device.isdigit() else device, **options)
    if text.startswith("audio:"):
        return FfmpegAudioOptions(url=text.removeprefix("audio:"), **options)
    if text.startswith("wav:") or Path(text).suffix.lower() in SOUND_SUFFIXES:
        return SoundFileOptions(path=str(Path(text.removeprefix("wav:")).expanduser()), **options)
    if _NETWORK.match(text):
        return NetworkOptions(url=text, **options)
    path = Path(text).expanduser()
    if path.suffix.lower() in VIDEO_SUFFIXES and not path.is_dir():
        return VideoOptions(path=str(path), **options)
    if path.exists() or glob.has_magic(text):
        return ImagesOptions(paths=[text], **options)
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


__all__ = ["DEFAULT_SOURCE", "SOURCES", "Block", "Delivery", "EndOfStream", "Frame", "Item", "LiveOptions",
           "LiveSource", "Source", "SourceOptions", "SourceState", "open_source", "parse_source", "source_options"]
