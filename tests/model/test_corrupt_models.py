"""Corrupt models that once ended in something other than a typed one-line error (each found by
the fuzzer in tests/reliability): each is made here on purpose."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgetm.errors import LabelsError, ModelError
from edgetm.model import load_model
from edgetm.model.labels import MAX_CLASSES, names_from_mapping, parse_labels
from edgetm.train.export_tflite import to_tflite
from tests.conftest import ROOT
from tests.modelkit import onnx_model, small_cnn, write
from tests.reliability.mutate import without_subgraphs


@pytest.fixture(scope="module")
def tflite() -> bytes:
    return to_tflite(small_cnn())


def test_a_tflite_model_without_subgraphs_is_refused_in_one_line(tmp_path: Path, tflite: bytes):
    """LiteRT's verifier lets a model with no subgraphs through and then segfaults on it: in a child,
    since before the check it took the process down."""
    path = write(tmp_path, "model.tflite", without_subgraphs(tflite))
    done = subprocess.run([sys.executable, "-m", "edgetm", "info", str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"edgetm: error: {path} is not a valid TensorFlow Lite model (it has no " \
                                  "subgraph) (copy or export it again)"


def test_tensor_names_that_are_not_utf8(tmp_path: Path, tflite: bytes, capfd):
    corrupt = tflite.replace(b"scores", b"\xffcores")
    assert corrupt != tflite
    with pytest.raises(ModelError, match="TensorFlow Lite failed"):
        load_model(write(tmp_path, "model.tflite", corrupt))
    onnx = onnx_model(small_cnn())
    name = b"input"
    assert name in onnx
    with pytest.raises(ModelError, match="not UTF-8 text"):
        load_model(write(tmp_path, "model.onnx", onnx.replace(name, b"\xffnput")))
    capfd.readouterr()
    output = b"\n\x06scores\x12"  # the graph output's name, which ONNX Runtime decodes while opening the session
    assert onnx.count(output) == 1
    with pytest.raises(ModelError, match="could not be loaded by ONNX Runtime: 'utf-8' codec"):
        load_model(write(tmp_path, "output.onnx", onnx.replace(output, b"\n\x06s\x93ores\x12")))
    # It used to retry the same session on the same CPU provider, printing four lines on stdout first.
    assert capfd.readouterr().out == ""


def test_associated_files_pointing_before_the_model_are_ignored(tmp_path: Path):
    """The zip of associated files appended to a TFLite model says its directory starts 2 GB on:
    zipfile then seeks before the start of the file (a ValueError); the labels are just not there."""
    net = small_cnn()
    content = bytearray(to_tflite(net))
    end = content.rfind(b"PK\x05\x06")
    assert end > 0
    struct.pack_into("<I", content, end + 16, 0x7FFFFFFF)
    model = load_model(write(tmp_path, "model.tflite", bytes(content)))
    assert model.labels is None


def test_a_zip_member_without_a_name(tmp_path: Path, tflite: bytes):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo(""), b"nameless")
        z.writestr("model_unquant.tflite", tflite)
    assert load_model(archive).source.endswith("model_unquant.tflite")


def test_a_zip_member_name_flagged_utf8_that_is_not(tmp_path: Path, tflite: bytes):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("model_unquant.tflite", tflite)
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"PK\x03\x04"
    flags = struct.unpack_from("<H", data, 6)[0]
    struct.pack_into("<H", data, 6, flags | 0x800)  # the local header says its name is UTF-8 ...
    data[30] = 0xFF  # ... and its name is not
    archive = write(tmp_path, "export.zip", bytes(data))
    with pytest.raises(ModelError, match="not a readable zip file"):
        load_model(archive)


@pytest.mark.parametrize("text", ["0 a\n99999999999 b\n", "0 a\n" + "1" * 5000 + " b\n", f"0 a\n{MAX_CLASSES} b\n"])
def test_label_indices_that_would_fill_the_memory(text: str):
    """Gaps between sparse indices are filled: 10^11 would be a list of 10^11 names (and an index of
    5000 digits is more than int() reads)."""
    with pytest.raises(LabelsError, match="more than the 100000 classes"):
        parse_labels(text)


def test_metadata_names_that_are_not_names():
    assert names_from_mapping({0: "a", 10**12: "b"}) is None
    assert names_from_mapping({-1: "a"}) is None
    assert names_from_mapping({0: ["nested", ["lists"]]}) is None  # YAML aliases could make its text enormous
    assert names_from_mapping({0: "a", 2: "c"}) == ["a", "class_1", "c"]


def _flag_encrypted(archive: bytes) -> bytes:
    """Every member marked encrypted (bit 0 of its flags, in the local and the central header)."""
    data = bytearray(archive)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            struct.pack_into("<H", data, at + offset, struct.unpack_from("<H", data, at + offset)[0] | 1)
            at = data.find(signature, at + 1)
    return bytes(data)


def test_encrypted_members(tmp_path: Path, tflite: bytes):
    """zipfile raises a RuntimeError for them: a model is refused, an associated labels file ignored."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("model_unquant.tflite", tflite)
    with pytest.raises(ModelError, match="is encrypted"):
        load_model(write(tmp_path, "export.zip", _flag_encrypted(buffer.getvalue())))
    appended = tflite.rfind(b"PK\x03\x04")
    assert appended > 0  # the labels the export packed after the flatbuffer
    model = load_model(write(tmp_path, "model.tflite", tflite[:appended] + _flag_encrypted(tflite[appended:])))
    assert model.labels is None


def test_a_labels_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path, tflite: bytes):
    fifo = tmp_path / "labels.txt"
    os.mkfifo(fifo)
    with pytest.raises(LabelsError, match="not a regular file"):
        load_model(write(tmp_path, "model.tflite", tflite), labels=fifo)
