"""Where a model is and its bytes: a file, an export folder, or a member of a zip (a Teachable
Machine export, a MediaPipe bundle), read within limits: a zip's header is only a claim, and a
member is unpacked a chunk at a time and counted."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from edgetm.errors import LabelsError, ModelError
from edgetm.model.labels import MAX_LABELS_BYTES, parse_literal
from edgetm.model.metadata import MAX_METADATA_BYTES
from edgetm.model.model import ModelFormat
from edgetm.model.packed import ZIP_END, ZIP_END_SPAN
from edgetm.records import Record

if TYPE_CHECKING:
    import zipfile

# Which file of an export folder or zip to run, best first. Teachable Machine's float model is
# what the browser runs, so it gives the same answers; its quantized twin is the fallback.
_PREFERENCE = ("model_unquant.tflite", "model.tflite", "model.onnx", "soundclassifier_with_metadata.tflite")
_TM_ZIPS = ("converted_tflite.zip", "converted_tflite_quantized.zip", "converted_edgetpu.zip")
# A MediaPipe Tasks bundle (.task) is a zip of TFLite models; a pose landmarker's runs first.
TASK_BUNDLE = ".task"
TASK_FIRST_MODEL = "pose_detector.tflite"
# The most of a model edgetm reads: the largest exports it runs (YOLOv8x / YOLO11x in ONNX) are
# about 250 MB, so twice that leaves room while a zip bomb, whose header may claim anything and
# whose megabyte can inflate to gigabytes, cannot take a Raspberry Pi's memory.
MAX_MODEL_BYTES = 512 << 20
# Unpacked per read: small beside any model, large enough that counting costs nothing.
_CHUNK_BYTES = 1 << 20
# Python's zipfile bounds what one read of deflated data unpacks; bzip2 and LZMA data it unpacks
# without a bound, so one small read could fill the memory before anything is counted. Teachable
# Machine exports and MediaPipe bundles use deflate or no compression (zipfile's STORED and DEFLATED).
_UNPACKED = (0, 8)
_ENCRYPTED = 0x1  # the zip format's flag bit for a member that needs a password (zipfile raises RuntimeError)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# A zip starts with a member's local header and ends with its directory: a file that starts like a zip
# but has no directory at its end was cut short, most often by a download that did not finish.
_ZIP_MAGIC = b"PK\x03\x04"


class Located(Record, frozen=False):
    """A model found on disk: the file (or zip member) and what sits beside it."""

    where: str
    name: str
    content: bytes | None  # None: open by path
    path: Path | None
    beside_labels: tuple[str, str] | None  # (source, text) of a labels.txt next to the model
    from_tm_export: bool
    beside_metadata: dict | None = None  # Ultralytics' metadata.yaml next to the model


def _keras_error(where: str) -> ModelError:
    return ModelError(
        f"{where} is a Keras model, which edgetm cannot run without TensorFlow",
        "export the project from Teachable Machine as TensorFlow Lite (or convert it with TensorFlow's "
        "TFLiteConverter) and load the .tflite",
    )


def _explain_non_model(where: str, name: str, head: bytes) -> ModelError:
    lower = name.lower()
    if head.startswith(_HDF5_MAGIC) or lower.endswith((".h5", ".hdf5", ".keras")):
        return _keras_error(where)
    if lower.endswith(".json"):
        return ModelError(
            f"{where} is a TensorFlow.js model",
            "export the project from Teachable Machine as TensorFlow Lite and load the .tflite",
        )
    if lower.endswith(".pb"):
        return ModelError(f"{where} is a TensorFlow SavedModel", "convert it to TensorFlow Lite or ONNX first")
    return ModelError(
        f"{where} is not a model edgetm can run",
        "expected a .tflite or .onnx file, or a Teachable Machine export folder or zip",
    )


def _pick(names: Sequence[str], delegate: str | None, where: str) -> str:
    """The model file among an export's files."""
    by_base = {PurePosixPath(n).name.lower(): n for n in names}
    if delegate == "edgetpu":
        compiled = [n for base, n in by_base.items() if base.endswith("_edgetpu.tflite")]
        if compiled:
            return compiled[0]
    for preferred in _PREFERENCE:
        if preferred in by_base:
            return by_base[preferred]
    candidates = [n for base, n in by_base.items() if base.endswith((".tflite", ".onnx"))]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise ModelError(f"{where} holds several models: {', '.join(sorted(candidates))}", "name the one to run")
    keras = [n for base, n in by_base.items() if base.endswith((".h5", ".keras"))]
    if keras:
        raise _keras_error(f"{where}/{PurePosixPath(keras[0]).name}")
    if "model.json" in by_base:
        raise _explain_non_model(where, "model.json", b"")
    raise ModelError(f"{where} holds no .tflite or .onnx model")


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limit: int, error: type[ModelError],
            check: Callable[[bytes], object] | None = None) -> bytes:
    """A member's bytes, unpacked a chunk at a time and counted (its header's size is only a claim),
    into one buffer whose bytes are handed on without another copy. ``check`` sees the first chunk,
    so a member that is no model is refused before the rest is unpacked."""
    if info.flag_bits & _ENCRYPTED:
        raise error(f"{where} is encrypted", "zip it again without a password")
    if info.compress_type not in _UNPACKED:
        raise error(f"{where} is compressed with method {info.compress_type} (bzip2, LZMA, ...), which edgetm does "
                    "not unpack", "zip it again with the usual deflate compression")
    if info.file_size > limit:
        raise error(f"{where} is larger than {limit >> 20} MB ({info.file_size} bytes unpacked)",
                    "this is not an export edgetm can run")
    buffer = io.BytesIO()  # getvalue() hands over its own bytes object, and growing it does not copy twice
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK_BYTES):
            if check is not None and not buffer.tell():
                check(chunk[:16])
            if buffer.tell() + len(chunk) > limit:
                raise error(f"{where} unpacks to more than {limit >> 20} MB", "this is not an export edgetm can run")
            buffer.write(chunk)
    return buffer.getvalue()


