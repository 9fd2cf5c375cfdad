"""Image preprocessing, in one place: geometry, colour order, normalisation, quantisation, layout.

Frames arrive as OpenCV gives them: uint8 BGR, any size. The fast path works on uint8 until the
last step: crop the region first, resize it once, swap colours on the small image, then map values
with one pass (``cv2.addWeighted`` or a 256-entry lookup table). Resizing in uint8 before
normalising differs from float resizing by at most half a grey level.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections import OrderedDict
from types import ModuleType

import numpy as np

from edgetm.errors import ConfigError, ImageError
from edgetm.model.model import Model, TaskKind
from edgetm.model.spec import Layout
from edgetm.records import Record
from edgetm.vision import pillow
from edgetm.vision.geometry import Transform, letterbox
from edgetm.vision.preprocess_options import (
    PRESETS,
    ColorOrder,
    Interpolation,
    PreprocessOptions,
    Preset,
    ResizeMode,
    resolve_interpolation,
    resolve_normalize,
)
from edgetm.vision.values import NORMALIZATIONS, PIXELS, Normalization, check_representable, value_table

__all__ = [
    "PRESETS",
    "ColorOrder",
    "Interpolation",
    "Prepared",
    "PreprocessOptions",
    "Preprocessor",
    "Preset",
    "ResizeMode",
    "as_bgr",
]

# Input sizes whose buffers a rectangular-inference preprocessor keeps: a camera has one frame
# geometry, a folder of photos mostly two (landscape and portrait); the least recently used goes.
RECT_SIZES = 4


class Prepared(Record):
    """A frame ready for the model: its input tensor, how it maps back, and what it cost."""

    tensor: np.ndarray
    transform: Transform
    preprocess_ms: float


class Preprocessor:
    """Turns BGR uint8 frames into the model's first input tensor.

    NCHW and letterboxed results are written into one of two buffers used in turn, so they stay
    valid until the second call after: enough for preparing one frame ahead while the previous
    one runs.
    """

    def __init__(self, model: Model, options: PreprocessOptions | None = None, still: bool = False,
                 rect_stride: int | None = None) -> None:
        """``still``: the frames are photos rather than live video, so a Teachable Machine export
        gets its exporter's own (slower) resampling by default. ``rect_stride``: rectangular
        inference for a letterbox into dynamic sides (``geometry.letterbox``), the tensor's shape
        following the frame's."""
        options = options or PreprocessOptions()
        spec = model.input
        layout = spec.layout
        if layout is Layout.OTHER:
            raise ConfigError(f"{model.source}: input '{spec.name}' with shape {list(spec.shape)} is not an image")
        self.spec = spec
        self.layout = layout
        size = spec.image_size()
        assert size is not None
        self.width, self.height = size
        self.channels = spec.shape[3] if layout is Layout.NHWC else spec.shape[1]
        if self.channels not in (1, 3):
            raise ConfigError(f"input '{spec.name}' has {self.channels} channels; edgetm feeds 1 or 3")
        preset = PRESETS.get(options.preset) if options.preset else None
        default_resize = ResizeMode.LETTERBOX if model.task is TaskKind.DETECT else ResizeMode.CROP
        self.resize = options.resize or (preset[0] if preset else default_resize)
        self.interpolation = resolve_interpolation(options, model, still)
        # What still images would get (``edgetm info`` says when that differs from live video): worked out
        # when asked, so that a live pipeline does not import Pillow to know it.
        self._still = (options, model) if not still else None
        self._flag = None if self.interpolation is Interpolation.PIL else {
            Interpolation.NEAREST: self._cv2.INTER_NEAREST, Interpolation.LINEAR: self._cv2.INTER_LINEAR,
            Interpolation.AREA: self._cv2.INTER_AREA, Interpolation.CUBIC: self._cv2.INTER_CUBIC,
            Interpolation.LANCZOS: self._cv2.INTER_LANCZOS4,
        }[self.interpolation]
        self.color = options.color or (preset[2] if preset else ColorOrder.RGB)
        self.pad_value = options.pad_value
        self.centre = options.centre is not False
        self.normalize = resolve_normalize(options, model, spec)
        uniform = self.normalize == PIXELS or (isinstance(self.normalize, Normalization) and self.normalize.uniform)
        # A single-channel table applies to every channel, at two thirds of a per-channel one's cost.
        self._table = value_table(self.normalize, spec, 1 if uniform else self.channels)
        check_representable(self._table, self.normalize, spec)
        self._affine = None
        exact = self.interpolation is Interpolation.PIL or options.preset is not None
        if exact and self.normalize == NORMALIZATIONS["tm"] and spec.dtype == np.float32:
            # The snippets' own float32 arithmetic, ``pixels / 127.5 - 1``: equal to the last bit.
            self._table = (np.arange(256, dtype=np.float32) / 127.5 - 1).reshape(1, 256, 1)
        elif isinstance(self.normalize, Normalization) and self.normalize.uniform and spec.dtype == np.float32:
            # One multiply-add beats a float lookup table by about 3x.
            self._affine = (1.0 / self.normalize.std[0], -self.normalize.mean[0] / self.normalize.std[0])
            self._table = None
        # Output buffers (see the class docstring): a pair per input size, the most recently used last.
        rect = self.resize is ResizeMode.LETTERBOX and spec.has_dynamic_sides
        self.rect_stride = rect_stride if rect else None
        self._buffers: OrderedDict[tuple[int, int], _Buffers] = OrderedDict()
        self._crops: dict[tuple[int, int], tuple[slice, slice, Transform]] = {}

    @functools.cached_property
    def _cv2(self) -> ModuleType:
        """OpenCV, imported when first needed: Pillow's path for photos may not need it at all."""
        import cv2

        return cv2

    @property
    def still_interpolation(self) -> Interpolation:
        """The resampling still images get (``interpolation`` when these frames are still images)."""
        return self.interpolation if self._still is None else resolve_interpolation(*self._still, True)

    def describe(self) -> dict:
        """What actually runs, as ``edgetm info`` reports it."""
        norm = self.normalize
        described = {
            "size": [self.width, self.height],
            "layout": self.layout.value,
            "resize": self.resize.value,
            "interpolation": self.interpolation.value,
            "color": self.color.value,
            "normalize": norm if isinstance(norm, str) else {"mean": list(norm.mean), "std": list(norm.std)},
            "dtype": np.dtype(self.spec.dtype).name,
        }
        if self.still_interpolation is not self.interpolation:
            described["still_interpolation"] = self.still_interpolation.value
        if self.resize is ResizeMode.LETTERBOX:
            described["letterbox"] = "centre, sizes rounded" if self.centre else "top-left, sizes truncated"
            described["pad_value"] = self.pad_value
        if self.rect_stride is not None:
            described["rect_stride"] = self.rect_stride
        return described

    def size_of(self, tensor: np.ndarray) -> tuple[int, int]:
        """(width, height) of a tensor this preprocessor made."""
        if self.layout is Layout.NHWC:
            return tensor.shape[2], tensor.shape[1]
        return tensor.shape[3], tensor.shape[2]

    def _resize(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        if image.shape[1] == size[0] and image.shape[0] == size[1]:
            return image
        if self._flag is None:
            return pillow.resize(image, size)
        return self._cv2.resize(image, size, interpolation=self._flag)

    def _geometry(self, image: np.ndarray) -> tuple[np.ndarray, Transform, tuple[int, int]]:
        """The frame resized, how its pixels map back, and the input size it goes into."""
        src_h, src_w = image.shape[:2]
        tw, th = self.width, self.height
        if self.resize is ResizeMode.CROP:
            if self._flag is None:  # Pillow's fit: a fractional crop box, resampled in one go
                left, top, right, bottom = pillow.fit_box(src_w, src_h, tw, th)
                resized = pillow.fit(image, (tw, th))
                return resized, Transform(tw / (right - left), th / (bottom - top), 0, 0, left, top,
                                          (src_w, src_h)), (tw, th)
            # Crop first, then resize only the kept region: same result as resize-then-crop, much less work.
            # A camera's frames all have one size: the crop and its transform are worked out once.
            crop = self._crops.get((src_w, src_h))
            if crop is None:
                if src_w * th > src_h * tw:
                    crop_w, crop_h = max(1, round(src_h * tw / th)), src_h
                else:
                    crop_w, crop_h = src_w, max(1, round(src_w * th / tw))
                x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
                crop = (slice(y0, y0 + crop_h), slice(x0, x0 + crop_w),
                        Transform(tw / crop_w, th / crop_h, 0, 0, x0, y0, (src_w, src_h)))
                if len(self._crops) >= RECT_SIZES:
                    self._crops.clear()
                self._crops[(src_w, src_h)] = crop
            rows, columns, transform = crop
            return self._resize(image[rows, columns], (tw, th)), transform, (tw, th)
        if self.resize is ResizeMode.SQUASH:
            transform = Transform(tw / src_w, th / src_h, 0, 0, 0, 0, (src_w, src_h))
            return self._resize(image, (tw, th)), transform, (tw, th)
        box = letterbox((src_w, src_h), (tw, th), self.centre, self.rect_stride)
        # Ultralytics and YOLOX both map boxes back by dividing by the ratio itself, not by the
        # rounded sizes.
        transform = Transform(box.ratio, box.ratio, box.left, box.top, 0, 0, (src_w, src_h))
        return self._resize(image, box.scaled), transform, box.size

    def _values(self, pixels: np.ndarray) -> np.ndarray:
        """Colour order and value mapping: uint8 BGR pixels -> the tensor's values, HxWxC."""
        if self._flag is None and self.channels == 3 and self._affine is None and "cv2" not in sys.modules:
            return self._looked_up(pixels)  # 0.3 ms slower than OpenCV's LUT for 224x224, but no 15 ms import
        cv2 = self._cv2
        if self.channels == 1:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)[:, :, None]
        elif self.color is ColorOrder.RGB:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
        if self._affine is not None:
            alpha, beta = self._affine
            values = cv2.addWeighted(pixels, alpha, pixels, 0.0, beta, dtype=cv2.CV_32F)
        elif self._table is not None:
            values = cv2.LUT(pixels, self._table)
            if self.spec.dtype == np.int8:
                values = values.view(np.int8)
        else:
            values = pixels
        return values.reshape(pixels.shape[0], pixels.shape[1], self.channels)

    def _looked_up(self, pixels: np.ndarray) -> np.ndarray:
        """``_values`` by numpy alone, for Pillow's path (a photo classified without OpenCV): the
        same table lookup, so the same values."""
        if self.color is ColorOrder.RGB:
            pixels = pixels[:, :, ::-1]
        if self._table is None:
            return pixels
        table = self._table[0]  # 256 x (1 or one column per channel)
        values = table[:, 0][pixels] if table.shape[1] == 1 else table[pixels, np.arange(self.channels)]
        return values.view(np.int8) if self.spec.dtype == np.int8 else values

    def _buffer(self, size: tuple[int, int]) -> tuple[np.ndarray, _Buffers, int]:
        buffers = self._buffers.get(size)
        if buffers is None:
            width, height = size
            shape = (1, height, width, self.channels) if self.layout is Layout.NHWC else \
                (1, self.channels, height, width)
            buffers = self._buffers[size] = _Buffers(shape, self.spec.dtype)
            if len(self._buffers) > RECT_SIZES:
                # A tensor handed out from the evicted pair stays valid: only this reference goes.
                self._buffers.popitem(last=False)
        else:
            self._buffers.move_to_end(size)
        turn = buffers.turn
        buffers.turn ^= 1
        return buffers.outs[turn], buffers, turn

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        """Preprocess one BGR uint8 frame (grey and BGRA frames are converted)."""
        image = as_bgr(image)
        pixels, transform, size = self._geometry(image)
        # Letterboxing maps only the picture's values; the padding sits ready in the buffer.
        values = self._values(pixels)
        if self.resize is not ResizeMode.LETTERBOX:
            if self.layout is Layout.NHWC:
                if not values.flags.c_contiguous:  # a crop that needed no resize is a view into the frame
                    values = np.ascontiguousarray(values)
                return values.reshape(self.spec.shape), transform
            out, _, _ = self._buffer(size)
            for channel in range(self.channels):
                out[0, channel] = values[:, :, channel]
            return out, transform
        out, buffers, turn = self._buffer(size)
        height, width = values.shape[:2]
        left, top = int(transform.pad_x), int(transform.pad_y)
        placement = (left, top, width, height)
        if buffers.placed[turn] != placement:
            pad = self._values(np.full((1, 1, 3), self.pad_value, np.uint8))[0, 0]
            if self.layout is Layout.NHWC:
                out[0] = pad
            else:
                out[0] = pad[:, None, None]
            buffers.placed[turn] = placement
        if self.layout is Layout.NHWC:
            out[0, top:top + height, left:left + width] = values
        else:
            for channel in range(self.channels):
                out[0, channel, top:top + height, left:left + width] = values[:, :, channel]
        return out, transform

    def prepare(self, image: np.ndarray) -> Prepared:
        """``__call__`` with its time measured."""
        start = time.perf_counter()
        tensor, transform = self(image)
        return Prepared(tensor, transform, (time.perf_counter() - start) * 1e3)


class _Buffers:
    """Two output tensors of one shape, used in turn; each remembers where its letterboxed picture
    went, so the padding is written only when that changes."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.outs = [np.empty(shape, dtype=dtype) for _ in range(2)]
        self.placed: list[tuple[int, int, int, int] | None] = [None, None]
        self.turn = 0


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept what OpenCV and cameras give: HxW grey, HxWx1, HxWx3 BGR, HxWx4 BGRA; uint8."""
    if type(image) is np.ndarray and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 \
            and image.size:
        return image  # what a camera gives, every frame: the fewest checks
    if isinstance(image, str | os.PathLike):
        raise ImageError(f"got the path {os.fspath(image)!r}, not an image",
                         "pass a frame; use edgetm.read_image(path) to read a file")
    if not isinstance(image, np.ndarray):
        raise ImageError(f"got a {type(image).__name__}, not an image", "pass a frame: a numpy array as OpenCV reads")
    if image.size == 0:
        raise ImageError("the image is empty")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            raise ImageError(f"images must be uint8 (got {image.dtype})")
    import cv2

    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ImageError(f"unsupported image shape {list(image.shape)}")
