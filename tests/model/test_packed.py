"""edgetm's reader of the files packed into a TFLite model finds what zipfile finds."""

from __future__ import annotations

import io
import random
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from edgetm.model.labels import MAX_LABELS_BYTES, tflite_associated_files
from edgetm.model.packed import packed_files
from tests.audiokit import tm_sound_tflite
from tests.conftest import DEMO, ZOO


def zipfile_reading(content: bytes, budget: int = MAX_LABELS_BYTES) -> dict[str, bytes]:
    """What edgetm read with zipfile before: every stored or deflated, unencrypted member within
    the budget, or nothing from an archive zipfile refuses."""
    found: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist():
                if info.filename.endswith("/") or info.file_size > budget or \
                        info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
                    continue
                budget -= info.file_size
                found[info.filename] = archive.read(info)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError):
        return {}
    return found


def appended(members: list[tuple[str, bytes, int]], prefix: bytes = b"TFL3" * 100, comment: bytes = b"") -> bytes:
    """``prefix`` (a model) with a zip archive of ``members`` (name, data, compression) after it."""
    packed = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(packed, "w") as archive:
        warnings.simplefilter("ignore")  # a duplicate name is made on purpose
        for name, data, compression in members:
            archive.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data, compress_type=compression)
        archive.comment = comment
    return prefix + packed.getvalue()


def models(tmp_path: Path) -> list[bytes]:
    paths = [*sorted(DEMO.glob("*.tflite")), tm_sound_tflite(tmp_path)]
    paths += sorted(ZOO.rglob("*.tflite")) if ZOO.is_dir() else []
    return [path.read_bytes() for path in paths]


def made() -> list[bytes]:
    labels = "\n".join(f"{i} class {i}" for i in range(300)).encode()
    return [
        appended([("labels.txt", labels, zipfile.ZIP_STORED)]),
        appended([("labels.txt", labels, zipfile.ZIP_DEFLATED), ("metadata.yaml", b"names: {0: a}", 8)]),
        appended([("folder/", b"", 0), ("ünïcode.txt", b"x", 0), ("a.txt", b"1", 0), ("a.txt", b"2", 8)]),
        appended([("big.txt", labels * 4, zipfile.ZIP_BZIP2), ("small.txt", b"kept", 0)]),
        appended([("labels.txt", labels, 0)], comment=b"a comment" * 100),
        appended([("labels.txt", labels, 0)], prefix=b""),
    ]


def test_models_and_made_archives_read_as_zipfile_reads_them(tmp_path: Path):
    contents = models(tmp_path) + made()
    assert tflite_associated_files((DEMO / "model_unquant.tflite").read_bytes())["labels.txt"].startswith(b"Unripe\n")
    for content in contents:
        assert packed_files(content, MAX_LABELS_BYTES) == zipfile_reading(content)
    assert packed_files(made()[0], 100) == {} == zipfile_reading(made()[0], 100)  # beyond the budget: left out
    assert packed_files(b"no archive here", 1000) == {}


def test_an_encrypted_member_is_left_out():
    content = bytearray(appended([("secret.txt", b"s", 0), ("labels.txt", b"0 a", 0)]))
    central = content.index(b"PK\x01\x02")
    content[central + 8] |= 0x1  # the first member's flags in the central directory
    assert packed_files(bytes(content), 1000) == {"labels.txt": b"0 a"} == zipfile_reading(bytes(content), 1000)


@pytest.mark.parametrize("seed", range(3))
def test_damaged_archives_give_nothing_or_only_what_is_intact(tmp_path: Path, seed: int):
    """Where zipfile refuses a whole archive for a damaged field it checks and this reader does
    not need (an extra field's length), the members whose bytes pass their CRC still come."""
    rng = random.Random(seed)  # noqa: S311 - damage to test with, not a secret
    for content in made() + models(tmp_path)[:2]:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:  # every member, duplicates too
            intact = [archive.read(info) for info in archive.infolist()]
        tail = max(0, len(content) - 4096)
        for _ in range(60):
            damaged = bytearray(content)
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(tail, len(damaged))] = rng.randrange(256)
            damaged = damaged[:len(damaged) - rng.choice([0, 0, 0, 1, 7, 40])]
            ours = packed_files(bytes(damaged), MAX_LABELS_BYTES)  # never raises
            assert all(data in intact for data in ours.values())
            theirs = zipfile_reading(bytes(damaged))
            assert set(theirs.values()) <= set(intact) and (len(ours) >= len(theirs) or ours == {})
