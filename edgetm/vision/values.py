"""From pixel to tensor value: the named normalisations, the 256-entry tables that apply them
to uint8 pixels (quantized where the input is an integer), and a check that the input's
quantization can hold what is fed."""

from __future__ import annotations

import logging

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.spec import TensorSpec
from edgetm.records import Record

log = logging.getLogger(__name__)


class Normalization(Record):
    """``real = (pixel - mean) / std`` per channel, in pixel units (0..255), RGB order."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def uniform(self) -> bool:
        return len(set(self.mean)) == 1 and len(set(self.std)) == 1


# Named normalisations. Teachable Machine trains on pixels scaled to [-1, 1] (MobileNet's
# convention); Ultralytics YOLO on [0, 1]; torchvision classifiers on ImageNet mean/std.
NORMALIZATIONS: dict[str, Normalization] = {
    "tm": Normalization((127.5,) * 3, (127.5,) * 3),
    "unit": Normalization((0.0,) * 3, (255.0,) * 3),
    "imagenet": Normalization((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    "raw": Normalization((0.0,) * 3, (1.0,) * 3),
}
# Integer inputs of image classifiers take raw pixels: the tensor's own quantization says what
# range they stand for (Teachable Machine vintages differ: [0, 1] in one, [-1, 1] in another).
PIXELS = "pixels"
# An input whose quantization clips more than this share of the 256 pixel levels is warned about.
SATURATION_WARNING = 0.1


def value_table(norm: str | Normalization, spec: TensorSpec, channels: int) -> np.ndarray | None:
    """A [1, 256, C] lookup table from uint8 pixel to the tensor's value; None when identity."""
    dtype = np.dtype(spec.dtype)
    pixels = np.arange(256, dtype=np.float64)
    if norm == PIXELS:
        if dtype == np.uint8:
            return None
        if dtype == np.int8:
            return (pixels - 128).astype(np.int8).view(np.uint8).reshape(1, 256, 1).repeat(channels, 2)
        return pixels.astype(dtype).reshape(1, 256, 1).repeat(channels, 2)
    assert isinstance(norm, Normalization)
    real = (pixels[None, :, None] - np.array(norm.mean[:channels])) / np.array(norm.std[:channels])
    if np.issubdtype(dtype, np.floating):
        return real.astype(np.float32)
    if spec.quantization is None:
        raise ConfigError(f"input '{spec.name}' is {dtype.name} without quantization parameters",
                          "use --normalize pixels for raw pixel input")
    quantized = spec.quantization.quantize(real, dtype)
    return quantized.view(np.uint8) if dtype == np.int8 else quantized


def check_representable(table: np.ndarray | None, norm: str | Normalization, spec: TensorSpec) -> None:
    """Warn when the input's quantization cannot hold the values fed: most pixel levels would
    saturate to the same integer (an int8 input for [-1, 1] fed 0..255, say)."""
    q = spec.quantization
    if table is None or q is None or norm == PIXELS or not np.issubdtype(spec.dtype, np.integer):
        return
    info = np.iinfo(spec.dtype)
    values = table[0, :, 0].view(spec.dtype) if spec.dtype == np.int8 else table[0, :, 0]
    clipped = int(np.count_nonzero(values == info.min)) + int(np.count_nonzero(values == info.max))
    share = clipped / values.size
    if share <= SATURATION_WARNING:
        return
    assert isinstance(norm, Normalization)
    low, high = q.real_range(np.dtype(spec.dtype))
    fed = ((0 - norm.mean[0]) / norm.std[0], (255 - norm.mean[0]) / norm.std[0])
    log.warning("input '%s' (%s, scale %.6g, zero point %d) holds values in [%.3g, %.3g], but preprocessing feeds "
                "[%.3g, %.3g]: %d%% of pixel levels saturate; use --normalize pixels (raw pixels, read by the "
                "tensor's own quantization) or the normalization the model was trained with", spec.name,
                np.dtype(spec.dtype).name, q.scale, q.zero_point, low, high, *fed, round(share * 100))
