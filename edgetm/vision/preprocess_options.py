"""What preprocessing a model gets: the options (resize, resampling, colour order, values), the
Teachable Machine presets, and how the defaults are chosen for a model. ``preprocess.py`` does
the work."""


import enum
import logging
from typing import Annotated, Literal

import numpy as np

from edgetm.model.model import Family, Model, TaskKind
from edgetm.model.spec import TensorSpec
from edgetm.options import Field, model_validator
from edgetm.plugins import Options
from edgetm.vision import pillow
from edgetm.vision.values import NORMALIZATIONS, PIXELS, Normalization

log = logging.getLogger("edgetm.vision.preprocess")


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
    def _mean_with_std(self) -> "PreprocessOptions":
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std go together")
        if self.mean is not None and self.normalize is not None:
            raise ValueError("give normalize or mean and std, not both")
        return self


def resolve_normalize(options: PreprocessOptions, model: Model, spec: TensorSpec) -> str | Normalization:
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


def resolve_interpolation(options: PreprocessOptions, model: Model, still: bool) -> Interpolation:
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
