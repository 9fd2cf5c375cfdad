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
``SOURCES.register`` line in ``sources.py``. The names below are imported on first use: a command
that only needs to tell a video file from a photo does not wait for every source to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

DEFAULT_SOURCE = "camera:0"
# What a path's suffix makes it: a video file, or a sound file (as ``parse_source`` reads it).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpeg", ".mjpg", ".mpg", ".mpeg", ".wmv",
                  ".h264", ".ts")
SOUND_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")

if TYPE_CHECKING:
    from edgetm.capture.base import Block, Delivery, EndOfStream, Frame, Item, LiveOptions, Source, SourceOptions
    from edgetm.capture.live import LiveSource
    from edgetm.capture.sources import SOURCES, open_source, parse_source, source_options
    from edgetm.events import SourceState

# name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(("Block", "Delivery", "EndOfStream", "Frame", "Item", "LiveOptions", "Source", "SourceOptions"),
                    "edgetm.capture.base"),
    "LiveSource": "edgetm.capture.live",
    **dict.fromkeys(("SOURCES", "open_source", "parse_source", "source_options"), "edgetm.capture.sources"),
    "SourceState": "edgetm.events",
}

__all__ = ["DEFAULT_SOURCE", "SOUND_SUFFIXES", "SOURCES", "VIDEO_SUFFIXES", "Block", "Delivery", "EndOfStream",
           "Frame", "Item", "LiveOptions", "LiveSource", "Source", "SourceOptions", "SourceState", "open_source",
           "parse_source", "source_options"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgetm.capture' has no attribute {name!r}")
