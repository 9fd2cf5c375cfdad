"""Sources. Cameras are faked at the OpenCV boundary (cv2.VideoCapture) and picamera2 at its module."""

import itertools
import sys
import threading
import time
import types
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from edgetm.capture import (
    Delivery,
    EndOfStream,
    SourceState,
    open_source,
    parse_source,
)
from edgetm.capture.camera import CameraOptions, CameraSource
from edgetm.capture.images import ImagesOptions
from edgetm.capture.network import NetworkOptions
from edgetm.capture.picamera import Picamera2Options
from edgetm.capture.video import VideoOptions
from edgetm.errors import ConfigError, ImageError, SourceError
from tests.camerakit import FakeCamera, install, wait_until
from tests.conftest import DEMO

# The shortest delays the options allow, so that failures and recoveries take a fraction of a second.
FAST = {"reconnect_initial_s": 0.1, "reconnect_max_s": 0.2, "stale_after_s": 0.5}


@pytest.fixture
def camera(monkeypatch) -> FakeCamera:
    return install(monkeypatch)


def test_parse_source_strings(tmp_path: Path):
    assert parse_source("camera:2").device == 2
    assert parse_source("camera").device == 0
    assert parse_source("/dev/video1").device == "/dev/video1"
    assert parse_source("picamera2:1").camera == 1
    assert parse_source("rtsp://cam.local/stream").type == "network"
    assert parse_source("https://example.org/video.mjpg").type == "network"
    assert parse_source(str(tmp_path / "clip.mp4")).type == "video"
    assert parse_source(str(DEMO / "samples")).type == "images"
    assert parse_source(str(DEMO / "samples" / "*.jpg")).type == "images"
    with pytest.raises(ConfigError, match="unknown source 'nowhere'"):
        parse_source("nowhere")


def test_stream_urls_carry_no_password():
    with pytest.raises(ConfigError, match="contains a password"):
        NetworkOptions(url="rtsp://admin:hunter2@cam/stream")
    variable = "CAM_PASSWORD"
    assert NetworkOptions(url="rtsp://admin@cam/stream", password_env=variable).url == "rtsp://admin@cam/stream"


def test_camera_settings_reach_opencv(camera):
    source = CameraSource(CameraOptions(device=0, width=320, height=240, fps=15, fourcc="MJPG", **FAST))
    source.start()
    assert source.read(2.0) is not None
    source.stop()
    assert camera.settings[cv2.CAP_PROP_FRAME_WIDTH] == 320
    assert camera.settings[cv2.CAP_PROP_FRAME_HEIGHT] == 240
    assert camera.settings[cv2.CAP_PROP_FPS] == 15
    assert camera.settings[cv2.CAP_PROP_BUFFERSIZE] == 1


def test_a_camera_that_fails_comes_back(camera):
    source = open_source(CameraOptions(device=0, **FAST))
    states: list[SourceState] = []
    source.on_state(states.append)
    source.start()
    assert source.read(2.0) is not None
    assert states == [SourceState.ONLINE]
    camera.plugged = False  # unplugged mid-stream: reads fail, then opening fails
    wait_until(lambda: source.state is SourceState.OFFLINE)
    opens = camera.opens
    wait_until(lambda: camera.opens >= opens + 2)  # it keeps trying, with backoff
    camera.plugged = True
    wait_until(lambda: source.state is SourceState.ONLINE)
    assert source.read(2.0) is not None
    assert states == [SourceState.ONLINE, SourceState.OFFLINE, SourceState.ONLINE]
    assert source.reconnects >= 2
    source.stop()


def test_backoff_doubles_to_its_limit(camera):
    camera.plugged = False
    source = open_source(CameraOptions(device=0, reconnect_initial_s=0.1, reconnect_max_s=0.4))
    source.start()
    time.sleep(1.6)
    source.stop()
    # Attempts at 0, .1, .3, .7, 1.1, 1.5: about 6 in 1.6 seconds, not hundreds.
    assert 4 <= camera.opens <= 8


