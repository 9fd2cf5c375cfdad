"""Image preprocessing, in one place: geometry, colour order, normalisation, quantisation, layout.

Frames arrive as OpenCV gives them: uint8 BGR, any size. The fast path works on uint8 until the
last step: crop the region first, resize it once, swap colours on the small image, then map values
with one pass (``cv2.addWeighted`` or a 256-entry lookup table). Resizing in uint8 before
normalising differs from float resizing by at most half a grey level.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from types import ModuleType
from typing import Annotated, Literal

import numpy as np

from edgetm.errors import ConfigError, ImageError
from edgetm.model.model import Family, Model, TaskKind
from edgetm.model.spec import Layout, TensorSpec
from edgetm.options import Field, model_validator
from edgetm.plugins import Options
from edgetm.vision import pillow
from edgetm.vision.geometry import Transform, letterbox
from edgetm.vision.values import NORMALIZATIONS, PIXELS, Normalization, check_representable, value_table

log = logging.getLogger(__name__)

# Input sizes whose buffers a rectangular-inference preprocessor keeps: a camera has one frame
# geometry, a folder of photos mostly two (landscape and portrait); the least recently used goes.
RECT_SIZES = 4


class ResizeMode(enum.Enum):
    """How a frame becomes the model's input size.

    CROP: scale the shorter side to fit, cut the centre (Teachable Machine's browser capture and its
    PIL snippet ``ImageOps.fit``). SQUASH: stretch the whole frame (its OpenCV snippet).
    LETTERBOX: scale to fit inside, pad the rest (YOLO).
    """

    CROP = "crop"
    SQUASH = "squash"
    LETTERBOX = "letterbox"


class Interpolation(enum.Enum):
    """Resampling filter. LINEAR (OpenCV bilinear, close to what a browser does when Teachable
    Machine captures from the webcam) is the fast default for live video, about 0.2 ms per frame.
    AREA anti-aliases large downscales at several times the cost. PIL is Pillow's own antialiased
    Lanczos (``ImageOps.fit``), as Teachable Machine's Python snippet resamples: 2-10 ms per photo,
    the default for still images of a Teachable Machine export."""

    NEAREST = "nearest"
    LINEAR = "linear"
    AREA = "area"
    CUBIC = "cubic"
    LANCZOS = "lanczos"
    PIL = "pil"


class Preset(enum.Enum):
    """Teachable Machine's official snippets, each reproduced exactly (explicit settings win).

    TM_KERAS: its Keras snippet: ``ImageOps.fit(image, size, LANCZOS)`` (a centre crop, Pillow's
    resampling) of the RGB photo, then ``/127.5 - 1``. TM_OPENCV: its OpenCV snippet:
    ``cv2.resize(frame, size, interpolation=INTER_AREA)`` (a squash, no crop) of the BGR camera
    frame as it is, then ``/127.5 - 1``: the model gets BGR.
    """

    TM_KERAS = "tm-keras"
    TM_OPENCV = "tm-opencv"


class ColorOrder(enum.Enum):
    RGB = "rgb"
    BGR = "bgr"


# What each preset sets: resize, interpolation, colour order.
PRESETS: dict[Preset, tuple[ResizeMode, Interpolation, ColorOrder]] = {
    Preset.TM_KERAS: (ResizeMode.CROP, Interpolation.PIL, ColorOrder.RGB),
    Preset.TM_OPENCV: (ResizeMode.SQUASH, Interpolation.AREA, ColorOrder.BGR),
}


# Pixels are 0..255: these leave room for any linear normalisation while keeping inputs finite.
Mean = Annotated[float, Field(ge=-10_000, le=10_000)]
Std = Annotated[float, Field(ge=0.001, le=10_000)]


class PreprocessOptions(Options):
    """How frames become the model's input. Each setting left out is chosen from the model."""

    resize: ResizeMode | None = Field(None, description="crop: centre crop (Teachable Machine); squash: stretch; "
                                      "letterbox: fit and pad (default: letterbox for detectors, else crop)")
    preset: Preset | None = Field(None, description="reproduce one of Teachable Machine's snippets exactly: "
                                  "tm-keras (Pillow crop, RGB) or tm-opencv (INTER_AREA squash, BGR)")
    interpolation: Interpolation | None = Field(None, description="resampling filter; pil: Pillow's Lanczos, as "
                                                "Teachable Machine's Python snippet (default: pil for still images "
                                                "of a Teachable Machine export, else linear)")
    normalize: Literal["tm", "unit", "imagenet", "raw", "pixels"] | None = Field(
        None, description="tm: [-1, 1]; unit: [0, 1]; imagenet: mean/std; raw: 0..255; pixels: integer inputs take "
        "raw pixels (default: from the model)")
    mean: tuple[Mean, Mean, Mean] | None = Field(None, description="custom mean in pixel units, R,G,B (with std)")
    std: tuple[Std, Std, Std] | None = Field(None, description="custom std in pixel units, R,G,B (with mean)")
    color: ColorOrder | None = Field(None, description="channel order the model takes (default: rgb; bgr for YOLOX)")
    pad_value: int = Field(114, ge=0, le=255, description="letterbox grey, as Ultralytics trains with")
    centre: bool | None = Field(None, description="letterbox in the middle (Ultralytics: sizes rounded) or, if "
                                "false, in the top-left corner (YOLOX: sizes truncated) (default: top-left for YOLOX)")

    @model_validator(mode="after")
    def _mean_with_std(self) -> PreprocessOptions:
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std go together")
        if self.mean is not None and self.normalize is not None:
            raise ValueError("give normalize or mean and std, not both")
        return self


