"""What a zip (or a model file) can make edgetm hold in memory: members are unpacked in counted
chunks, refused as soon as they show they are not a model or grow past the limit, and a model's
bytes are held once. Peak memory is measured on a real ``edgetm info`` process."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgetm.errors import LabelsError, ModelError
from edgetm.model import load_model
from edgetm.model.locate import MAX_MODEL_BYTES
from edgetm.train.export_tflite import to_tflite
from tests.conftest import ROOT
from tests.modelkit import small_cnn

MB = 1 << 20
# `edgetm info` on a small model peaks near 85 MB here (Python, numpy, LiteRT).
BASELINE_MB = 150
CLI_TIMEOUT_S = 120.0


def deflated_zip(path: Path, members: dict[str, tuple[bytes, int]], method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip whose members are ``head`` followed by zeros up to ``size`` bytes, written a megabyte
    at a time so that making a 900 MB member costs the test almost no memory."""
    zeros = bytes(MB)
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, (head, size) in members.items():
            with archive.open(name, "w", force_zip64=size > 0xFFFF0000) as member:
                member.write(head)
                left = size - len(head)
                while left > 0:
                    member.write(zeros[:min(left, MB)])
                    left -= MB
    return path


# Runs the command and prints its peak resident memory. A fresh parent, because Linux hands a
# child's starting peak down from the process that forked it: measured from pytest, the child
# would start at pytest's own size.
_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=float(sys.argv[1]))
sys.stderr.buffer.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mb(args: list[str], timeout_s: float = CLI_TIMEOUT_S) -> tuple[int, str, float]:
    """Run a command: its exit status, its stderr and its peak resident memory in MB."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(timeout_s), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout_s + 10)
    assert done.returncode == 0, done.stderr
    status, peak_kb = done.stdout.split()
    return int(status), done.stderr, int(peak_kb) / 1024


def edgetm_info(path: Path) -> tuple[int, str, float]:
    return peak_rss_mb([sys.executable, "-m", "edgetm", "info", str(path)])


def one_line_error(status: int, stderr: str) -> str:
    assert status == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgetm: error: "), stderr
    return lines[0]


def test_a_zip_bomb_member_is_refused_without_unpacking_it(tmp_path: Path):
    """0.9 MB of zip holding 900 MB of zeros (the header says so truthfully)."""
    bomb = deflated_zip(tmp_path / "model.zip", {"model.tflite": (b"", 900 * MB)})
    assert bomb.stat().st_size < 2 * MB
    status, stderr, peak = edgetm_info(bomb)
    assert "model.tflite" in one_line_error(status, stderr)
    assert peak < BASELINE_MB, f"peak {peak:.0f} MB"


def test_a_member_that_is_not_a_model_is_refused_after_its_first_chunk(tmp_path: Path):
    """Under the size limit, but its first bytes already say it is no model: the rest is never unpacked."""
    zeros = deflated_zip(tmp_path / "model.zip", {"model.tflite": (b"", 400 * MB)})
    status, stderr, peak = edgetm_info(zeros)
    assert "not a valid TensorFlow Lite model" in one_line_error(status, stderr)
    assert peak < BASELINE_MB, f"peak {peak:.0f} MB"


def test_a_model_from_a_zip_is_held_once(tmp_path: Path):
    """A member that starts like a TFLite model is unpacked whole, into one buffer that goes to the
    runtime as it is: the peak is its size once plus the process, not twice."""
    size = 300 * MB
    fake = deflated_zip(tmp_path / "model.zip", {"model.tflite": (b"\x1c\0\0\0TFL3", size)})
    status, stderr, peak = edgetm_info(fake)
    one_line_error(status, stderr)
    assert peak < size / MB + BASELINE_MB, f"peak {peak:.0f} MB"


def test_a_labels_bomb_in_a_zip_is_refused(tmp_path: Path):
    archive = tmp_path / "converted_tflite.zip"
    deflated_zip(archive, {"labels.txt": (b"0 a\n", 900 * MB)})
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("model_unquant.tflite", to_tflite(small_cnn()))
    status, stderr, peak = edgetm_info(archive)
    assert "labels.txt" in one_line_error(status, stderr)
    assert peak < BASELINE_MB, f"peak {peak:.0f} MB"


def test_a_header_that_understates_a_member_does_not_let_more_through(tmp_path: Path):
    """The central directory says 1 KB; the data inflates to 50 MB. What is unpacked is counted,
    and the member is refused (Python's zipfile stops at the stated size and the CRC fails)."""
    archive = deflated_zip(tmp_path / "model.zip", {"model.tflite": (b"\x1c\0\0\0TFL3", 50 * MB)})
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("model.tflite")
    stated = (50 * MB).to_bytes(4, "little")
    for at in [i for i in range(len(data)) if data[i:i + 4] == stated]:  # local header and central directory
        data[at:at + 4] = (1024).to_bytes(4, "little")
    assert info.file_size == 50 * MB
    archive.write_bytes(bytes(data))
    with pytest.raises(ModelError) as raised:
        load_model(archive)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_members_compressed_without_a_bound_are_refused(tmp_path: Path, method: int):
    """Python's zipfile unpacks bzip2 and LZMA data without a bound on what one read produces."""
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w", method) as z:
        z.writestr("model.tflite", to_tflite(small_cnn()))
    with pytest.raises(ModelError, match=r"compressed with .*zip it again"):
        load_model(archive)


def test_a_model_file_over_the_limit_is_refused_before_reading(tmp_path: Path):
    big = tmp_path / "big.tflite"
    with big.open("wb") as handle:
        handle.write(b"\x1c\0\0\0TFL3")
        handle.truncate(MAX_MODEL_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ModelError, match="larger than"):
        load_model(big)


def test_a_labels_file_beside_a_model_over_the_limit_is_refused(tmp_path: Path):
    (tmp_path / "model_unquant.tflite").write_bytes(to_tflite(small_cnn()))
    with (tmp_path / "labels.txt").open("wb") as handle:
        handle.write(b"0 a\n")
        handle.truncate(64 * MB)
    with pytest.raises(LabelsError, match="too large"):
        load_model(tmp_path)


def test_a_model_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    with pytest.raises(ModelError, match="not a regular file"):
        load_model(fifo)
