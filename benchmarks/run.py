#!/usr/bin/env python3
"""``edgetm run`` on a video file, publishing to a local mosquitto, against a bare loop.

The bare loop is what one would write by hand: OpenCV decodes a frame, resizes it to the
model's input, and the runtime runs it (LiteRT set_tensor/invoke/get_tensor). edgetm runs as
its own process (``edgetm run MODEL --source video --mqtt ...``) publishing every result (QoS 1)
to a mosquitto started here. Both see the same frames with the same threads; runs alternate
(bare, edgetm, bare, edgetm, ...) and medians are reported.

- fps: frames / (last result - first result), so start-up is not counted; edgetm reports its
  own at exit. Nobody subscribes during this pass: on two cores a subscriber and the broker's
  fan-out would take CPU from whichever side is being measured;
- capture->publish: a second pass plays a clip at 30 fps like a camera (``--realtime``) with a
  subscriber here; latency is a result's arrival minus its frame's capture time;
- RSS: edgetm's resident memory, sampled every 50 ms (peak of the throughput passes).

    .venv/bin/python benchmarks/run.py [--frames 600] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
CLIP_FRAMES = 300  # 10 s at 30 fps for the latency pass

BARE_LOOP = r"""
import sys, time, cv2, numpy as np
from ai_edge_litert.interpreter import Interpreter
model, video, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
interpreter = Interpreter(model_path=model, num_threads=threads)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
_, height, width, _ = detail["shape"]
dtype = detail["dtype"]
output = interpreter.get_output_details()[0]["index"]
capture = cv2.VideoCapture(video)
times = []
while True:
    ok, frame = capture.read()
    if not ok:
        break
    tensor = cv2.cvtColor(cv2.resize(frame, (int(width), int(height))), cv2.COLOR_BGR2RGB)[None]
    if dtype == np.float32:
        tensor = tensor.astype(np.float32) / 127.5 - 1.0
    interpreter.set_tensor(detail["index"], tensor)
    interpreter.invoke()
    interpreter.get_tensor(output)
    times.append(time.monotonic())
with open("/proc/self/status") as status:
    rss = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
print(len(times), times[-1] - times[0], rss)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_video(path: Path, frames: int) -> None:
    """640x480 MJPEG: zoo photos and demo samples, a few frames each, so labels change."""
    pictures = sorted((ROOT / "models" / "banana" / "samples").glob("*.jpg"))
    if (ZOO / "images").is_dir():
        pictures += sorted(p for p in (ZOO / "images").iterdir() if p.suffix in (".jpg", ".png", ".bmp"))
    images = [cv2.resize(cv2.imread(str(p)), (640, 480)) for p in pictures]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(frames):
        writer.write(images[(i // 10) % len(images)])
    writer.release()


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return 0.0


def edgetm_process(model: Path, source: list[str], port: int, threads: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgetm", "run", str(model), "--source", *source, "--mqtt", f"mqtt://127.0.0.1:{port}",
         "--device-id", "bench", "--threads", str(threads), "--log-level", "info"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_edgetm(model: Path, video: Path, port: int, threads: int) -> dict:
    """Throughput: every frame of the file as fast as edgetm goes, published to the broker."""
    process = edgetm_process(model, [str(video)], port, threads)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, rss_mb(process.pid))
        time.sleep(0.05)
    log = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeError(log)
    match = re.search(r"pipeline default: (\d+) results at ([\d.]+) fps", log)
    assert match, log
    return {"frames": int(match.group(1)), "fps": float(match.group(2)), "rss": peak}


def latency(model: Path, clip: Path, port: int, threads: int, frames: int) -> tuple[float, float]:
    """Capture to arrival at a subscriber, for a clip played at 30 fps like a camera."""
    import paho.mqtt.client as mqtt

    arrivals: list[tuple[float, bytes]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{time.time_ns()}")
    client.on_message = lambda c, u, message: arrivals.append((time.time(), message.payload))
    client.connect("127.0.0.1", port, 30)
    client.subscribe("edgetm/bench/default/result", qos=1)
    client.loop_start()
    time.sleep(0.2)
    process = edgetm_process(model, [str(clip), "--realtime"], port, threads)
    process.wait(120)
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read())
    received = np.array([r for r, _ in arrivals])
    captured = np.array([datetime.fromisoformat(json.loads(p)["timestamp"]).timestamp() for _, p in arrivals])
    delays = (received - captured) * 1e3
    assert len(arrivals) >= frames * 0.9, f"only {len(arrivals)} of {frames} results arrived"
    return float(np.percentile(delays, 50)), float(np.percentile(delays, 95))


def run_bare(model: Path, video: Path, threads: int) -> dict:
    out = subprocess.run([sys.executable, "-c", BARE_LOOP, str(model), str(video), str(threads)], capture_output=True,
                         text=True, timeout=600, check=True)
    count, seconds, rss = out.stdout.split()
    return {"frames": int(count), "fps": (int(count) - 1) / float(seconds), "rss": float(rss)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    models = [("demo uint8", ROOT / "models" / "banana" / "model.tflite"),
              ("demo float", ROOT / "models" / "banana" / "model_unquant.tflite")]
    if (ZOO / "coral-mobilenet").is_dir():
        models.append(("MobileNetV2 224 quant", ZOO / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite"))
    else:
        print(f"zoo not found at {ZOO}: MobileNetV2 skipped (set EDGETM_ZOO)", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "bench.avi"
        make_video(video, args.frames)
        clip = Path(tmp) / "clip.avi"
        make_video(clip, CLIP_FRAMES)
        port = free_port()
        broker = subprocess.Popen([mosquitto, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            print(f"run: {args.frames} frames 640x480 MJPEG, {args.threads} threads, mosquitto on localhost, "
                  f"fps: median of {args.rounds} alternating rounds\n")
            header = (f"{'model':22s} {'bare fps':>9s} {'edgetm fps':>11s} {'ratio':>6s} {'capture->publish p50':>21s} "
                      f"{'p95':>7s} {'edgetm RSS':>11s} {'bare RSS':>9s}")
            print(header)
            print("-" * len(header))
            for name, model in models:
                bare, ours = [], []
                for _ in range(args.rounds):
                    bare.append(run_bare(model, video, args.threads))
                    ours.append(run_edgetm(model, video, port, args.threads))
                b = float(np.median([r["fps"] for r in bare]))
                e = float(np.median([r["fps"] for r in ours]))
                p50, p95 = latency(model, clip, port, args.threads, CLIP_FRAMES)
                rss = max(r["rss"] for r in ours)
                bare_rss = max(r["rss"] for r in bare)
                print(f"{name:22s} {b:9.1f} {e:11.1f} {e / b:5.2f}x {p50:18.1f} ms {p95:5.1f} ms {rss:8.0f} MB "
                      f"{bare_rss:6.0f} MB")
        finally:
            broker.terminate()
            broker.wait(10)
    print("\nbare: decode, resize, set_tensor/invoke/get_tensor in a loop; edgetm: `edgetm run` publishing every "
          "result over MQTT (QoS 1).\ncapture->publish: a 30 fps clip played in real time, to a subscriber on the "
          "same machine. RSS: peak resident memory.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
