"""Progress on stderr while a long command works."""

from __future__ import annotations

import sys


class Progress:
    """One bar on stderr, redrawn in place on a terminal; elsewhere a line every tenth."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.shown = -1
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, tail: str = "") -> None:
        tenth = done * 10 // max(total, 1)
        if not self.tty and tenth == self.shown and done != total:
            return
        self.shown = tenth
        bar = "#" * (done * 20 // max(total, 1))
        line = f"{self.what:10s} [{bar:20s}] {done}/{total} {tail}"
        print(f"\r{line}" if self.tty else line, end="" if self.tty and done < total else "\n", file=sys.stderr,
              flush=True)


