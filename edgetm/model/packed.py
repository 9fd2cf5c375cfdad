"""Files packed into a TFLite model: the zip archive its metadata writer appends after the
flatbuffer (Teachable Machine's labels.txt, Ultralytics' metadata), read without ``zipfile``.

``zipfile`` and the ``shutil``, ``bz2`` and ``lzma`` it imports took 4-5 ms of every start that
loads a Teachable Machine export, longer than loading the model. This reader takes the part of the
format the writers use: members stored or deflated, found through the central directory at the
end (with data before the archive, as here), each checked as ``zipfile`` checks it when read
(local header, name, CRC-32). An archive it cannot read gives nothing, as a corrupt one did.
"""

from __future__ import annotations

import struct
from binascii import crc32

# A zip archive ends with this record within its last 65,557 bytes (22, and a comment of up to 65,535).
ZIP_END = b"PK\x05\x06"
ZIP_END_SPAN = 22 + 65_535
_END = struct.Struct("<4s4H2LH")  # signature, disks, entries here and in all, directory size and offset, comment
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # a member in the central directory
_LOCAL = struct.Struct("<4s5H3L2H")  # the header before a member's data
_CENTRAL_SIGNATURE, _LOCAL_SIGNATURE = b"PK\x01\x02", b"PK\x03\x04"
_STORED, _DEFLATED = 0, 8
_ENCRYPTED, _PATCHED, _UTF8 = 0x1, 0x20, 0x800  # flag bits
_ZIP64 = 0xFFFFFFFF  # a size or offset kept in a ZIP64 record instead: no writer of models needs one


class _Corrupt(Exception):
    pass


def packed_files(content: bytes, budget: int) -> dict[str, bytes]:
    """Every member of the archive at the end of ``content`` by name, those stored or deflated and
    unencrypted, while their sizes sum to at most ``budget``; {} when there is none or it is
    corrupt."""
    tail_start = max(0, len(content) - ZIP_END_SPAN)
    at = content.rfind(ZIP_END, tail_start)
    if at < 0:
        return {}
    try:
        return _members(memoryview(content), at, budget)
    except (_Corrupt, struct.error, UnicodeDecodeError):
        return {}


def _members(content: memoryview, end_at: int, budget: int) -> dict[str, bytes]:
    if end_at + _END.size > len(content):
        raise _Corrupt
    _, disk, _, _, count, size, offset, _ = _END.unpack_from(content, end_at)
    if disk != 0 or _ZIP64 in (size, offset):
        raise _Corrupt  # a split or ZIP64 archive
    # Offsets count from the archive's start, which is later than the file's when data comes first.
    shift = end_at - size - offset
    if shift < 0:
        raise _Corrupt
    at = offset + shift
    found: dict[str, bytes] = {}
    for _ in range(count):
        (signature, _, _, flags, method, _, _, crc, packed, unpacked, name_length, extra_length, comment_length,
         _, _, _, local) = _CENTRAL.unpack_from(content, at)
        if signature != _CENTRAL_SIGNATURE:
            raise _Corrupt
        raw_name = content[at + _CENTRAL.size:at + _CENTRAL.size + name_length].tobytes()
        at += _CENTRAL.size + name_length + extra_length + comment_length
        name = raw_name.decode("utf-8" if flags & _UTF8 or raw_name.isascii() else "cp437")  # cp437 is ASCII's superset
        if name.endswith("/") or unpacked > budget or method not in (_STORED, _DEFLATED) or flags & _ENCRYPTED:
            continue
        if _ZIP64 in (packed, unpacked, local) or flags & _PATCHED:
            raise _Corrupt
        budget -= unpacked
        found[name] = _member(content, local + shift, raw_name, method, crc, packed, unpacked)
    return found


def _member(content: memoryview, at: int, raw_name: bytes, method: int, crc: int, packed: int,
            unpacked: int) -> bytes:
    signature, _, _, _, _, _, _, _, _, name_length, extra_length = _LOCAL.unpack_from(content, at)
    if signature != _LOCAL_SIGNATURE or content[at + _LOCAL.size:at + _LOCAL.size + name_length] != raw_name:
        raise _Corrupt
    start = at + _LOCAL.size + name_length + extra_length
    data = content[start:start + packed]
    if len(data) != packed:
        raise _Corrupt
    if method == _DEFLATED:
        import zlib  # not at import: the writers of models store their files

        try:
            data = zlib.decompressobj(-15).decompress(data, unpacked)  # never more than the stated size
        except zlib.error:
            raise _Corrupt from None
    else:
        data = data.tobytes()
    if len(data) != unpacked or crc32(data) != crc:
        raise _Corrupt
    return data
