"""MQTT 5 first, 3.1.1 when the broker only speaks that (as mosquitto 1.x does)."""

import socket
import threading
import time

from edgetm.publish.mqtt import MqttOptions, MqttSink


class OldBroker:
    """Answers an MQTT 5 CONNECT as a 3.1.1-only broker does (return code 1), accepts 3.1.1."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.server.settimeout(10)
        self.port = self.server.getsockname()[1]
        self.levels: list[int] = []
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.settimeout(5)
            header = conn.recv(1)
            length, shift = 0, 0
            while True:
                byte = conn.recv(1)[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            body = b""
            while len(body) < length:
                body += conn.recv(length - len(body))
            assert header == b"\x10"
            name_length = int.from_bytes(body[:2], "big")
            level = body[2 + name_length]
            self.levels.append(level)
            if level == 5:
                conn.sendall(b"\x20\x02\x00\x01")
                conn.close()
            else:
                conn.sendall(b"\x20\x02\x00\x00")
                self.connections.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            conn.close()


def test_falls_back_to_3_1_1():
    broker = OldBroker()
    sink = MqttSink(MqttOptions(url=f"mqtt://127.0.0.1:{broker.port}"), "oldtimer")
    deadline = time.monotonic() + 10
    while not sink.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.connected
    assert broker.levels[:2] == [5, 4]
    sink.close(0.2)
    broker.close()


def test_3_1_1_can_be_chosen():
    broker = OldBroker()
    sink = MqttSink(MqttOptions(url=f"mqtt://127.0.0.1:{broker.port}", protocol="3.1.1"), "oldtimer")
    deadline = time.monotonic() + 10
    while not sink.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert broker.levels == [4]
    sink.close(0.2)
    broker.close()
