"""What TFLite's metadata (the ``TFLITE_METADATA`` buffer, a ``ModelMetadata`` flatbuffer from
TFLite Support's metadata_schema.fbs) says about a model's input: for sound models, the sample
rate and channels of ``AudioProperties``.

Only the few fields needed are read, by their slot in the schema, with ``Table``: the part of the
``flatbuffers`` runtime's table reader used here, which reads the format as its specification fixes it
(importing the package took 2.4 ms of a start). A buffer that does not parse is treated as absent.
"""

from __future__ import annotations

import struct
from enum import Enum

from edgetm.records import Record

METADATA_NAME = "TFLITE_METADATA"
# edgetm's own metadata buffer: a JSON object saying which built-in features a head-only model
# takes ({"features": "builtin-image-v1", "size": 162, ...}), so that they are made in front of it.
FEATURES_NAME = "edgetm_features"
MAX_FEATURES_BYTES = 4096
# Metadata (TFLite's buffers, Ultralytics' metadata.yaml) is kilobytes; more is not metadata.
MAX_METADATA_BYTES = 1 << 20


class BuiltinFeatures(str, Enum):
    """The features edgetm makes without a model, each named by a version: a head trained on one
    version must be fed the same one."""

    IMAGE = "builtin-image-v1"  # vision/descriptor.py
    SOUND = "builtin-sound-v1"  # audio/features.py, LogMelStatistics
    POSE = "builtin-pose-v1"  # pose/features.py
AUDIO_PROPERTIES = 4  # ContentProperties union: FeatureProperties 1, ImageProperties 2, BoundingBox 3, Audio 4

# Field ids in metadata_schema.fbs.
_SUBGRAPH_METADATA = 3  # ModelMetadata.subgraph_metadata
_INPUT_TENSOR_METADATA = 2  # SubGraphMetadata.input_tensor_metadata
_CONTENT = 3  # TensorMetadata.content
_PROPERTIES_TYPE, _PROPERTIES = 0, 1  # Content.content_properties (a union: its type, then the table)
_SAMPLE_RATE, _CHANNELS = 0, 1  # AudioProperties


class AudioProperties(Record):
    sample_rate: int
    channels: int


_U8, _U16, _I32, _U32 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<i"), struct.Struct("<I")


class Table:
    """A flatbuffer table at ``pos`` of ``buffer``, read as ``flatbuffers.table.Table`` reads it
    (offsets unchecked, as the generated readers leave them; a read outside the buffer, or at a
    negative position, raises ``struct.error``)."""

    __slots__ = ("Bytes", "Pos")

    def __init__(self, buffer: bytes | bytearray, pos: int) -> None:
        self.Bytes = buffer
        self.Pos = pos

    def _get(self, kind: struct.Struct, at: int) -> int:
        if at < 0:
            raise struct.error(f"offset {at} is before the buffer")
        return kind.unpack_from(self.Bytes, at)[0]

    def Offset(self, slot: int) -> int:
        """The field at vtable ``slot``'s offset from the table, 0 when absent."""
        vtable = self.Pos - self._get(_I32, self.Pos)
        return self._get(_U16, vtable + slot) if slot < self._get(_U16, vtable) else 0

    def Indirect(self, at: int) -> int:
        return at + self._get(_U32, at)

    def Vector(self, offset: int) -> int:
        """Where the vector at field ``offset`` starts (past its length)."""
        at = offset + self.Pos
        return at + self._get(_U32, at) + 4

    def VectorLen(self, offset: int) -> int:
        at = offset + self.Pos
        return self._get(_U32, at + self._get(_U32, at))

    def String(self, at: int) -> bytes:
        at += self._get(_U32, at)
        return bytes(self.Bytes[at + 4:at + 4 + self._get(_U32, at)])


def _slot(field: int) -> int:
    return 4 + 2 * field


def _table(table, field: int):
    """The sub-table in ``field`` of ``table``, or None."""
    offset = table.Offset(_slot(field))
    return Table(table.Bytes, table.Indirect(offset + table.Pos)) if offset else None


