"""What TFLite's metadata (the ``TFLITE_METADATA`` buffer, a ``ModelMetadata`` flatbuffer from
TFLite Support's metadata_schema.fbs) says about a model's input: for sound models, the sample
rate and channels of ``AudioProperties``.

Only the few fields needed are read, by their slot in the schema, with the ``flatbuffers``
runtime LiteRT already depends on; a buffer that does not parse is treated as absent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

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


@dataclass(frozen=True)
class AudioProperties:
    sample_rate: int
    channels: int


def _slot(field: int) -> int:
    return 4 + 2 * field


def _table(table, field: int):
    """The sub-table in ``field`` of ``table``, or None."""
    from flatbuffers.table import Table

    offset = table.Offset(_slot(field))
    return Table(table.Bytes, table.Indirect(offset + table.Pos)) if offset else None


def _first_in_vector(table, field: int):
    from flatbuffers.table import Table

    offset = table.Offset(_slot(field))
    if not offset or table.VectorLen(offset) == 0:
        return None
    return Table(table.Bytes, table.Indirect(table.Vector(offset)))


def _uint(table, field: int) -> int:
    from flatbuffers import number_types

    offset = table.Offset(_slot(field))
    return table.Get(number_types.Uint32Flags, offset + table.Pos) if offset else 0


def audio_properties(metadata: bytes) -> AudioProperties | None:
    """The first input's AudioProperties in a ModelMetadata buffer, if it has them."""
    from flatbuffers import number_types
    from flatbuffers.table import Table

    try:
        buffer = bytearray(metadata)
        root = Table(buffer, int.from_bytes(buffer[:4], "little"))
        subgraph = _first_in_vector(root, _SUBGRAPH_METADATA)
        tensor = subgraph and _first_in_vector(subgraph, _INPUT_TENSOR_METADATA)
        content = tensor and _table(tensor, _CONTENT)
        if content is None:
            return None
        kind_offset = content.Offset(_slot(_PROPERTIES_TYPE))
        kind = content.Get(number_types.Uint8Flags, kind_offset + content.Pos) if kind_offset else 0
        properties = _table(content, _PROPERTIES)
        if kind != AUDIO_PROPERTIES or properties is None:
            return None
        return AudioProperties(_uint(properties, _SAMPLE_RATE), _uint(properties, _CHANNELS))
    except (IndexError, ValueError, TypeError, struct.error):  # not a metadata flatbuffer we can read
        return None


def tflite_metadata(content: bytes) -> dict[str, bytes]:
    """A TFLite model's metadata buffers by name."""
    try:
        from ai_edge_litert import schema_py_generated as schema

        model = schema.Model.GetRootAs(content, 0)
        found = {}
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            data = model.Buffers(entry.Buffer())
            # Only small buffers are copied: a corrupt model's entry may point at its weights.
            if entry.Name() and data is not None and 0 < data.DataLength() <= MAX_METADATA_BYTES:
                found[entry.Name().decode("utf-8", "replace")] = data.DataAsNumpy().tobytes()
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
