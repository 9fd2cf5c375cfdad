"""A model tried in a child process, before a running service takes it in.

A corrupt model can crash a runtime's native code (a segfault in LiteRT on a bad flatbuffer) or
ask for more memory than the machine has; in the process that runs the pipelines, either would
take every pipeline down. ``probe_model`` loads the model in a child (``python -m
edgetm.model.probe``) that limits its own memory before any runtime is imported, and runs it once
on zeros at its input shape (``load_model`` does that). The child answers with a small JSON verdict
on its stdout; the parent waits at most ``timeout_s`` and kills it after. Whatever went wrong comes
back as one line: the child's own error, or "crashed with signal SIGSEGV", "took longer than 60 s",
"ran out of memory (limit 2048 MB)".

Commands that load a model for themselves (``edgetm info``, ``classify``, ``detect``) load it in
their own process without a probe, which would add a second start of Python and the runtime
(half a second here, several on a Raspberry Pi) to every command: a file that crashes the runtime
ends such a command the way the runtime crashes. A running service is what must not fall.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from edgetm import errors
from edgetm.errors import EdgetmError, ModelError
from edgetm.model.options import ModelOptions

# A large YOLO export loads and runs once in a few seconds on a Raspberry Pi 4 (0.3 s for YOLOv8n
# here); a minute is a model that hangs, not one that is slow.
PROBE_TIMEOUT_S = 60.0
# Of the machine's memory. The running model stays loaded while the new one is tried and until it
# has taken over, so a model that needs more than half could not be swapped in without pushing the
# running one out. The limit is on address space (RLIMIT_AS), which runs ahead of what is resident.
PROBE_MEMORY_FRACTION = 0.5
# A killed child is gone at once; this bounds only the wait for one stuck in an uninterruptible call.
REAP_TIMEOUT_S = 5.0
# A verdict is one short line of JSON; what a child says on stderr is read only to explain a crash.
MAX_VERDICT_BYTES = 64 * 1024
MAX_STDERR_BYTES = 64 * 1024
# Signs in a dead child's stderr that an allocation failed under the limit rather than the model
# crashing on its own (native code aborts when an allocation fails).
_OUT_OF_MEMORY = (b"bad_alloc", b"bad allocation", b"MemoryError", b"Cannot allocate memory", b"out of memory",
                  b"Failed to allocate", b"memory allocation of")
# The typed errors a verdict may name; anything else comes back as a ModelError.
_ERRORS = {cls.__name__: cls for cls in (errors.ModelError, errors.LabelsError, errors.ConfigError)}
# The child's environment: one thread for BLAS and OpenMP (the probe runs beside the live pipeline and
# should not take its cores), and two malloc arenas (each thread's arena reserves 64 MB of address
# space, which counts against the memory limit without being used).
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


def default_memory_bytes() -> int:
    """``PROBE_MEMORY_FRACTION`` of this machine's memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # not reported: no limit rather than a guess
        return 0
    return int(total * PROBE_MEMORY_FRACTION)


def probe_command(options: ModelOptions, memory_bytes: int) -> list[str]:
    """The child that tries ``options``: this interpreter running this module."""
    return [sys.executable, "-m", __name__, str(memory_bytes), options.model_dump_json()]


def probe_model(
    options: ModelOptions,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
    memory_bytes: int | None = None,
    command: Sequence[str] | None = None,
) -> float:
    """Load ``options`` in a child process limited to ``memory_bytes`` of address space (default:
    ``default_memory_bytes()``; 0 for none) and run it once; return the seconds it took. The child
    runs on one thread and ONNX Runtime's CPU provider; a model for a TFLite delegate is not tried
    (its device, a Coral, opens in one process at a time).

    Raises the child's own ``EdgetmError`` (a ``ModelError``, ``LabelsError`` or ``ConfigError``),
    or a ``ModelError`` saying it crashed, ran out of memory or took longer than ``timeout_s`` (the
    child is killed then). ``command`` replaces the child's command line (tests point it at a slow one).
    """
    if options.delegate:  # an accelerator (a Coral) opens in one process at a time, and the pipeline has it
        return 0.0
    limit = default_memory_bytes() if memory_bytes is None else memory_bytes
    argv = list(command) if command is not None else probe_command(options, limit)
    where = options.path
    root = str(Path(__file__).resolve().parents[2])  # the child imports the same edgetm as this process
    env = {**os.environ, **CHILD_ENV, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH"))
                                                                      if p)}
    import subprocess
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            # This interpreter and this module (or a command a test gives): nothing from outside.
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)  # noqa: S603
        except OSError as error:
            raise ModelError(f"{where} could not be checked: the check could not start ({error})") from None
        try:
            status = child.wait(timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):  # one stuck in the kernel is left, not waited on
                child.wait(REAP_TIMEOUT_S)
            raise ModelError(f"{where} took longer than {timeout_s:g} s to load and run once",
                             "a model that loads this slowly here is too large for this device") from None
        out.seek(0)
        verdict = out.read(MAX_VERDICT_BYTES)
        err.seek(0)
        said = err.read(MAX_STDERR_BYTES)
    seconds = time.monotonic() - started
    answer = parse_verdict(verdict)
    if answer is None or status != 0:
        raise exit_error(where, status, said, limit)
    raise_for(answer, where, limit)
    return seconds


