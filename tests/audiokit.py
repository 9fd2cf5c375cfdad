"""Sound for tests: tones in WAV files, and models shaped like Teachable Machine's sound exports.

Teachable Machine's sound export takes [1, 44032] float samples at 44.1 kHz with the spectrogram
inside the model and has TFLite metadata (AudioProperties) and labels with "Background Noise"
first. The models here have the same input, output, metadata and labels, and a real spectrogram
front-end: 43 frames of 1024 samples, their power spectrum (TFLite: the builtin RFFT2D and
COMPLEX_ABS ops; ONNX: a DFT as matrix products), averaged over the frames, then the log power in a
low band (around 500 Hz) and a high band (around 4 kHz) decide between "low" and "high", and a
quiet window is background noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetm.train.export_tflite import FlatbufferGraph, with_labels
from edgetm.train.metadata import audio_metadata

RATE = 44100
SAMPLES = 44032
FRAME = 1024
FRAMES = SAMPLES // FRAME
BINS = FRAME // 2 + 1
LABELS = ["Background Noise", "low", "high"]
LOW_BINS = slice(9, 15)  # 388 to 646 Hz at 43 Hz a bin
HIGH_BINS = slice(90, 97)  # 3.9 to 4.2 kHz
QUIET_LOG_POWER = 2.0  # a band louder than this (natural log of the power) is an event


def band_weights() -> tuple[np.ndarray, np.ndarray]:
    """[3, BINS] weights and [3] biases: each class scores the mean log power of its band."""
    weights = np.zeros((3, BINS), np.float32)
    weights[1, LOW_BINS] = 1.0 / (LOW_BINS.stop - LOW_BINS.start)
    weights[2, HIGH_BINS] = 1.0 / (HIGH_BINS.stop - HIGH_BINS.start)
    return weights, np.array([QUIET_LOG_POWER, 0.0, 0.0], np.float32)


def expected_scores(window: np.ndarray) -> np.ndarray:
    """What the models compute, in numpy."""
    power = np.abs(np.fft.rfft(window.reshape(FRAMES, FRAME), axis=1)) ** 2
    features = np.log(power.mean(axis=0) + 1e-6)
    weights, bias = band_weights()
    logits = weights @ features + bias
    e = np.exp(logits - logits.max())
    return e / e.sum()


def tm_sound_tflite(folder: Path, name: str = "soundclassifier_with_metadata.tflite", metadata: bool = True) -> Path:
    g = FlatbufferGraph()
    S, ops = g.S, g.S.BuiltinOperator
    x = g.tensor("audio_clip", (1, SAMPLES), np.float32)
    frames_shape = g.tensor("frames_shape", (3,), np.int32, np.array([FRAMES, 1, FRAME], np.int32))
    frames = g.tensor("frames", (FRAMES, 1, FRAME), np.float32)
    reshape = S.ReshapeOptionsT()
    reshape.newShape = [FRAMES, 1, FRAME]
    g.op(ops.RESHAPE, [x, frames_shape], [frames], S.BuiltinOptions.ReshapeOptions, reshape)
    fft_length = g.tensor("fft_length", (2,), np.int32, np.array([1, FRAME], np.int32))
    spectrum = g.tensor("spectrum", (FRAMES, 1, BINS), np.complex64)
    g.op(ops.RFFT2D, [frames, fft_length], [spectrum], S.BuiltinOptions.Rfft2dOptions, S.Rfft2dOptionsT())
    magnitude = g.tensor("magnitude", (FRAMES, 1, BINS), np.float32)
    g.op(ops.COMPLEX_ABS, [spectrum], [magnitude])
    power = g.tensor("power", (FRAMES, 1, BINS), np.float32)
    g.op(ops.MUL, [magnitude, magnitude], [power], S.BuiltinOptions.MulOptions, S.MulOptionsT())
    axes = g.tensor("axes", (2,), np.int32, np.array([0, 1], np.int32))
    mean = g.tensor("mean", (BINS,), np.float32)
    reducer = S.ReducerOptionsT()
    reducer.keepDims = False
    g.op(ops.MEAN, [power, axes], [mean], S.BuiltinOptions.ReducerOptions, reducer)
    eps = g.tensor("eps", (1,), np.float32, np.array([1e-6], np.float32))
    floored = g.tensor("floored", (BINS,), np.float32)
    g.op(ops.ADD, [mean, eps], [floored], S.BuiltinOptions.AddOptions, S.AddOptionsT())
    log = g.tensor("log_power", (BINS,), np.float32)
    g.op(ops.LOG, [floored], [log])
    row_shape = g.tensor("row_shape", (2,), np.int32, np.array([1, BINS], np.int32))
    row = g.tensor("row", (1, BINS), np.float32)
    reshape = S.ReshapeOptionsT()
    reshape.newShape = [1, BINS]
    g.op(ops.RESHAPE, [log, row_shape], [row], S.BuiltinOptions.ReshapeOptions, reshape)
    weights, bias = band_weights()
    w = g.tensor("weights", weights.shape, np.float32, weights)
    b = g.tensor("bias", bias.shape, np.float32, bias)
    logits = g.tensor("logits", (1, 3), np.float32)
    g.op(ops.FULLY_CONNECTED, [row, w, b], [logits], S.BuiltinOptions.FullyConnectedOptions,
         S.FullyConnectedOptionsT())
    scores = g.tensor("scores", (1, 3), np.float32)
    softmax = S.SoftmaxOptionsT()
    softmax.beta = 1.0
    g.op(ops.SOFTMAX, [logits], [scores], S.BuiltinOptions.SoftmaxOptions, softmax)
    model = g.finish([x], [scores], metadata={"TFLITE_METADATA": audio_metadata(RATE)} if metadata else None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(with_labels(model, LABELS))
    (folder / "labels.txt").write_text("".join(f"{i} {label}\n" for i, label in enumerate(LABELS)))
    return path


def tm_sound_onnx(folder: Path, name: str = "sound.onnx") -> Path:
    onnx = pytest.importorskip("onnx", reason="onnx not installed")
    from onnx import TensorProto, helper, numpy_helper

    k = np.arange(BINS)[None, :]
    n = np.arange(FRAME)[:, None]
    cos = np.cos(2 * np.pi * n * k / FRAME).astype(np.float32)
    sin = -np.sin(2 * np.pi * n * k / FRAME).astype(np.float32)
    weights, bias = band_weights()
    nodes = [
        helper.make_node("Reshape", ["audio", "frames_shape"], ["frames"]),
        helper.make_node("MatMul", ["frames", "cos"], ["real"]),
        helper.make_node("MatMul", ["frames", "sin"], ["imaginary"]),
        helper.make_node("Mul", ["real", "real"], ["real2"]),
        helper.make_node("Mul", ["imaginary", "imaginary"], ["imaginary2"]),
        helper.make_node("Add", ["real2", "imaginary2"], ["power"]),
        helper.make_node("ReduceMean", ["power"], ["mean"], axes=[0], keepdims=1),
        helper.make_node("Add", ["mean", "eps"], ["floored"]),
        helper.make_node("Log", ["floored"], ["log_power"]),
        helper.make_node("Gemm", ["log_power", "weights", "bias"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
    ]
    initializers = [numpy_helper.from_array(np.array([FRAMES, FRAME], np.int64), "frames_shape"),
                    numpy_helper.from_array(cos, "cos"), numpy_helper.from_array(sin, "sin"),
                    numpy_helper.from_array(np.array([1e-6], np.float32), "eps"),
                    numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")]
    graph = helper.make_graph(nodes, "tm_sound", [helper.make_tensor_value_info("audio", TensorProto.FLOAT,
                                                                                [1, SAMPLES])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / name)
    (folder / "labels.txt").write_text("".join(f"{i} {label}\n" for i, label in enumerate(LABELS)))
    return folder / name


def tones(path: Path, parts: list[tuple[float, float, float]], rate: int = 48000, subtype: str = "PCM_16",
          channels: int = 1) -> Path:
    """A WAV of consecutive (frequency Hz, seconds, amplitude) tones; frequency 0 is silence."""
    import soundfile

    pieces = []
    for frequency, seconds, amplitude in parts:
        t = np.arange(round(seconds * rate)) / rate
        pieces.append(amplitude * np.sin(2 * np.pi * frequency * t) if frequency else np.zeros_like(t))
    signal = np.concatenate(pieces).astype(np.float32)
    data = np.repeat(signal[:, None], channels, axis=1) if channels > 1 else signal
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path
