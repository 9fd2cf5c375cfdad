"""Frame sources, chosen by a URI-like string or a config with a ``type``.

    camera:0, /dev/video0       USB / CSI camera through OpenCV (V4L2)
    picamera2, picamera2:1      Raspberry Pi camera through picamera2
    rtsp://..., http(s)://...   network stream
    clip.mp4                    video file (every frame; realtime: paced to its fps)
    photos/, shot.jpg, '*.png'  image files, folders and globs
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

from edgetm.capture.base import EndOfStream, Frame, LiveSource, Source, SourceState
from edgetm.capture.camera import CameraConfig, CameraSource
from edgetm.capture.images import ImageFiles, ImagesConfig
from edgetm.capture.picamera import Picamera2Config, Picamera2Source
from edgetm.capture.stream import StreamConfig, StreamSource
from edgetm.capture.video import VIDEO_SUFFIXES, VideoConfig, open_video
from edgetm.errors import ConfigError

SourceConfig = Annotated[
    CameraConfig | Picamera2Config | StreamConfig | VideoConfig | ImagesConfig, Field(discriminator="type")
]

# type -> how to open it. Explicit, so that a new source is one file and one line here.
SOURCES = {
    "camera": CameraSource,
    "picamera2": Picamera2Source,
    "stream": StreamSource,
    "video": open_video,
    "images": ImageFiles,
}

_STREAM = re.compile(r"^(rtsps?|rtmp|https?|udp|tcp)://", re.IGNORECASE)


def parse_source(text: str, **options) -> SourceConfig:
    """The config a source string stands for; ``options`` are that source's own settings."""
    text = text.strip()
    if match := re.fullmatch(r"camera(?::(\d+))?", text):
        return CameraConfig(device=int(match.group(1) or 0), **options)
    if re.fullmatch(r"/dev/video\d+", text):
        return CameraConfig(device=text, **options)
    if match := re.fullmatch(r"picamera2(?::(\d+))?", text):
        return Picamera2Config(camera=int(match.group(1) or 0), **options)
    if _STREAM.match(text):
        return StreamConfig(url=text, **options)
    path = Path(text).expanduser()
    if path.suffix.lower() in VIDEO_SUFFIXES and not path.is_dir():
        return VideoConfig(path=str(path), **options)
    if path.exists() or glob.has_magic(text):
        return ImagesConfig(paths=[text], **options)
    raise ConfigError(f"unknown source '{text}'",
                      "use camera:0, /dev/video0, picamera2, rtsp://..., a video file, or images (file, folder, glob)")


def open_source(config: SourceConfig) -> Source:
    return SOURCES[config.type](config)


__all__ = ["SOURCES", "EndOfStream", "Frame", "LiveSource", "Source", "SourceConfig", "SourceState", "open_source",
           "parse_source"]
