"""Results as JSON lines on standard output, or appended to a file."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from edgetm.errors import ConfigError
from edgetm.publish.base import Sink
from edgetm.results import Observation


class StdoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["stdout"] = "stdout"


class JsonlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["jsonl"] = "jsonl"
    path: str = Field(description="file to append JSON lines to")


class JsonLines(Sink):
    """One JSON document per result; errors go to stderr."""

    def __init__(self, stream: TextIO, owned: bool = False) -> None:
        self._stream = stream
        self._owned = owned
        self._lock = threading.Lock()  # several pipelines write here

    def result(self, observation: Observation) -> None:
        line = json.dumps(observation.to_dict())
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def error(self, message: str, detail: dict | None = None) -> None:
        print(f"edgetm: {message}", file=sys.stderr, flush=True)

    def close(self, timeout_s: float = 1.0) -> None:
        with self._lock:
            if self._owned:
                self._stream.close()
            else:
                self._stream.flush()


def stdout_sink(config: StdoutConfig) -> Sink:
    return JsonLines(sys.stdout)


def jsonl_sink(config: JsonlConfig) -> Sink:
    path = Path(config.path).expanduser()
    try:
        stream = path.open("a", encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write to {path}: {error.strerror or error}") from None
    return JsonLines(stream, owned=True)
