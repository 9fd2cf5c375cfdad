"""Where a frame's pixels go in the model's input, and back: the letterbox and its inverse."""

from __future__ import annotations

import numpy as np

from edgetm.records import Record


class Transform(Record):
    """Where the model's input pixels came from: ``source = (model - pad) / scale + offset``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    offset_x: float
    offset_y: float
    source_size: tuple[int, int]  # (width, height)

    def to_source(self, xyxy: np.ndarray) -> np.ndarray:
        """Map [N, 4] boxes from model input pixels to source pixels, clipped to the image."""
        out = self.points_to_source(xyxy)
        w, h = self.source_size
        np.clip(out[:, 0::2], 0, w, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, h, out=out[:, 1::2])
        return out

    def points_to_source(self, xy: np.ndarray) -> np.ndarray:
        """Map [N, 2k] (x, y) pairs from model input pixels to source pixels, unclipped: a body
        point may lie past the frame's edge."""
        out = np.empty_like(xy, dtype=np.float32)
        out[:, 0::2] = (xy[:, 0::2] - self.pad_x) / self.scale_x + self.offset_x
        out[:, 1::2] = (xy[:, 1::2] - self.pad_y) / self.scale_y + self.offset_y
        return out


class Letterbox(Record):
    """A frame scaled by ``ratio`` to ``scaled`` (width, height), placed at (``left``, ``top``) in
    an input of ``size`` (width, height) whose rest is padding."""

    ratio: float
    scaled: tuple[int, int]
    left: int
    top: int
    size: tuple[int, int]


def letterbox(source: tuple[int, int], size: tuple[int, int], centre: bool = True,
              stride: int | None = None) -> Letterbox:
    """Fit a ``source`` (width, height) frame inside ``size``, aspect kept.

    ``centre``: Ultralytics' LetterBox, sizes rounded and the padding split with its own rounding
    (``round(d - 0.1)`` before, ``round(d + 0.1)`` after); else YOLOX's ``preproc``, sizes
    truncated (``int(h * r)``) and the picture in the top-left corner.
    ``stride``: Ultralytics' rectangular inference (``LetterBox(auto=True)``): each side keeps only
    ``(size - scaled) % stride`` of its padding, so the input is the smallest multiple of the
    stride that holds the scaled frame (a 1280x720 frame at 640: 640x384). The ratio is the one of
    ``size`` either way, so a frame's picture is the same pixels, with less grey around it.
    """
    src_w, src_h = source
    width, height = size
    ratio = min(width / src_w, height / src_h)
    if centre:
        new_w, new_h = max(1, round(src_w * ratio)), max(1, round(src_h * ratio))
    else:
        new_w, new_h = max(1, int(src_w * ratio)), max(1, int(src_h * ratio))
    if stride is not None:
        width, height = new_w + (width - new_w) % stride, new_h + (height - new_h) % stride
    left, top = (round((width - new_w) / 2 - 0.1), round((height - new_h) / 2 - 0.1)) if centre else (0, 0)
    return Letterbox(ratio, (new_w, new_h), left, top, (width, height))
