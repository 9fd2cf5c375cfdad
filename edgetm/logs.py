"""Where edgetm's own log lines go, and how the native libraries below it are kept quiet."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

# Native libraries' own log lines would surround edgetm's one-line errors and repeat at every
# attempt to reopen a camera. Set for the edgetm program before any of them loads, and only where
# the user has not set them (OPENCV_LOG_LEVEL=INFO shows OpenCV's again).
QUIET_NATIVE_LIBRARIES = {
    # "[ WARN:0@0.016] global cap_v4l.cpp:914 open VIDEOIO(V4L2:/dev/video7) ...", and its errors too
    # ("[ERROR:0@0.012] global grfmt_png.cpp:297 readHeader ..."): edgetm says what failed itself.
    "OPENCV_LOG_LEVEL": "FATAL",
    "OPENCV_FFMPEG_LOGLEVEL": "-8",  # AV_LOG_QUIET: FFmpeg's "[mov,mp4,...] moov atom not found"
    # OpenCV's own AVI reader, tried when FFmpeg cannot open a file, prints to stderr directly
    # ("Unexpected list type. Expected: hdrl"); FFmpeg reads every AVI file it can.
    "OPENCV_VIDEOIO_PRIORITY_CV_MJPEG": "0",
}
LOG_FORMAT = "edgetm: %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "edgetm"


def stderr_is_journal() -> bool:
    """True when stderr is systemd's journal: systemd sets JOURNAL_STREAM to its device and inode,
    and it is the journal only while stderr's still match (the variable is inherited by programs
    whose stderr goes elsewhere)."""
    try:
        device, inode = (int(part) for part in os.environ["JOURNAL_STREAM"].split(":"))
        status = os.fstat(sys.stderr.fileno())
    except (KeyError, ValueError, OSError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (device, inode)


class StatusLine:
    """One line of progress at the bottom of a terminal ("37/120 images"), redrawn in place on
    stderr; whatever else is written to the terminal goes ``above()`` it (erased first, redrawn
    after). Shown only while both stdout and stderr are a terminal: in a pipe or a file, progress
    would be noise among the results or the log. Redrawn at most every ``REDRAW_S``."""

    REDRAW_S = 0.1  # ten times a second reads as live without making the terminal the bottleneck
    _ERASE = "\r\x1b[K"  # back to the start of the line, and clear it (VT100, every terminal since)

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self._stream = stream
        self._enabled = enabled
        self._text = ""
        self._drawn_at = 0.0
        self._lock = threading.RLock()

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # looked up when used: tests and callers may replace sys.stderr

    @property
    def enabled(self) -> bool:
        if self._enabled is not None:
            return self._enabled
        try:
            return sys.stdout.isatty() and self.stream.isatty()
        except (AttributeError, ValueError):  # closed, or no file at all
            return False

    def show(self, text: str, force: bool = False) -> None:
        """Show ``text`` as the status (skipped if the last redraw was under ``REDRAW_S`` ago, unless ``force``)."""
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            self._text = text
            if force or now - self._drawn_at >= self.REDRAW_S:
                self._drawn_at = now
                self._write(self._ERASE + text)

    def clear(self) -> None:
        """Take the status line away (at the end)."""
        with self._lock:
            if self._text:
                self._text = ""
                self._write(self._ERASE)

    @contextlib.contextmanager
    def above(self) -> Iterator[None]:
        """Write something else to the terminal: the status is erased first and drawn again after."""
        with self._lock:
            shown = self._text
            if shown:
                self._write(self._ERASE)
            try:
                yield
            finally:
                if shown:
                    self._write(shown)

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a terminal gone away is no reason to stop
            self.stream.write(text)
            self.stream.flush()


# The program's one status line: the log handler and the result writers go above it.
STATUS = StatusLine()


class _Handler(logging.StreamHandler):
    """stderr, above the status line."""

    def emit(self, record: logging.LogRecord) -> None:
        with STATUS.above():
            super().emit(record)


def setup_logging(level: str = "warning") -> None:
    """edgetm's log lines on stderr, from ``level`` up, each with the time unless stderr is the
    journal (which stamps every line itself). A program that set up logging before calling edgetm
    (or a test runner) keeps its own."""
    root = logging.getLogger()
    ours = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if ours is None:
        if root.handlers:
            return
        ours = _Handler()
        ours.set_name(HANDLER_NAME)
        root.addHandler(ours)
    stamp = "" if stderr_is_journal() else "%(asctime)s.%(msecs)03d "
    ours.setFormatter(logging.Formatter(stamp + LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root.setLevel(level.upper())