def exit_error(where: str, status: int, stderr: bytes, limit: int) -> ModelError:
    """Why a child that gave no verdict ended: a crash (by signal), memory, or its last words."""
    out_of_memory = any(sign in stderr for sign in _OUT_OF_MEMORY)
    if limit and (out_of_memory or status == -signal.SIGKILL):  # SIGKILL: the kernel's out-of-memory killer
        return _out_of_memory(where, limit)
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        return ModelError(f"{where} crashed with signal {name} when loaded and run once",
                          "the file is probably corrupt: copy or export it again")
    last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    return ModelError(f"{where} could not be checked: the check exited with status {status} ({last[0][:200]})")


def parse_verdict(verdict: bytes) -> dict | None:
    """The last line of the child's stdout as a JSON object, or None."""
    lines = verdict.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and isinstance(answer.get("ok"), bool) else None


def _out_of_memory(where: str, limit: int) -> ModelError:
    return ModelError(f"{where} ran out of memory (limit {limit >> 20} MB) when loaded and run once",
                      "it is too large for this device")


def raise_for(answer: dict, where: str, limit: int) -> None:
    """Raise the error a verdict names (nothing for a model that loaded)."""
    if answer["ok"]:
        return
    if answer.get("kind") == "memory":
        raise _out_of_memory(where, limit)
    cls = _ERRORS.get(str(answer.get("kind")), ModelError)
    message = str(answer.get("message") or "the model could not be loaded").replace("\n", " ")
    hint = answer.get("hint")
    raise cls(message, str(hint).replace("\n", " ") if hint else None)


# -- the child --------------------------------------------------------------------------------
def verdict(options: ModelOptions) -> dict:
    """What loading ``options`` and running it once came to, as the JSON-able verdict the parent reads."""
    from edgetm.model.load import load_model

    try:
        load_model(options)
    except MemoryError:
        return {"ok": False, "kind": "memory"}
    except EdgetmError as error:
        kind = next((name for name, cls in _ERRORS.items() if isinstance(error, cls)), "ModelError")
        return {"ok": False, "kind": kind, "class": type(error).__name__, "message": error.message, "hint": error.hint}
    except Exception as error:  # a bug in edgetm, said as one line rather than lost
        text = str(error).strip().splitlines()
        return {"ok": False, "kind": "bug", "exception": type(error).__name__,
                "message": f"{options.path} could not be loaded: {type(error).__name__}: {text[0] if text else ''}"}
    return {"ok": True}


def limit_memory(memory_bytes: int) -> None:
    """Cap this process's address space (0: leave it), never above a limit already in force."""
    if memory_bytes <= 0:
        return
    import resource  # the probe's child alone limits itself

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    with contextlib.suppress(OSError, ValueError):  # forbidden by a sandbox: the time limit and the process remain
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def verdict_stream():
    """A stream for verdicts that only this module writes to: file descriptor 1 becomes a copy of 2,
    so that whatever native code or a runtime prints lands among the child's diagnostics instead."""
    private = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(private, "w", encoding="utf-8")


def main(argv: Sequence[str]) -> int:
    """``python -m edgetm.model.probe MEMORY_BYTES OPTIONS_JSON``."""
    memory_bytes, options_json = int(argv[0]), argv[1]
    limit_memory(memory_bytes)  # before any runtime is imported: its allocations count against the limit
    stream = verdict_stream()
    try:
        options = ModelOptions.model_validate_json(options_json)
    except ValueError as error:
        answer = {"ok": False, "kind": "ConfigError", "message": f"the options to check are not valid: {error}"}
    else:
        # One core: the pipeline keeps the rest. The CPU provider: GPU runtimes reserve far more address
        # space than they use, which the memory limit would count.
        answer = verdict(options.model_copy(update={"threads": 1, "providers": ("CPUExecutionProvider",)}))
    stream.write(json.dumps(answer, allow_nan=False) + "\n")
    stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
