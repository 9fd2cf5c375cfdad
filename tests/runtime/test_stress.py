"""Races and bounds that only show under load."""

from __future__ import annotations

import socket
import sys
import threading
import time

from edgetm.publish.mqtt import MqttOptions, MqttSink
from edgetm.runtime.stats import PipelineStats


def test_stats_can_be_read_while_the_loop_writes_them():
    """The stats timer reads while the loop records; a stage seen for the first time used to change
    the dictionary under the reader's feet."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    failures: list[BaseException] = []
    try:
        for _ in range(200):
            stats = PipelineStats()

            go = threading.Event()

            def loop(stats=stats, go=go) -> None:
                go.wait()
                for n in range(20):  # a stage seen for the first time adds a key
                    stats.record({"preprocess": 0.1, "inference": 1.0, f"stage{n}": 0.1})

            writer = threading.Thread(target=loop)
            writer.start()
            go.set()
            while writer.is_alive() and not failures:
                try:
                    stats.snapshot()
                except Exception as error:  # changed size during iteration
                    failures.append(error)
            writer.join()
    finally:
        sys.setswitchinterval(switch)
    assert failures == []


def dead_broker() -> tuple[socket.socket, list[socket.socket], int]:
    """A port that accepts nothing: its backlog is full, so a connect hangs until it times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    return server, fillers, port


def test_closing_the_mqtt_sink_is_bounded_when_the_broker_does_not_answer():
    server, fillers, port = dead_broker()
    try:
        for _ in range(3):
            sink = MqttSink(MqttOptions(url=f"mqtt://127.0.0.1:{port}"), "dead")
            time.sleep(0.3)  # the network thread is now stuck connecting
            start = time.monotonic()
            sink.close(0.5)
            assert time.monotonic() - start < 1.0
    finally:
        for s in (server, *fillers):
            s.close()