@dataclass(frozen=True)
class Prepared:
    """A frame ready for the model: its input tensor, how it maps back, and what it cost."""

    tensor: np.ndarray
    transform: Transform
    preprocess_ms: float


def _resolve_normalize(options: PreprocessOptions, model: Model, spec: TensorSpec) -> str | Normalization:
    if options.mean is not None and options.std is not None:
        return Normalization(options.mean, options.std)
    if options.normalize == PIXELS:
        return PIXELS
    if options.normalize is not None:
        return NORMALIZATIONS[options.normalize]
    if model.family is Family.ULTRALYTICS:
        return NORMALIZATIONS["unit"]
    if np.issubdtype(spec.dtype, np.integer):
        return PIXELS
    # Float detectors (YOLO exports) train on [0, 1]; classifiers on Teachable Machine's [-1, 1].
    if model.task is TaskKind.DETECT and options.preset is None:
        return NORMALIZATIONS["unit"]
    return NORMALIZATIONS["tm"]


# Said once per process: a still image of a Teachable Machine export resampled without Pillow.
_said_no_pillow = False


def _resolve_interpolation(options: PreprocessOptions, model: Model, still: bool) -> Interpolation:
    """Explicit choice, else the preset's, else Pillow's for still images of a Teachable Machine
    export (the exporter's own snippet), else the fast bilinear path."""
    global _said_no_pillow
    if options.interpolation is not None:
        if options.interpolation is Interpolation.PIL:
            pillow.check()
        return options.interpolation
    if options.preset is not None:
        chosen = PRESETS[options.preset][1]
        if chosen is Interpolation.PIL:
            pillow.check()
        return chosen
    if not (still and model.family is Family.TEACHABLE_MACHINE):
        return Interpolation.LINEAR
    if pillow.available():
        return Interpolation.PIL
    if not _said_no_pillow:
        _said_no_pillow = True
        log.warning("Pillow is not installed: still images use the fast bilinear path, not Teachable Machine's own "
                    "resampling, and may score a little differently; %s", pillow.INSTALL_HINT)
    return Interpolation.LINEAR


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
        self.interpolation = _resolve_interpolation(options, model, still)
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
        self.normalize = _resolve_normalize(options, model, spec)
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
        return self.interpolation if self._still is None else _resolve_interpolation(*self._still, True)

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