def test_latest_frame_wins_and_drops_are_counted(camera):
    camera.interval = 0.002
    source = open_source(CameraOptions(device=0, **FAST))
    source.start()
    indices = []
    for _ in range(5):
        time.sleep(0.05)  # a slow model
        frame = source.read(1.0)
        indices.append(frame.index)
    source.stop()
    assert all(b - a > 1 for a, b in itertools.pairwise(indices))  # frames were skipped
    assert source.dropped > 10


def test_a_silent_camera_goes_stale(camera):
    source = open_source(CameraOptions(device=0, reconnect_initial_s=0.1, stale_after_s=0.2))
    states: list[SourceState] = []
    source.on_state(states.append)
    source.start()
    assert source.read(2.0) is not None
    camera.block_s = 0.6  # frames stop coming, the device stays open
    deadline = time.monotonic() + 3
    while SourceState.STALE not in states and time.monotonic() < deadline:
        source.read(0.1)
    assert SourceState.STALE in states
    camera.block_s = 0.0
    wait_until(lambda: source.state is SourceState.ONLINE)
    source.stop()


def test_video_file_every_frame_in_order(banana_video: Path):
    source = open_source(VideoOptions(path=str(banana_video)))
    indices = []
    with pytest.raises(EndOfStream):
        while True:
            indices.append(source.read(1.0).index)
    assert indices == list(range(30))


def test_paced_video_plays_at_its_frame_rate(banana_video: Path):
    source = open_source(VideoOptions(path=str(banana_video), realtime=True))
    assert source.delivery is Delivery.LATEST
    source.start()
    start = time.monotonic()
    frames = 0
    with pytest.raises(EndOfStream):
        while True:
            if source.read(2.0) is not None:
                frames += 1
            time.sleep(0.05)  # slower than 30 fps: frames are dropped, not queued
    elapsed = time.monotonic() - start
    assert 0.8 < elapsed < 3.0  # 30 frames at 30 fps
    assert frames < 30 and source.dropped > 0


