"""Progress on folders and video files: "37/120 images" redrawn in place on a terminal, nothing in a pipe."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from edgetm.logs import StatusLine
from tests.conftest import DEMO, ROOT, write_video
from tests.test_cli import run_cli

ERASE = "\r\x1b[K"


def in_a_terminal(*args: str, timeout_s: float = 120.0) -> tuple[int, str]:
    """Run edgetm with stdout and stderr on a pseudo-terminal, as in a shell; what the terminal got."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "edgetm", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=terminal, stderr=terminal)
    os.close(terminal)
    received = b""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the other end is closed: the process has gone
                    break
                if not chunk:
                    break
                received += chunk
            elif process.poll() is not None:
                break
        status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        process.kill()
        os.close(controller)
    return status, received.decode(errors="replace").replace("\r\n", "\n")


def test_the_status_line_is_erased_around_other_output():
    stream = io.StringIO()
    status = StatusLine(stream, enabled=True)
    status.show("1/3 images", force=True)
    with status.above():
        stream.write("a result\n")
    status.show("2/3 images", force=True)
    status.show("3/3 images")  # within REDRAW_S of the last: not drawn
    status.show("3/3 images", force=True)
    status.clear()
    assert stream.getvalue() == (f"{ERASE}1/3 images" f"{ERASE}a result\n1/3 images" f"{ERASE}2/3 images"
                                 f"{ERASE}3/3 images" f"{ERASE}")


def test_nothing_is_drawn_unless_enabled():
    stream = io.StringIO()
    status = StatusLine(stream, enabled=False)
    status.show("1/3 images", force=True)
    with status.above():
        stream.write("x\n")
    status.clear()
    assert stream.getvalue() == "x\n"


def test_classify_a_folder_in_a_terminal_shows_how_far_it_is():
    samples = sorted((DEMO / "samples").glob("*.jpg"))
    status, screen = in_a_terminal("classify", str(DEMO), str(DEMO / "samples"))
    assert status == 0, screen
    assert f"{ERASE}{len(samples)}/{len(samples)} images" in screen
    assert f"{ERASE}1/{len(samples)} images" in screen or f"{ERASE}2/{len(samples)} images" in screen
    assert screen.endswith(ERASE)  # taken away at the end
    # Every result line is whole, the progress erased before it.
    results = [line.split(ERASE)[-1] for line in screen.split("\n") if "ms" in line]
    assert len(results) == len(samples) and all(r.startswith(str(DEMO / "samples")) for r in results), screen


def test_classify_in_a_pipe_shows_no_progress():
    result = run_cli("classify", str(DEMO), str(DEMO / "samples"))
    assert result.returncode == 0
    assert "\r" not in result.stderr and "images" not in result.stderr and "\r" not in result.stdout


def test_run_on_a_video_file_in_a_terminal_shows_frames(tmp_path: Path):
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=60, fps=30.0)
    status, screen = in_a_terminal("run", str(DEMO), "--source", str(video), "--max-fps", "60", "-q")
    assert status == 0, screen
    shown = [part.split("\n")[0] for part in screen.split(ERASE) if " frames" in part.split("\n")[0]]
    assert shown and all(s.endswith("/120 frames") for s in shown), shown
    lines = [line.split(ERASE)[-1] for line in screen.split("\n")]
    lines = [line for line in lines if line]
    assert len(lines) == 120 and all(line.startswith('{"source"') for line in lines), lines[:3]


def test_run_on_a_folder_in_a_pipe_shows_no_progress():
    result = run_cli("run", str(DEMO), "--source", str(DEMO / "samples"))
    assert result.returncode == 0 and "\r" not in result.stderr and "images" not in result.stderr
