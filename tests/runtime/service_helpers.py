"""Running the service in-process for tests, the way `edgetm run` does."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from edgetm.config import parse_config
from edgetm.runtime.service import Service
from tests.conftest import DEMO


def pipeline(source: dict | str, name: str = "bananas", **extra) -> dict:
    return {"name": name, "model": str(DEMO), "source": source, **extra}


def looping_video(path: Path) -> dict:
    return {"type": "video", "path": str(path), "realtime": True, "loop": True}


def mqtt_sink(broker, **extra) -> dict:
    return {"type": "mqtt", "url": broker.url, **extra}


@contextlib.contextmanager
def running(data: dict, config_path: Path | None = None):
    service = Service(parse_config(data, "test configuration"), config_path)
    thread = threading.Thread(target=service.run, name="test-service", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.stop_requested.set()
        thread.join(10)
        assert not thread.is_alive()
