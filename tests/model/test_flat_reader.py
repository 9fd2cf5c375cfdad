"""edgetm's flatbuffer table reader reads TFLite models as the flatbuffers runtime does."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from flatbuffers import number_types
from flatbuffers.table import Table as Reference

from edgetm.model import metadata
from tests.audiokit import tm_sound_tflite
from tests.conftest import DEMO, ZOO

_FLAGS = {metadata._U8: number_types.Uint8Flags, metadata._U16: number_types.Uint16Flags,
          metadata._I32: number_types.Int32Flags, metadata._U32: number_types.Uint32Flags}


class _Theirs(Reference):
    """flatbuffers' own Table, with the one reading helper edgetm's adds."""

    def _get(self, kind, at):
        return self.Get(_FLAGS[kind], at)


def _read(content: bytes) -> tuple:
    try:
        found = metadata.tflite_metadata(content)
        audio = metadata.audio_properties(found.get(metadata.METADATA_NAME, b""))
        return metadata.subgraph_count(content), found, audio
    except Exception as error:  # a corrupt model: that both refuse it is what is compared
        return "refused", type(error).__name__ in ("error", "TypeError", "IndexError", "ValueError")


def _models(tmp_path: Path) -> list[Path]:
    found = [*sorted(DEMO.glob("*.tflite")), tm_sound_tflite(tmp_path)]
    return found + (sorted(ZOO.rglob("*.tflite")) if ZOO.is_dir() else [])


def test_every_model_and_corruptions_of_it_read_the_same(tmp_path: Path, monkeypatch):
    rng = random.Random(7)  # noqa: S311 - damage to test with, not a secret
    contents = []
    for path in _models(tmp_path):
        content = path.read_bytes()
        contents.append(content)
        for _ in range(20):  # a few bytes changed near the start, where the tables and offsets are
            damaged = bytearray(content[:8192])
            for _ in range(4):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            contents.append(bytes(damaged))
    mine = [_read(c) for c in contents]
    monkeypatch.setattr(metadata, "Table", _Theirs)
    theirs = [_read(c) for c in contents]
    assert mine == theirs
    assert any(audio for _, _, audio in [m for m in mine if len(m) == 3]), "no model with audio properties read"


def test_a_negative_position_is_an_error_not_a_read_from_the_end():
    with pytest.raises(struct.error):
        metadata.Table(b"\x00" * 16, 0).Indirect(-4)
