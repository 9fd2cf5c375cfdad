"""Seeded mutations of models, export zips, MediaPipe bundles and labels files.

Each case is reproducible from (seed, number) alone: ``case(seed, n)`` builds it again. Seeds are
models the tests make (tests/modelkit.py), and with ``zoo`` two real exports read from the zoo
(only the mutated bytes are written, to a temporary folder).
"""

from __future__ import annotations

import functools
import io
import random
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MB = 1 << 20
# A member of zeros that deflates to almost nothing: large enough to show a bomb is refused
# without unpacking it, small enough that writing it costs a CI run nothing.
BOMB_BYTES = 24 * MB
LABELS = ["Unripe", "Ripe", "Overripe", "No banana"]


@dataclass
class Case:
    """Files to write into an empty folder, and which of them (or the folder, ".") to load."""

    number: int
    seed: str
    mutation: str
    files: dict[str, bytes]
    target: str

    def write(self, folder: Path) -> Path:
        for name, content in self.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return folder / self.target

    def __str__(self) -> str:
        return f"case {self.number} ({self.seed}: {self.mutation})"


# -- seeds ------------------------------------------------------------------------------------
def _labels_text(labels: list[str] = LABELS) -> bytes:
    return "".join(f"{i} {name}\n" for i, name in enumerate(labels)).encode()


def _zip(members: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a name given twice is one of the mutations
        for name, content, method in members:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), content, compress_type=method)
    return buffer.getvalue()


