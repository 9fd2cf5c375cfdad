"""Results as JSON lines on standard output, or appended to a file."""


import contextlib
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Literal, TextIO

from edgetm.errors import ConfigError
from edgetm.events import Observation
from edgetm.logs import STATUS
from edgetm.options import Field
from edgetm.plugins import LocalPath
from edgetm.publish.base import Sink, SinkContext, SinkOptions

log = logging.getLogger(__name__)


class StdoutOptions(SinkOptions):
    type: Literal["stdout"] = "stdout"

    def open(self, context: SinkContext) -> Sink:
        return JsonLines(sys.stdout)


class JsonlOptions(SinkOptions):
    type: Literal["jsonl"] = "jsonl"
    path: LocalPath = Field(description="file to append JSON lines to")

    def open(self, context: SinkContext) -> Sink:
        path = Path(self.path).expanduser()
        try:
            stream = path.open("a", encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot write to {path}: {error.strerror or error}") from None
        return JsonLines(stream, owned=True)


class JsonLines(Sink):
    """One JSON document per result. Errors are not repeated here: whoever reports one has logged
    it already, and the log is on stderr."""

    def __init__(self, stream: TextIO, owned: bool = False) -> None:
        self._stream = stream
        self._owned = owned
        self._lock = threading.Lock()  # several pipelines write here
        self._closed = False

    def result(self, observation: Observation) -> None:
        line = json.dumps(observation.to_dict(), allow_nan=False)  # the pipeline let no NaN through
        with self._lock:
            if self._closed:
                return
            try:
                with STATUS.above() if self._stream is sys.stdout else contextlib.nullcontext():
                    self._stream.write(line + "\n")
                    self._stream.flush()
            except BrokenPipeError:  # the reader went away (| head): said once, then quiet
                self._closed = True
                log.warning("the reader of the results closed its end; results are no longer written there")

    @property
    def gone(self) -> bool:
        return self._closed

    def close(self, timeout_s: float = 1.0) -> None:
        with self._lock:
            if self._owned:
                self._stream.close()
            elif not self._closed:
                with contextlib.suppress(BrokenPipeError):
                    self._stream.flush()
