"""Image files, folders and globs, one frame each, in order."""

from __future__ import annotations

import time
from typing import Literal

from edgetm.capture.base import EndOfStream, Frame, Progress, Source, SourceOptions
from edgetm.errors import SourceError
from edgetm.options import Field
from edgetm.plugins import LocalPath


class ImagesOptions(SourceOptions):
    type: Literal["images"] = "images"
    paths: list[LocalPath] = Field(min_length=1, description="image files, folders (not recursive) and glob patterns")

    def open(self) -> ImageFiles:
        return ImageFiles(self)


class ImageFiles(Source):
    """Decodes one file per ``read``; an unreadable file raises ImageError for that frame only, and
    if no file could be read, the source's ``problem`` says so when it ends."""

    def __init__(self, options: ImagesOptions) -> None:
        from edgetm.vision.image import expand_images

        self.name = ",".join(options.paths)
        self._paths = expand_images(options.paths)
        if not self._paths:
            raise SourceError(f"no images in {self.name}")
        self._next = 0
        self._decoded = 0

    def progress(self) -> Progress | None:
        return Progress(self._next, len(self._paths), "images")

    def read(self, timeout_s: float) -> Frame | None:
        from edgetm.vision.image import read_image

        count = len(self._paths)
        if self._next >= count:
            if not self._decoded:
                self.problem = (f"none of the {count} images in {self.name} could be decoded" if count > 1
                                else f"{self.name} could not be decoded")
            raise EndOfStream
        index, path = self._next, self._paths[self._next]
        self._next += 1
        image = read_image(path)
        self._decoded += 1
        return Frame(image=image, index=index, captured=time.monotonic(), wall=time.time(), name=str(path))
