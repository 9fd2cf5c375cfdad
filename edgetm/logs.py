"""Where edgetm's own log lines go, and how the native libraries below it are kept quiet."""

from __future__ import annotations

import logging
import os
import sys

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


def setup_logging(level: str = "warning") -> None:
    """edgetm's log lines on stderr, from ``level`` up, each with the time unless stderr is the
    journal (which stamps every line itself). A program that set up logging before calling edgetm
    (or a test runner) keeps its own."""
    root = logging.getLogger()
    ours = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if ours is None:
        if root.handlers:
            return
        ours = logging.StreamHandler()
        ours.set_name(HANDLER_NAME)
        root.addHandler(ours)
    stamp = "" if stderr_is_journal() else "%(asctime)s.%(msecs)03d "
    ours.setFormatter(logging.Formatter(stamp + LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root.setLevel(level.upper())
