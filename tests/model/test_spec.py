import numpy as np
import pytest

from edgetm.model.spec import Layout, Quantization, TensorSpec, tensor_layout


@pytest.mark.parametrize(
    "shape, layout",
    [
        ((1, 224, 224, 3), Layout.NHWC),
        ((1, 3, 224, 224), Layout.NCHW),
        ((1, 3, 48, 192), Layout.NCHW),
        ((1, 96, 96, 1), Layout.NHWC),
        ((1, 1, 96, 96), Layout.NCHW),
        ((1, 3, 3, 3), Layout.NHWC),  # ambiguous: TFLite's convention wins
        ((1, 3, 4, 4), Layout.NCHW),  # a 4x4 colour image, not a 3x4 RGBA one
        ((1, 4, 4, 3), Layout.NHWC),
        ((1, 1001), Layout.OTHER),
        ((1, 84, 8400), Layout.OTHER),
    ],
)
def test_tensor_layout(shape, layout):
    assert tensor_layout(shape) is layout


@pytest.mark.parametrize("dtype, scale, zero", [(np.uint8, 1 / 128, 128), (np.uint8, 1 / 255, 0),
                                                (np.int8, 0.0078, 0), (np.int8, 0.018658, -14)])
def test_quantize_dequantize_round_trip(dtype, scale, zero):
    q = Quantization((scale,), (zero,))
    low, high = q.real_range(dtype)
    real = np.linspace(low, high, 1000)
    restored = q.dequantize(q.quantize(real, dtype))
    assert np.abs(restored - real).max() <= scale / 2 + 1e-6
    # Every integer survives the other way round exactly.
    info = np.iinfo(dtype)
    ints = np.arange(info.min, info.max + 1).astype(dtype)
    assert np.array_equal(q.quantize(q.dequantize(ints), dtype), ints)


def test_quantize_saturates_out_of_range_values():
    q = Quantization((0.1,), (0,))
    assert q.quantize(np.array([100.0, -100.0]), np.int8).tolist() == [127, -128]


def test_per_axis_quantization():
    q = Quantization((0.5, 0.25), (0, 10), axis=1)
    ints = np.array([[2, 14], [4, 6]], dtype=np.int8)
    assert np.allclose(q.dequantize(ints), [[1.0, 1.0], [2.0, -1.0]])
    assert np.array_equal(q.quantize(q.dequantize(ints), np.int8), ints)
    assert q.to_dict() == {"scale": [0.5, 0.25], "zero_point": [0, 10], "axis": 1}


def test_tensor_spec_signature_and_dequantize():
    spec = TensorSpec("x", (1, 224, 224, 3), np.dtype(np.uint8), Quantization((0.5,), (128,)), 0,
                      (True, False, False, False))
    assert spec.signature == (-1, 224, 224, 3)
    assert spec.image_size() == (224, 224)
    assert spec.dequantize(np.array([128, 130], np.uint8)).tolist() == [0.0, 1.0]
    assert spec.to_dict()["shape"] == [-1, 224, 224, 3]