def test_missing_video_file(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(VideoOptions(path=str(tmp_path / "none.mp4")))
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(SourceError, match="not a video"):
        open_source(VideoOptions(path=str(tmp_path / "bad.mp4")))


def test_images_with_a_bad_file(tmp_path: Path):
    for name in ("a.jpg", "c.jpg"):
        (tmp_path / name).write_bytes((DEMO / "samples" / "ripe-1.jpg").read_bytes())
    (tmp_path / "b.jpg").write_bytes(b"broken")
    source = open_source(ImagesOptions(paths=[str(tmp_path)]))
    assert source.read(1.0).name.endswith("a.jpg")
    with pytest.raises(ImageError):
        source.read(1.0)
    assert source.read(1.0).name.endswith("c.jpg")
    with pytest.raises(EndOfStream):
        source.read(1.0)


def fake_picamera2(fail: threading.Event) -> types.ModuleType:
    module = types.ModuleType("picamera2")

    class Picamera2:
        instances: ClassVar[list] = []

        def __init__(self, camera_num: int = 0) -> None:
            self.camera_num = camera_num
            self.config = None
            self.started = False
            Picamera2.instances.append(self)

        def create_video_configuration(self, main=None, controls=None):
            return {"main": main, "controls": controls}

        def configure(self, config) -> None:
            self.config = config

        def start(self) -> None:
            self.started = True

        def capture_array(self, name: str = "main", wait=None):
            assert wait is not None and wait > 0  # never wait forever
            time.sleep(0.01)
            if fail.is_set():
                raise TimeoutError("no frame")
            width, height = self.config["main"]["size"]
            return np.zeros((height, width, 3), np.uint8)

        def stop(self) -> None:
            self.started = False

        def close(self) -> None:
            pass

    module.Picamera2 = Picamera2
    return module


def test_picamera2(monkeypatch):
    fail = threading.Event()
    module = fake_picamera2(fail)
    monkeypatch.setitem(sys.modules, "picamera2", module)
    source = open_source(Picamera2Options(camera=1, width=320, height=240, fps=20, **FAST))
    source.start()
    frame = source.read(2.0)
    assert frame.image.shape == (240, 320, 3)
    camera = module.Picamera2.instances[0]
    assert camera.camera_num == 1 and camera.config["main"]["format"] == "RGB888"
    assert camera.config["controls"] == {"FrameRate": 20}
    fail.set()
    wait_until(lambda: source.state is SourceState.OFFLINE)
    fail.clear()
    wait_until(lambda: source.state is SourceState.ONLINE)
    source.stop()
    assert len(module.Picamera2.instances) >= 2  # reopened after the failure


def test_picamera2_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(ConfigError, match="python3-picamera2"):
        open_source(Picamera2Options())


def test_python_api_pipeline(banana_video: Path):
    import edgetm

    options = edgetm.PipelineOptions(smoothing=edgetm.SmoothingOptions(threshold=0.6))
    with edgetm.Pipeline(str(DEMO), str(banana_video), options=options) as pipeline:
        seen = list(pipeline)
    assert [s.frame for s in seen] == list(range(30))
    assert seen[0].label == "Ripe" and seen[-1].label == "Unripe"
    changes = [s.state.label for s in seen if s.changed("label")]
    assert changes == ["Ripe", "Unripe"]
    assert seen[-1].latency_ms["capture_to_result"] > 0


def test_an_http_stream_that_ends_is_reopened(banana_video: Path):
    """A real HTTP server and OpenCV's FFmpeg reader: when the stream ends, the source reconnects."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(banana_video.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{banana_video.name}"
        source = open_source(parse_source(url, reconnect_initial_s=0.1, reconnect_max_s=0.1))
        states: list[SourceState] = []
        source.on_state(states.append)
        source.start()
        assert source.read(10.0) is not None
        wait_until(lambda: len(states) >= 3, 20)  # 30 frames, then the stream ended and was reopened
        assert source.reconnects >= 1
        assert source.read(10.0) is not None
        source.stop()
        assert states[:3] == [SourceState.ONLINE, SourceState.OFFLINE, SourceState.ONLINE]
    finally:
        server.shutdown()


def test_sinks_hear_of_source_states_on_the_pipeline_thread_not_the_capture_thread(camera):
    import edgetm
    from edgetm.publish.base import Sink

    class Recorder(Sink):
        def __init__(self) -> None:
            self.threads: list[str] = []

        def result(self, observation) -> None:
            pass

        def source_state(self, pipeline, state) -> None:
            self.threads.append(threading.current_thread().name)

    recorder = Recorder()
    pipeline = edgetm.Pipeline(str(DEMO), CameraOptions(device=0, **FAST), sinks=[recorder])
    pipeline.start()
    try:
        wait_until(lambda: recorder.threads)
        camera.plugged = False
        wait_until(lambda: len(recorder.threads) >= 2)
    finally:
        pipeline.stop()
    assert not any(name.startswith("edgetm-capture") for name in recorder.threads), recorder.threads


# -- files that loop, sources that are missing, sources that give nothing ----------------------------

def read_frames(source, count: int, timeout_s: float = 15.0) -> list:
    frames = []
    deadline = time.monotonic() + timeout_s
    while len(frames) < count and time.monotonic() < deadline:
        frame = source.read(1.0)
        if frame is not None:
            frames.append(frame)
    return frames


def test_a_looping_paced_video_starts_again_in_place(banana_video: Path):
    """The end of a looping file is no failure: no offline and online again, and no second of
    reconnect backoff; the next frame comes one frame interval after the last (30 fps here)."""
    source = open_source(VideoOptions(path=str(banana_video), realtime=True, loop=True))
    states: list[SourceState] = []
    source.on_state(states.append)
    source.start()
    try:
        frames = read_frames(source, 75)
    finally:
        source.stop()
    by_index = {frame.index: frame.captured for frame in frames}
    assert {29, 30, 59, 60} <= set(by_index), sorted(by_index)
    for last, first in ((29, 30), (59, 60)):  # each file holds 30 frames
        assert by_index[first] - by_index[last] < 1 / 30 + 0.03
    assert states == [SourceState.ONLINE]
    assert source.reconnects == 0 and source.problem is None


def test_a_looping_video_file_runs_on_without_a_gap(banana_video: Path):
    source = open_source(VideoOptions(path=str(banana_video), loop=True))
    frames = [source.read(1.0) for _ in range(95)]
    source.stop()
    assert [frame.index for frame in frames] == list(range(95))
    assert max(b.captured - a.captured for a, b in itertools.pairwise(frames)) < 0.05


def test_a_camera_missing_from_the_start_is_said_to_be_offline(camera: FakeCamera):
    camera.plugged = False
    source = open_source(CameraOptions(device=5, **FAST))
    states: list[SourceState] = []
    source.on_state(states.append)
    problems: list[str] = []
    source.on_problem(problems.append)
    source.start()
    try:
        wait_until(lambda: camera.opens >= 3)  # it keeps trying
    finally:
        source.stop()
    assert states == [SourceState.OFFLINE]
    assert source.problem.startswith("cannot open camera:5: there is no /dev/video5")
    assert problems == [source.problem]  # said once, not at every attempt


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_a_stream_that_refuses_is_said_to_be_offline(scheme: str):
    """A real connection refused, through OpenCV's FFmpeg reader."""
    from tests.broker import free_port

    url = f"{scheme}://127.0.0.1:{free_port()}/stream"
    source = open_source(parse_source(url, **FAST))
    states: list[SourceState] = []
    source.on_state(states.append)
    source.start()
    try:
        wait_until(lambda: source.reconnects >= 2, 10)
    finally:
        source.stop()
    assert states == [SourceState.OFFLINE]
    assert source.problem.startswith(f"cannot open {url}")


def test_a_stream_that_opens_but_gives_nothing_says_so(camera: FakeCamera):
    camera.stopped = True  # it opens; every read fails
    source = open_source(CameraOptions(device=0, **FAST))
    states: list[SourceState] = []
    source.on_state(states.append)
    source.start()
    try:
        wait_until(lambda: camera.opens >= 3)
        assert source.read(0.1) is None
    finally:
        source.stop()
    assert states == [SourceState.OFFLINE]
    assert source.problem == "camera:0 opened but gave nothing"


def undecodable_videos(folder: Path, banana_video: Path) -> list[Path]:
    """An AVI without a frame, and one whose every JPEG is overwritten: both open in OpenCV."""
    empty = folder / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    writer.release()
    data = bytearray(banana_video.read_bytes())
    start = data.find(b"\xff\xd8\xff")
    while start >= 0:  # each JPEG, from its start to its end marker, becomes zeros
        end = data.find(b"\xff\xd9", start)
        data[start:end + 2] = bytes(end + 2 - start)
        start = data.find(b"\xff\xd8\xff", end)
    corrupt = folder / "corrupt.avi"
    corrupt.write_bytes(bytes(data))
    return [empty, corrupt]


@pytest.mark.parametrize("realtime", [False, True])
def test_a_video_without_a_decodable_frame_is_refused_at_once(tmp_path: Path, banana_video: Path, realtime: bool):
    for video in undecodable_videos(tmp_path, banana_video):
        with pytest.raises(SourceError, match=f"^{video} has no frame OpenCV can decode$"):
            open_source(VideoOptions(path=str(video), realtime=realtime, loop=True))


def test_an_image_folder_where_nothing_decodes_says_so(tmp_path: Path):
    for name in ("a.jpg", "b.png"):
        (tmp_path / name).write_bytes(b"broken")
    source = open_source(ImagesOptions(paths=[str(tmp_path)]))
    for _ in range(2):
        with pytest.raises(ImageError):
            source.read(1.0)
    with pytest.raises(EndOfStream):
        source.read(1.0)
    assert source.problem == f"none of the 2 images in {tmp_path} could be decoded"


def test_an_image_folder_with_one_good_image_has_no_problem(tmp_path: Path):
    (tmp_path / "a.jpg").write_bytes(b"broken")
    (tmp_path / "b.jpg").write_bytes((DEMO / "samples" / "ripe-1.jpg").read_bytes())
    source = open_source(ImagesOptions(paths=[str(tmp_path)]))
    with pytest.raises(ImageError):
        source.read(1.0)
    assert source.read(1.0) is not None
    with pytest.raises(EndOfStream):
        source.read(1.0)
    assert source.problem is None
