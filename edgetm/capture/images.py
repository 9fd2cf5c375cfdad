"""Image files, folders and globs, one frame each, in order."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgetm.capture.base import EndOfStream, Frame, Source
from edgetm.errors import SourceError


class ImagesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["images"] = "images"
    paths: list[str] = Field(min_length=1, description="image files, folders (not recursive) and glob patterns")


class ImageFiles(Source):
    """Decodes one file per ``read``; an unreadable file raises ImageError for that frame only."""

    live = False

    def __init__(self, config: ImagesConfig) -> None:
        from edgetm.vision.image import expand_images

        self.name = ",".join(config.paths)
        self._paths = expand_images(config.paths)
        if not self._paths:
            raise SourceError(f"no images in {self.name}")
        self._next = 0

    def read(self, timeout_s: float) -> Frame | None:
        from edgetm.vision.image import read_image

        if self._next >= len(self._paths):
            raise EndOfStream
        index, path = self._next, self._paths[self._next]
        self._next += 1
        return Frame(read_image(path), index, time.monotonic(), time.time(), str(path))