def _zip_errors() -> tuple[type[Exception], ...]:
    """What zipfile raises on a corrupt archive: besides BadZipFile, a negative seek (ValueError) or a
    name that is not the UTF-8 its flag says (UnicodeDecodeError, a ValueError)."""
    import zipfile
    import zlib

    return (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError)


def _is_zip(path: Path) -> bool:
    """``zipfile.is_zipfile``, whose first test, the end record, is made here without importing
    zipfile (and the shutil and compressors it imports): few models are zips."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - ZIP_END_SPAN))
        if ZIP_END not in handle.read():
            return False
    import zipfile

    return zipfile.is_zipfile(path)


def _from_zip(path: Path, delegate: str | None, member: str | None = None) -> Located:
    import zipfile

    where = str(path)
    errors = _zip_errors()
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.filename.endswith("/")]  # is_dir() fails on ""
            if member is not None and member not in {i.filename for i in members}:
                raise ModelError(f"{where} holds no {member}", f"it holds {', '.join(i.filename for i in members)}")
            chosen = member or _pick([i.filename for i in members], delegate, where)
            info = next(i for i in members if i.filename == chosen)
            name = PurePosixPath(chosen).name
            content = _unpack(archive, info, f"{where}:{chosen}", MAX_MODEL_BYTES, ModelError,
                              lambda head: model_format(f"{where}:{chosen}", name, head))
            folder = PurePosixPath(chosen).parent
            labels_name = str(folder / "labels.txt") if str(folder) != "." else "labels.txt"
            labels = None
            labels_info = next((i for i in members if i.filename == labels_name), None)
            if labels_info is not None:
                text = _unpack(archive, labels_info, f"{where}:{labels_name}", MAX_LABELS_BYTES, LabelsError)
                labels = (f"{where}:{labels_name}", text.decode("utf-8", errors="replace"))
    except errors as error:
        if _cut_short(path):
            raise _incomplete(where) from None
        raise ModelError(f"{where} is not a readable zip file ({_first_line(error)})",
                         "download the export again") from None
    return Located(f"{where}:{chosen}", name, content, None, labels, path.name in _TM_ZIPS or name in _PREFERENCE)


def _cut_short(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == _ZIP_MAGIC and not _is_zip(path)


def _incomplete(where: str) -> ModelError:
    return ModelError(f"{where} is a zip file cut short (its end is missing)",
                      "the download is incomplete; download it again")


def _export_zip(folder: Path, files: list[str]) -> str | None:
    """The zip to run in a folder without a model file: Teachable Machine's, by its name, else the
    only zip there, whatever a browser renamed it to ("converted_tflite (1).zip")."""
    zips = sorted(f for f in files if f.lower().endswith(".zip"))
    named = [z for z in _TM_ZIPS if z in zips]
    if named or len(zips) <= 1:
        return (named or zips or [None])[0]
    raise ModelError(f"{folder} holds several zips: {', '.join(zips)}", "name the one to run")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def locate(path: Path, delegate: str | None, member: str | None = None) -> Located:
    if not path.exists():
        raise ModelError(f"{path} does not exist", "check the path to the model")
    if member is not None or path.suffix.lower() == TASK_BUNDLE:
        return _from_zip(path, delegate, member or TASK_FIRST_MODEL)
    if path.is_dir():
        files = [p.name for p in path.iterdir() if p.is_file()]
        if not any(f.endswith((".tflite", ".onnx")) for f in files):
            export = _export_zip(path, files)
            if export is not None:
                return _from_zip(path / export, delegate)
        path = path / _pick(files, delegate, str(path))
    if not path.is_file():  # a pipe or a device would block or never end
        raise ModelError(f"{path} is not a regular file", "give the path to a model file or an export folder")
    with path.open("rb") as handle:
        head = handle.read(16)
    if _cut_short(path):
        raise _incomplete(str(path))
    if head[4:8] != b"TFL3" and not path.name.lower().endswith(".keras") and _is_zip(path):
        return _from_zip(path, delegate)
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ModelError(f"{path} is larger than {MAX_MODEL_BYTES >> 20} MB ({path.stat().st_size} bytes)",
                         "this is not an export edgetm can run")
    labels_path = path.parent / "labels.txt"
    beside = None
    if labels_path.is_file():
        if labels_path.stat().st_size > MAX_LABELS_BYTES:
            raise LabelsError(f"{labels_path} is too large to be a labels file")
        beside = (str(labels_path), labels_path.read_text(encoding="utf-8", errors="replace"))
    metadata_path = path.parent / "metadata.yaml"
    metadata = None
    if metadata_path.is_file() and metadata_path.stat().st_size < MAX_METADATA_BYTES:
        parsed = parse_literal(metadata_path.read_text(encoding="utf-8", errors="replace"), dict)
        metadata = parsed if isinstance(parsed, dict) and "names" in parsed else None
    return Located(str(path), path.name, None, path, beside, path.name in _PREFERENCE, metadata)


def read_model(path: Path) -> bytes:
    """A model file's bytes in one read, no more than ``MAX_MODEL_BYTES`` even if it grew since it
    was measured."""
    with path.open("rb") as handle:
        content = handle.read(min(path.stat().st_size, MAX_MODEL_BYTES) + 1)
    if len(content) > MAX_MODEL_BYTES:
        raise ModelError(f"{path} is larger than {MAX_MODEL_BYTES >> 20} MB", "this is not an export edgetm can run")
    return content


def model_format(where: str, name: str, head: bytes) -> ModelFormat:
    if not head:
        raise ModelError(f"{where} is empty", "copy or export the model again")
    if head[4:8] == b"TFL3":
        return ModelFormat.TFLITE
    lower = name.lower()
    # An ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08.
    if lower.endswith(".onnx") or (head[:1] == b"\x08" and not lower.endswith(".tflite")):
        return ModelFormat.ONNX
    if lower.endswith(".tflite"):
        raise ModelError(f"{where} is not a valid TensorFlow Lite model (corrupt or truncated?)",
                         "copy or export it again")
    raise _explain_non_model(where, name, head)
