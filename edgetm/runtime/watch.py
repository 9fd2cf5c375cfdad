"""Noticing that a model file was replaced, once the new one is complete.

A file being copied or exported changes size and modification time while it is written. A watch
reports a change only once the file's (or a folder's files') size and time have stayed the same
for ``settle_s``, and reports each settled version once.
"""

from __future__ import annotations

import time
from pathlib import Path

SETTLE_S = 2.0  # a copy over the network pauses for well under this between writes
MAX_FILES = 1000  # a model folder holds a handful of files; anything bigger is not one


def signature(path: Path) -> tuple | None:
    """What changes when the model changes: sizes and modification times (None: not there)."""
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())[:MAX_FILES]
            return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
        info = path.stat()
        return (info.st_size, info.st_mtime_ns)
    except OSError:
        return None


class FileWatch:
    def __init__(self, path: str | Path, settle_s: float = SETTLE_S) -> None:
        self.path = Path(path)
        self.settle_s = settle_s
        self._reported = signature(self.path)
        self._seen = self._reported
        self._seen_at = time.monotonic()

    def changed(self) -> bool:
        """True once for each new version of the file that has stayed unchanged for ``settle_s``."""
        now = time.monotonic()
        current = signature(self.path)
        if current != self._seen:
            self._seen, self._seen_at = current, now
            return False
        if current is None or current == self._reported or now - self._seen_at < self.settle_s:
            return False
        self._reported = current
        return True
