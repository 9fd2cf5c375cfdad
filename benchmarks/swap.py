#!/usr/bin/env python3
"""Swapping the model of a running ``edgetm run``, against restarting it with the other model.

``edgetm run`` plays a looping clip at 30 fps like a camera (``--realtime --loop``), publishing
every result (QoS 1) to a mosquitto started here; a subscriber here receives them. Two models
with different labels take turns, so each result says which model made it. Interleaved:

- swap: ``{"model": PATH}`` on ``edgetm/bench/default/set``; the process and its camera stay up;
- restart: SIGTERM, then a new ``edgetm run`` with the other model (what a user has without swap);
- bare: LiteRT alone loading the new model and running it once (``Interpreter`` + ``allocate_tensors``
  + ``invoke``), the floor under any swap.

Reported, median of the rounds: time from the request to the first result of the new model, and
the longest gap between two results around it (a camera at 30 fps publishes every 33 ms).

    .venv/bin/python benchmarks/swap.py [--rounds 10] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
sys.path.insert(0, str(ROOT))

from edgetm.train.export_tflite import to_tflite  # noqa: E402
from edgetm.train.network import Dense, GlobalAveragePool, Network, Softmax  # noqa: E402

TOPIC = "edgetm/bench/default/result"
SETTLE_S = 1.0  # results before and after a change, to see the gap whole


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def other_model(folder: Path) -> Path:
    """A small classifier with labels of its own (the demo model's are Unripe, Ripe, ...)."""
    net = Network([GlobalAveragePool(), Dense(np.zeros((3, 3), np.float32), np.array([6.0, 0, 0], np.float32)),
                   Softmax()], (224, 224), labels=["alpha", "beta", "gamma"])
    folder.mkdir()
    (folder / "model_unquant.tflite").write_bytes(to_tflite(net))
    (folder / "labels.txt").write_text("0 alpha\n1 beta\n2 gamma\n")
    return folder


def clip(path: Path) -> Path:
    pictures = sorted((ROOT / "models" / "banana" / "samples").glob("*.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(300):
        writer.write(cv2.resize(cv2.imread(str(pictures[(i // 10) % len(pictures)])), (640, 480)))
    writer.release()
    return path


class Results:
    """Arrival time and first label of every result."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.arrivals: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{time.time_ns()}")
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port, 30)
        self.client.subscribe(TOPIC, qos=1)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        label = json.loads(message.payload)["top"][0]["label"]
        with self._lock:
            self.arrivals.append((time.monotonic(), label))

    def first(self, labels: set[str], after: float, timeout_s: float = 30.0) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                hit = next((t for t, label in self.arrivals if t > after and label in labels), None)
            if hit is not None:
                return hit
            time.sleep(0.005)
        raise TimeoutError("no result from the new model")

    def longest_gap(self, start: float, end: float) -> float:
        with self._lock:
            times = [t for t, _ in self.arrivals if start <= t <= end]
        return float(np.max(np.diff(times))) if len(times) > 1 else float("nan")

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def start(model: Path, video: Path, port: int, threads: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgetm", "run", str(model), "--source", str(video), "--realtime", "--loop",
         "--mqtt", f"mqtt://127.0.0.1:{port}", "--device-id", "bench", "--threads", str(threads)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bare_load(model: Path, threads: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    start_at = time.perf_counter()
    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    return time.perf_counter() - start_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = clip(folder / "clip.avi")
        # Models named over MQTT must sit beside the running model: all of them go in one folder.
        demo = shutil.copytree(ROOT / "models" / "banana", folder / "banana")
        pairs = [("demo float <-> other", demo, other_model(folder / "other"))]
        mobilenet = ZOO / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite"
        if mobilenet.is_file():
            pairs.append(("MobileNetV2 quant <-> demo", shutil.copy(mobilenet, folder), demo))
        else:
            print(f"zoo not found at {ZOO}: MobileNetV2 skipped (set EDGETM_ZOO)", file=sys.stderr)
        port = free_port()
        broker = subprocess.Popen([mosquitto, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        print(f"swap: a 640x480 clip at 30 fps, {args.threads} threads, mosquitto on localhost, median of "
              f"{args.rounds} rounds (swap and restart interleaved)\n")
        header = (f"{'models':28s} {'bare load':>10s} {'swap: first new':>16s} {'longest gap':>12s} "
                  f"{'restart: first new':>19s} {'longest gap':>12s} {'first new':>10s} {'gap':>6s}")
        print(header)
        print(f"{'':28s} {'':>10s} {'':>16s} {'':>12s} {'':>19s} {'':>12s} {'restart / swap':>17s}")
        print("-" * len(header))
        try:
            for name, first_model, second_model in pairs:
                measure(name, first_model, second_model, video, port, args)
        finally:
            broker.terminate()
            broker.wait(10)
    print("\nfirst new: from the request (MQTT set, or SIGTERM for a restart) to the first result of the new model "
          "at the subscriber.\nlongest gap: the longest time between two results from a second before the request "
          "to a second after the first new one (33 ms between frames).\nbare load: LiteRT's Interpreter + "
          "allocate_tensors + one invoke of the incoming model (median over both models).")
    return 0


def labels_of(model: Path) -> set[str]:
    model = Path(model)
    sys.path.insert(0, str(ROOT))
    from edgetm.model import load_model

    return set(load_model(model).labels or [])


def measure(name: str, first: Path, second: Path, video: Path, port: int, args) -> None:
    first, second = Path(first), Path(second)
    labels = {first: labels_of(first), second: labels_of(second)}
    results = Results(port)
    process = start(first, video, port, args.threads)
    current = first
    swaps, restarts, bare = [], [], []
    try:
        results.first(labels[first], 0.0)
        for _ in range(args.rounds):
            target = second if current == first else first
            time.sleep(SETTLE_S)
            requested = time.monotonic()
            results.publish("edgetm/bench/default/set", json.dumps({"model": str(target)}))
            arrived = results.first(labels[target], requested)
            time.sleep(SETTLE_S)
            swaps.append((arrived - requested, results.longest_gap(requested - SETTLE_S, arrived + SETTLE_S)))
            current = target
            bare.append(bare_load(target if target.suffix == ".tflite" else target / "model_unquant.tflite",
                                  args.threads))

            target = second if current == first else first
            requested = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(10)
            process = start(target, video, port, args.threads)
            arrived = results.first(labels[target], requested)
            time.sleep(SETTLE_S)
            restarts.append((arrived - requested, results.longest_gap(requested - SETTLE_S, arrived + SETTLE_S)))
            current = target
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        results.close()
    swap_first, swap_gap = np.median(swaps, axis=0) * 1e3
    restart_first, restart_gap = np.median(restarts, axis=0) * 1e3
    print(f"{name:28s} {np.median(bare) * 1e3:7.1f} ms {swap_first:13.1f} ms {swap_gap:9.1f} ms "
          f"{restart_first:16.1f} ms {restart_gap:9.1f} ms {restart_first / swap_first:9.1f}x "
          f"{restart_gap / swap_gap:5.1f}x")


if __name__ == "__main__":
    sys.exit(main())
