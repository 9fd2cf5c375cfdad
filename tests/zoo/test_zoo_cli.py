"""Refusals through the real command line: one line, non-zero exit, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("relative, message", [
    ("tm-keras-aitoy/converted_keras/keras_model.h5", "Keras model"),
    ("coral-invalid/model_invoking_error.tflite", "custom op 'fake-op-double'"),
    ("coral-posenet-customop/posenet_mobilenet_v1_075_353_481_16_quant_decoder.tflite",
     "custom op 'PosenetDecoderOp'"),
])
def test_refusals_are_one_line(zoo: Path, relative, message):
    result = subprocess.run([sys.executable, "-m", "edgetm", "info", str(zoo / relative)], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