def _first_in_vector(table, field: int):
    offset = table.Offset(_slot(field))
    if not offset or table.VectorLen(offset) == 0:
        return None
    return Table(table.Bytes, table.Indirect(table.Vector(offset)))


def _uint(table, field: int) -> int:
    offset = table.Offset(_slot(field))
    return table._get(_U32, offset + table.Pos) if offset else 0


def audio_properties(metadata: bytes) -> AudioProperties | None:
    """The first input's AudioProperties in a ModelMetadata buffer, if it has them."""
    if not metadata:
        return None
    try:
        buffer = bytearray(metadata)
        root = Table(buffer, int.from_bytes(buffer[:4], "little"))
        subgraph = _first_in_vector(root, _SUBGRAPH_METADATA)
        tensor = subgraph and _first_in_vector(subgraph, _INPUT_TENSOR_METADATA)
        content = tensor and _table(tensor, _CONTENT)
        if content is None:
            return None
        kind_offset = content.Offset(_slot(_PROPERTIES_TYPE))
        kind = content._get(_U8, kind_offset + content.Pos) if kind_offset else 0
        properties = _table(content, _PROPERTIES)
        if kind != AUDIO_PROPERTIES or properties is None:
            return None
        return AudioProperties(_uint(properties, _SAMPLE_RATE), _uint(properties, _CHANNELS))
    except (IndexError, ValueError, TypeError, struct.error):  # not a metadata flatbuffer we can read
        return None


# Field ids in LiteRT's schema.fbs (read by slot as above: the generated reader for the whole
# schema takes longer to import than loading the demo model does).
_MODEL_SUBGRAPHS, _MODEL_BUFFERS, _MODEL_METADATA = 2, 4, 6  # Model
_METADATA_NAME, _METADATA_BUFFER = 0, 1  # Metadata
_BUFFER_DATA = 0  # Buffer


def _model_root(content: bytes):
    return Table(content, int.from_bytes(content[:4], "little"))


def _vector_length(table, field: int) -> int:
    offset = table.Offset(_slot(field))
    return table.VectorLen(offset) if offset else 0


def _vector_table(table, field: int, index: int):
    """The ``index``-th table of the vector in ``field`` (unchecked, as the generated reader reads it)."""
    offset = table.Offset(_slot(field))
    return Table(table.Bytes, table.Indirect(table.Vector(offset) + 4 * index)) if offset else None


def subgraph_count(content: bytes) -> int:
    """How many subgraphs a TFLite model says it has (raises on a buffer too short to say)."""
    return _vector_length(_model_root(content), _MODEL_SUBGRAPHS)


def tflite_metadata(content: bytes) -> dict[str, bytes]:
    """A TFLite model's metadata buffers by name."""
    try:
        model = _model_root(content)
        found = {}
        for i in range(_vector_length(model, _MODEL_METADATA)):
            entry = _vector_table(model, _MODEL_METADATA, i)
            name_offset = entry.Offset(_slot(_METADATA_NAME))
            name = entry.String(name_offset + entry.Pos) if name_offset else None
            data = _vector_table(model, _MODEL_BUFFERS, _uint(entry, _METADATA_BUFFER))
            length = _vector_length(data, _BUFFER_DATA) if data is not None else 0
            # Only small buffers are copied: a corrupt model's entry may point at its weights.
            if name and data is not None and 0 < length <= MAX_METADATA_BYTES:
                start = data.Vector(data.Offset(_slot(_BUFFER_DATA)))
                found[name.decode("utf-8", "replace")] = bytes(content[start:start + length])
        return found
    except Exception:
        return {}


def features_metadata(data: bytes) -> dict | None:
    """The ``FEATURES_NAME`` buffer as a dict with a string ``features``, or None."""
    import json

    if not data or len(data) > MAX_FEATURES_BYTES:
        return None
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("features"), str):
        return None
    return parsed
