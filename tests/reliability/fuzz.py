"""Running mutated models: through ``load_model`` in a child process, through ``edgetm classify``,
and through a running pipeline's swap; each case ends in an ``Outcome``.

Loads run in a worker child that takes case after case (the probe's child does one): starting
Python and the runtimes for every case would cost half a second each. A case that kills the
worker is counted as a crash, said the way the probe says it, and a new worker takes the next.

    python -m tests.reliability.fuzz MEMORY_BYTES   (the worker: options JSON lines in, verdicts out)
"""

from __future__ import annotations

import collections
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgetm.model import probe
from edgetm.model.options import ModelOptions

ROOT = Path(__file__).resolve().parents[2]
# The seeds are kilobytes and load in milliseconds; a case still running after this hangs.
CASE_TIMEOUT_S = 10.0
# Far above what a seed needs (under 250 MB of address space), far below what would trouble the
# machine: a case that asks for more is refused the way the probe refuses it.
WORKER_MEMORY_BYTES = 2 << 30
PASSING = ("valid", "error")


@dataclass(frozen=True)
class Outcome:
    """``kind``: valid, error (a typed one-line EdgetmError), crash, hang, bug (an exception that is
    no EdgetmError), multi-line (an error of more than one line), traceback (the CLI printed one).
    ``detail``: the error's class, the signal, ..."""

    kind: str
    detail: str = ""
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.kind in PASSING

    @property
    def label(self) -> str:
        return f"{self.kind} {self.detail}".strip()


def outcome_of(answer: dict) -> Outcome:
    """A worker's or a probe's verdict as an outcome."""
    if answer.get("ok"):
        return Outcome("valid")
    if answer.get("kind") == "memory":
        return Outcome("error", "ModelError (memory)", "ran out of memory")
    message, hint = str(answer.get("message", "")), str(answer.get("hint") or "")
    if answer.get("kind") == "bug":
        return Outcome("bug", str(answer.get("exception")), message)
    if "\n" in message or "\n" in hint:
        return Outcome("multi-line", str(answer.get("class")), message)
    return Outcome("error", str(answer.get("class") or answer.get("kind")), message)


class Worker:
    """Loads cases one after another in a child process (``python -m tests.reliability.fuzz``)."""

    def __init__(self, timeout_s: float = CASE_TIMEOUT_S, memory_bytes: int = WORKER_MEMORY_BYTES) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self._child: subprocess.Popen | None = None
        self._stderr = None
        self.started = 0

    def _start(self) -> subprocess.Popen:
        self._stderr = tempfile.TemporaryFile()
        env = {**os.environ, **probe.CHILD_ENV, "PYTHONPATH": str(ROOT)}
        self._child = subprocess.Popen([sys.executable, "-m", "tests.reliability.fuzz", str(self.memory_bytes)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=ROOT,
                                       env=env)
        self.started += 1
        return self._child

    def load(self, path: Path) -> Outcome:
        child = self._child if self._child is not None and self._child.poll() is None else self._start()
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(ModelOptions(path=str(path), threads=1).model_dump_json().encode() + b"\n")
            child.stdin.flush()
        except BrokenPipeError:
            return self._dead(str(path))
        line = b""
        deadline = time.monotonic() + self.timeout_s
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([child.stdout], [], [], left)[0]:
                self.close()
                return Outcome("hang", f"over {self.timeout_s:g} s")
            chunk = os.read(child.stdout.fileno(), probe.MAX_VERDICT_BYTES)
            if not chunk:
                return self._dead(str(path))
            line += chunk
            if len(line) > probe.MAX_VERDICT_BYTES:
                self.close()
                return Outcome("bug", "verdict too long")
        answer = probe.parse_verdict(line)
        return outcome_of(answer) if answer is not None else Outcome("bug", "no verdict", line[:200].decode())

    def _dead(self, where: str) -> Outcome:
        """The worker died on this case: said as the probe says it."""
        assert self._child is not None and self._stderr is not None
        status = self._child.wait(5)
        self._stderr.seek(0)
        said = self._stderr.read()[-probe.MAX_STDERR_BYTES:]
        self._child, self._stderr = None, None
        error = probe.exit_error(where, status, said, self.memory_bytes)
        if "memory" in error.message:
            return Outcome("error", "ModelError (memory)", str(error))
        name = error.message.split("signal ")[-1].split()[0] if "signal" in error.message else f"status {status}"
        return Outcome("crash", name, str(error))

    def close(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def spread(items: list, count: int, seed: Callable[[object], str]) -> list:
    """``count`` of ``items``, each seed in turn, spread over the run (cases come seed after seed, so
    every n-th case could all be of one seed)."""
    by_seed: dict[str, list] = collections.defaultdict(list)
    for item in items:
        by_seed[seed(item)].append(item)
    if not by_seed or count <= 0:
        return []
    rounds = -(-count // len(by_seed))
    picked = [group[n * len(group) // rounds] for n in range(rounds) for _, group in sorted(by_seed.items())
              if n * len(group) // rounds < len(group)]
    return picked[:count]


def classify_cli(path: Path, image: Path, timeout_s: float = 60.0) -> Outcome:
    """``edgetm classify MODEL IMAGE``: it classifies (exit 0), or says one line on stderr (exit 1)."""
    try:
        done = subprocess.run([sys.executable, "-m", "edgetm", "classify", str(path), str(image)], capture_output=True,
                              cwd=ROOT, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Outcome("hang", f"over {timeout_s:g} s")
    err = done.stderr.decode("utf-8", "replace")
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("INFO: ")]
    if done.returncode < 0:
        return Outcome("crash", f"signal {-done.returncode}", err[-300:])
    if done.returncode == 0:
        return Outcome("valid")
    if "Traceback" in err:
        return Outcome("traceback", "", err[-500:])
    if done.returncode != 1 or len(lines) != 1 or not lines[0].startswith("edgetm: error: "):
        return Outcome("multi-line", f"exit {done.returncode}", err[-500:])
    return Outcome("error", "EdgetmError", lines[0])


def swap_outcome(swap, path: Path) -> Outcome:
    """A running pipeline's ``swap`` of ``path``: taken, or refused with one typed line."""
    from edgetm.errors import EdgetmError

    try:
        swap(path)
    except EdgetmError as error:
        if "\n" in str(error):
            return Outcome("multi-line", type(error).__name__, str(error))
        if "crashed with signal" in error.message:
            return Outcome("error", "ModelError (crash in the probe)", str(error))
        return Outcome("error", type(error).__name__, str(error))
    except Exception as error:  # a bug, counted
        return Outcome("bug", type(error).__name__, str(error))
    return Outcome("valid")


def main(argv: Sequence[str]) -> int:
    """The worker: limits its memory, then loads each options line on stdin and answers with a verdict."""
    probe.limit_memory(int(argv[0]))
    stream = probe.verdict_stream()
    for line in sys.stdin:
        answer = probe.verdict(ModelOptions.model_validate_json(line))
        stream.write(json.dumps(answer) + "\n")
        stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
