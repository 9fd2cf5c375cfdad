"""What a model's input and output tensors look like, independent of the runtime."""

from __future__ import annotations

import enum

import numpy as np

from edgetm.records import Record, field


class Layout(enum.Enum):
    """Memory layout of an image tensor."""

    NHWC = "NHWC"
    NCHW = "NCHW"
    OTHER = "other"


class Quantization(Record):
    """Affine quantization: ``real = (q - zero_point) * scale``.

    ``axis`` is the quantized dimension when there is one scale per channel (per-axis), else None.
    """

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int | None = None

    @property
    def scale(self) -> float:
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        return self.zero_points[0]

    def _broadcast(self, values: tuple, ndim: int) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        if self.axis is None or array.size == 1:
            return array.reshape(())
        shape = [1] * ndim
        shape[self.axis] = array.size
        return array.reshape(shape)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if len(self.scales) == 1:  # the per-frame case: stay in float32, no temporaries
            out = q.astype(np.float32)
            out -= self.zero_points[0]
            out *= self.scales[0]
            return out
        scale = self._broadcast(self.scales, q.ndim)
        zero = self._broadcast(self.zero_points, q.ndim)
        return ((q.astype(np.float32) - zero) * scale).astype(np.float32)

    def quantize(self, real: np.ndarray, dtype: np.dtype) -> np.ndarray:
        scale = self._broadcast(self.scales, np.ndim(real))
        zero = self._broadcast(self.zero_points, np.ndim(real))
        info = np.iinfo(dtype)
        q = np.round(np.asarray(real, dtype=np.float64) / scale + zero)
        return np.clip(q, info.min, info.max).astype(dtype)

    def real_range(self, dtype: np.dtype) -> tuple[float, float]:
        """The real values the integer type can represent (first channel)."""
        info = np.iinfo(dtype)
        return (info.min - self.zero_point) * self.scale, (info.max - self.zero_point) * self.scale

    def to_dict(self) -> dict:
        out: dict = {"scale": list(self.scales), "zero_point": list(self.zero_points)}
        if len(self.scales) == 1:
            out = {"scale": self.scale, "zero_point": self.zero_point}
        if self.axis is not None:
            out["axis"] = self.axis
        return out


class TensorSpec(Record):
    """One input or output.

    ``shape`` is the concrete shape the model currently runs at; ``dynamic`` marks the axes the
    model itself leaves open (batch, image size), which the loader has resolved.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: Quantization | None = None
    index: int = 0
    dynamic: tuple[bool, ...] = field(default=(), compare=False)

    @property
    def is_dynamic(self) -> bool:
        return any(self.dynamic)

    @property
    def has_dynamic_size(self) -> bool:
        """Axes other than the batch are left open (an image size, a number of samples)."""
        return any(self.dynamic[1:])

    @property
    def has_dynamic_sides(self) -> bool:
        """Both sides of an image input are left open: it runs at any width and height."""
        flags = self.dynamic or (False,) * len(self.shape)
        axes = {Layout.NHWC: (1, 2), Layout.NCHW: (2, 3)}.get(self.layout)
        return axes is not None and all(flags[a] for a in axes)

    @property
    def signature(self) -> tuple[int, ...]:
        """The shape with -1 on dynamic axes, as the model declares it."""
        flags = self.dynamic or (False,) * len(self.shape)
        return tuple(-1 if dyn else d for d, dyn in zip(self.shape, flags, strict=True))

    @property
    def is_quantized(self) -> bool:
        return self.quantization is not None and np.issubdtype(self.dtype, np.integer)

    @property
    def layout(self) -> Layout:
        return tensor_layout(self.shape)

    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of an image input, None for other tensors."""
        layout = self.layout
        if layout is Layout.NHWC:
            return self.shape[2], self.shape[1]
        if layout is Layout.NCHW:
            return self.shape[3], self.shape[2]
        return None

    def dequantize(self, values: np.ndarray) -> np.ndarray:
        """Real values of an output; float tensors pass through."""
        if self.is_quantized:
            assert self.quantization is not None
            return self.quantization.dequantize(values)
        return values.astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "shape": list(self.signature),
            "resolved_shape": list(self.shape),
            "dtype": np.dtype(self.dtype).name,
            "quantization": self.quantization.to_dict() if self.quantization else None,
        }


_CHANNELS = (1, 3, 4)


def tensor_layout(shape: tuple[int, ...]) -> Layout:
    """NHWC or NCHW from a 4-D image shape.

    The channel axis is the one holding 1, 3 or 4 where the other candidate does not; when both
    could be channels, the one holding 3 wins, then NHWC (TFLite's and Teachable Machine's).
    """
    if len(shape) != 4:
        return Layout.OTHER
    last, second = shape[3], shape[1]
    if last in _CHANNELS and second not in _CHANNELS:
        return Layout.NHWC
    if second in _CHANNELS and last not in _CHANNELS:
        return Layout.NCHW
    if (second == 3) != (last == 3):  # colour images have three channels: [1, 3, 4, 4] is NCHW
        return Layout.NCHW if second == 3 else Layout.NHWC
    if last in _CHANNELS:
        return Layout.NHWC
    return Layout.OTHER
