"""edgetm bench: a model measured as a pipeline runs it, beside the bare runtime on the same model."""

from __future__ import annotations

import json
from pathlib import Path

from tests.audiokit import tm_sound_onnx
from tests.conftest import DEMO, write_video
from tests.test_cli import run_cli


def test_bench_reports_stages_rate_cpu_memory_and_the_bare_reference():
    done = run_cli("bench", str(DEMO), "--frames", "130", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["frames"] == 130 and report["source"].startswith("synthetic 640x480")
    # Enough frames for the stream to time preparing the next frame ahead against in turn.
    prepare = report["prepare"]
    assert isinstance(prepare["prepare_ahead"], bool) and set(prepare["prepare_ms_per_item"]) == {"ahead", "inline"}
    assert prepare["prepare_ahead"] is (prepare["prepare_rounds"]["ahead_won"] * 2 >= prepare["prepare_rounds"]["of"])
    assert {"preprocess", "inference", "postprocess"} <= set(report["stages_ms"])
    for latency in [*report["stages_ms"].values(), report["bare_invoke_ms"]]:
        assert 0 < latency["p50"] <= latency["p95"]
    assert report["fps"] > 0 and report["frame_ms"] > 0 and report["cpu_ms_per_frame"] > 0
    assert report["rss_peak_mb"] > 10 and report["runtime"]["backend"] == "litert"
    # The bare invoke is part of what a frame costs edgetm, never more.
    assert 0 < report["ratio"] <= 1.5 and report["ratio"] <= report["stages_ratio"]


def test_bench_reads_the_source_given_and_prints_a_table(tmp_path: Path):
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=20)
    done = run_cli("bench", str(DEMO), "--source", str(video), "--frames", "25", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "threads 1" in done.stdout  # the runtime flags apply as they would to edgetm run
    assert f"{video}, 25 frames" in done.stdout and "bare runtime invoke" in done.stdout
    assert "ratio" in done.stdout and "fps" in done.stdout
    assert "next frame   prepared " in done.stdout and "too few frames to time both ways" in done.stdout


def test_a_sound_model_without_a_source_is_told_to_name_one(tmp_path: Path):
    done = run_cli("bench", str(tm_sound_onnx(tmp_path)))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "needs a sound source" in done.stderr and "--source mic" in done.stderr


def test_frames_must_be_a_positive_count():
    done = run_cli("bench", str(DEMO), "--frames", "0")
    assert done.returncode == 2 and "1 to 100000" in done.stderr


def test_realtime_paces_the_source_like_a_camera_with_the_threads_picked_for_it(tmp_path: Path):
    import os

    done = run_cli("bench", str(DEMO), "--frames", "20", "--realtime", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["paced"] and report["source"].endswith("at 30 fps")
    assert report["prepare"] == {}  # a paced source's newest frame is taken as it comes
    assert report["frame_ms"] > 25 and report["fps"] < 35  # one frame every 33 ms, as the synthetic video says
    if (os.cpu_count() or 1) > 1:  # a light model at a camera's pace: one thread (edgetm/model/threads.py)
        assert report["runtime"]["threads"] == 1
    photo = tmp_path / "one.jpg"
    photo.write_bytes((DEMO / "samples" / "ripe-1.jpg").read_bytes())
    refused = run_cli("bench", str(DEMO), "--source", str(photo), "--realtime")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "--realtime" in refused.stderr


def test_a_paced_report_has_no_back_to_back_ratio_and_an_empty_source_is_named_as_given(tmp_path: Path):
    done = run_cli("bench", str(DEMO), "--frames", "12", "--realtime", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ratio"] is None  # paced, the frame rate is the source's
    few = tmp_path / "few"
    few.mkdir()
    (few / "one.jpg").write_bytes((DEMO / "samples" / "ripe-1.jpg").read_bytes())
    empty = run_cli("bench", str(DEMO), "--source", str(few))
    assert empty.returncode == 1 and f"{few} gave no results" in empty.stderr and "type=" not in empty.stderr


def test_the_bare_reference_runs_at_the_shape_the_pipeline_fed(tmp_path: Path):
    """A detector with dynamic sides runs a 1280x720 video at 640x384 (rectangular inference); the
    bare invoke it is compared with runs at that shape too, not at the square it was loaded at."""
    import cv2
    import numpy as np

    from tests.modelkit import constant_output_onnx, write
    from tests.vision.test_detect import NAMES, v8_raw

    model = write(tmp_path, "dyn.onnx", constant_output_onnx(v8_raw([(320, 192, 64, 32, 0, 0.9)]), (640, 640), NAMES,
                                                             dynamic=True))
    video = tmp_path / "wide.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (1280, 720))
    for n in range(20):
        writer.write(np.full((720, 1280, 3), 8 * n, np.uint8))
    writer.release()
    done = run_cli("bench", str(model), "--source", str(video), "--frames", "8", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bare_input_shape"] == [1, 3, 384, 640]
    square = json.loads(run_cli("bench", str(DEMO), "--frames", "8", "--json").stdout)
    assert square["bare_input_shape"] == [1, 224, 224, 3]  # a fixed-shape model: its own shape