@functools.cache
def seeds(zoo: Path | None = None) -> dict[str, tuple[dict[str, bytes], str]]:
    """Seed name -> (files, target)."""
    from edgetm.train.export_tflite import to_tflite
    from tests.modelkit import onnx_model, small_cnn, uint8_tflite

    net = small_cnn(classes=len(LABELS))
    net.labels = list(LABELS)
    tflite = to_tflite(net)
    onnx = onnx_model(net)
    labels = _labels_text()
    deflated, stored = zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED
    found = {
        "tflite": ({"model_unquant.tflite": tflite}, "model_unquant.tflite"),
        "tflite-uint8": ({"model.tflite": uint8_tflite(net)}, "model.tflite"),
        "onnx": ({"model.onnx": onnx}, "model.onnx"),
        "labels": ({"model_unquant.tflite": tflite, "labels.txt": labels}, "."),
        "tm-zip": ({"converted_tflite.zip": _zip([("model_unquant.tflite", tflite, deflated),
                                                   ("labels.txt", labels, deflated)])}, "converted_tflite.zip"),
        "task": ({"pose.task": _zip([("pose_detector.tflite", tflite, stored),
                                     ("pose_landmarks_detector.tflite", tflite, stored)])}, "pose.task"),
        "onnx-zip": ({"export.zip": _zip([("model.onnx", onnx, deflated), ("labels.txt", labels, deflated)])},
                     "export.zip"),
    }
    if zoo is not None:
        real = {"zoo-tflite": zoo / "coral-mobilenet" / "mobilenet_v1_0.25_128_quant.tflite",
                "zoo-onnx": zoo / "rapidocr-mobilenetv3-cls" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"}
        for name, path in real.items():
            if path.is_file():
                found[name] = ({path.name: path.read_bytes()}, path.name)
    return found


# -- byte mutations ---------------------------------------------------------------------------
# Values that break length and offset fields: flatbuffer offsets and vector lengths, zip sizes.
HUGE = (0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x10000000, 0xFFFFFFF0, 0x00FFFFFF)


def _at(rng: random.Random, size: int) -> int:
    """A position, half the time near either end: where a flatbuffer keeps its tables and a zip its
    directory, while the middle of a model is mostly weights."""
    if size <= 1 or rng.random() < 0.5:
        return rng.randrange(max(size, 1))
    edge = min(size, max(256, size // 10))
    return rng.randrange(edge) if rng.random() < 0.5 else size - 1 - rng.randrange(edge)


def _flip(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    count = rng.randint(1, 16)
    for _ in range(count):
        out[_at(rng, len(out))] = rng.randrange(256)
    return f"{count} bytes set", bytes(out)


def _bits(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    count = rng.randint(1, 8)
    for _ in range(count):
        out[_at(rng, len(out))] ^= 1 << rng.randrange(8)
    return f"{count} bits flipped", bytes(out)


def _truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.choice([rng.randrange(len(data)), rng.randrange(min(len(data), 64)), len(data) - rng.randint(1, 16)])
    return f"cut at {at}", data[:max(at, 0)]


def _insert(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = _at(rng, len(data) + 1)
    if rng.random() < 0.5:
        chunk = rng.randbytes(rng.randint(1, 512))
    else:
        start = rng.randrange(len(data))
        chunk = data[start:start + rng.randint(1, 4096)]
    return f"{len(chunk)} bytes inserted at {at}", data[:at] + chunk + data[at:]


def _remove(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = _at(rng, len(data))
    length = rng.randint(1, max(1, len(data) // 4))
    return f"{length} bytes removed at {at}", data[:at] + data[at + length:]


def _huge_length(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    at = _at(rng, max(1, len(out) // 4 - 1)) * 4
    value = rng.choice(HUGE)
    out[at:at + 4] = struct.pack("<I", value)
    return f"u32 {value:#x} at {at}", bytes(out)


def _huge_varint(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """A protobuf length as large as a varint goes, at a random place."""
    at = _at(rng, len(data))
    varint = rng.choice([b"\xff\xff\xff\xff\x0f", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x80\x80\x80\x80\x08"])
    return f"huge varint at {at}", data[:at] + varint + data[at + len(varint):]


def _zero_run(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = _at(rng, len(data))
    length = rng.randint(1, 256)
    return f"{length} bytes zeroed at {at}", data[:at] + bytes(min(length, len(data) - at)) + data[at + length:]


def _splice(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    start, at = rng.randrange(len(data)), _at(rng, len(data))
    chunk = data[start:start + rng.randint(4, 256)]
    return f"{len(chunk)} bytes from {start} copied over {at}", (data[:at] + chunk + data[at + len(chunk):])[:len(data)]


def _empty(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    return "emptied", b""


Mutation = Callable[[random.Random, bytes], tuple[str, bytes]]
BYTE_MUTATIONS: list[Mutation] = [_flip, _bits, _truncate, _insert, _remove, _huge_length, _huge_varint, _zero_run,
                                  _splice, _empty]
# Weights: the mutations that reach deep into a parse are drawn more often than emptying a file.
_WEIGHTS = [4, 3, 2, 2, 2, 4, 1, 2, 2, 0.3]


def mutate_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    if not data:
        return "left empty", data
    mutation = rng.choices(BYTE_MUTATIONS, _WEIGHTS)[0]
    return mutation(rng, data)


# -- labels mutations -------------------------------------------------------------------------
def mutate_labels(rng: random.Random, text: bytes) -> tuple[str, bytes]:
    lines = text.decode().splitlines()
    choice = rng.randrange(16)
    if choice == 0:
        return "a line dropped", "\n".join(lines[:-1]).encode()
    if choice == 1:
        extra = rng.randint(1, 500)
        return f"{extra} labels added", text + _labels_text([f"extra {i}" for i in range(extra)])
    if choice == 2:
        return "UTF-16", text.decode().encode("utf-16")
    if choice == 3:
        return "Latin-1 names", "0 Unreif\n1 Reif\n2 Überreif\n3 Keine Banane café\n".encode("latin-1")
    if choice == 4:
        return "invalid UTF-8", text.replace(b"Ripe", b"R\xc3\x28pe\xff")
    if choice == 5:
        return "NUL bytes", text.replace(b"\n", b"\x00\n", 2)
    if choice == 6:
        return "CRLF and a BOM", b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n")
    if choice == 7:
        return "a 1 MB line", text + b"4 " + b"x" * MB + b"\n"
    if choice == 8:
        return "empty", b""
    if choice == 9:
        return "blank lines only", b"\n \n\t\n"
    if choice == 10:
        return "an index twice", text + b"1 Again\n"
    if choice == 11:
        index = rng.choice([10**12, 2**63, 10**100, 5_000_000])
        return f"index {index}", text + f"{index} Far away\n".encode()
    if choice == 12:
        return "a negative index", text + b"-1 Minus\n"
    if choice == 13:
        return "binary junk", rng.randbytes(rng.randint(1, 4096))
    if choice == 14:
        return "control characters", "0 a\x1b[31mred\n1 b\x07\n2 c\r\n3 \u202eevil\n".encode()
    return "one label per line without indices, an empty one between", b"a\n\nb\nc\nd\n"


# -- zip mutations ----------------------------------------------------------------------------
def _members(data: bytes) -> list[tuple[str, bytes, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, archive.read(i), i.compress_type) for i in archive.infolist()]


def _patch_sizes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Local and central headers that lie about a member's sizes."""
    out = bytearray(data)
    value = rng.choice([*HUGE, 0, 1, 1024])
    offsets = [(i, 18) for i in _find(out, b"PK\x03\x04")] + [(i, 20) for i in _find(out, b"PK\x01\x02")]
    at, field = rng.choice(offsets)
    field += rng.choice([0, 4])  # compressed or uncompressed size
    out[at + field:at + field + 4] = struct.pack("<I", value)
    return f"header size {value:#x} at {at + field}", bytes(out)


def _find(data: bytearray, signature: bytes) -> list[int]:
    found, at = [], data.find(signature)
    while at >= 0:
        found.append(at)
        at = data.find(signature, at + 1)
    return found or [0]


def mutate_zip(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    members = _members(data)
    model = next(n for n, (name, _, _) in enumerate(members) if name.endswith((".tflite", ".onnx")))
    choice = rng.randrange(15)
    if choice <= 2:
        return mutate_bytes(rng, data)
    if choice == 3:
        return _patch_sizes(rng, data)
    if choice <= 5:
        name, content, method = members[model]
        what, mutated = mutate_bytes(rng, content)
        members[model] = (name, mutated, method)
        return f"{name}: {what}", _zip(members)
    if choice == 6:
        labels = next((n for n, (name, _, _) in enumerate(members) if name.endswith(".txt")), None)
        if labels is not None:
            name, content, method = members[labels]
            what, mutated = mutate_labels(rng, content)
            members[labels] = (name, mutated, method)
            return f"{name}: {what}", _zip(members)
        return "no labels to change", data
    if choice == 7 and len(members) > 1:
        (a, ca, ma), (b, cb, mb) = members[0], members[1]
        members[0], members[1] = (a, cb, ma), (b, ca, mb)
        return f"{a} and {b} swapped", _zip(members)
    if choice == 8:
        dropped = members.pop(rng.randrange(len(members)))
        return f"{dropped[0]} removed", _zip(members)
    if choice == 9:
        name, content, _ = members[model]
        method = rng.choice([zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_STORED])
        members[model] = (name, content, method)
        return f"{name} compressed with method {method}", _zip(members)
    if choice == 10:
        name, _, method = members[model]
        members[model] = (name, rng.choice([b"", b"\x1c\0\0\0TFL3" + bytes(BOMB_BYTES), bytes(BOMB_BYTES)]),
                          zipfile.ZIP_DEFLATED)
        return f"{name} emptied or made a zip bomb", _zip(members)
    if choice == 11:
        name, content, method = members[model]
        members.append((name, content[: len(content) // 2], method))
        return f"{name} twice, the second cut short", _zip(members)
    if choice == 12:
        name, content, method = members[model]
        members[model] = (name, data, method)
        return f"{name} is the zip itself", _zip(members)
    if choice == 13:
        out = bytearray(data)
        for at in _find(out, b"PK\x01\x02"):  # bit 0 of the flags: a password is needed
            out[at + 8] |= 1
        return "members marked encrypted", bytes(out)
    many = [(f"junk/{i}.txt", b"x", zipfile.ZIP_STORED) for i in range(2000)]
    return "2000 more members", _zip(members + many)


# -- models that crash LiteRT ----------------------------------------------------------------
def _field(model: bytes, field: int) -> int:
    """Where the root table's vtable keeps the offset of ``field`` (flatbuffers: the root offset
    at 0, the vtable at the table's position minus the int32 stored there)."""
    root = struct.unpack_from("<I", model, 0)[0]
    vtable = root - struct.unpack_from("<i", model, root)[0]
    return vtable + 4 + 2 * field


def without_subgraphs(tflite: bytes) -> bytes:
    """The model with its Model.subgraphs field (field 2 in schema.fbs) absent. LiteRT 2.3's verifier
    lets it through and its interpreter builder then dereferences the missing vector: a segfault."""
    out = bytearray(tflite)
    at = _field(tflite, 2)
    out[at:at + 2] = b"\0\0"
    return bytes(out)


def reshape_without_shape() -> bytes:
    """A RESHAPE whose shape input is -1, TFLite's mark of an absent optional input: LiteRT 2.3
    segfaults preparing it. The fuzzer found this on a real MobileNet (one input index set to
    0xffffffff); this is the smallest model that does it."""
    import numpy as np

    from edgetm.train.export_tflite import FlatbufferGraph

    g = FlatbufferGraph()
    x = g.tensor("input", (1, 2, 2, 3), np.float32)
    y = g.tensor("output", (1, 12), np.float32)
    g.op(g.S.BuiltinOperator.RESHAPE, [x, -1], [y])
    return g.finish([x], [y])


# -- cases ------------------------------------------------------------------------------------
def case(seed: int, number: int, zoo: Path | None = None) -> Case:
    """Case ``number`` of the run seeded ``seed``: seeds in turn, a mutation drawn for each."""
    available = seeds(zoo)
    name = sorted(available)[number % len(available)]
    files, target = available[name]
    rng = random.Random(f"{seed}:{number}")  # noqa: S311 - reproducible mutations, not secrets
    files = dict(files)
    if name == "labels":
        what, files["labels.txt"] = mutate_labels(rng, files["labels.txt"])
    else:
        member = target
        mutate = mutate_zip if member.endswith((".zip", ".task")) else mutate_bytes
        what, files[member] = mutate(rng, files[member])
    return Case(number, name, what, files, target)


def cases(seed: int, count: int, zoo: Path | None = None) -> Iterator[Case]:
    for number in range(count):
        yield case(seed, number, zoo)
