#!/usr/bin/env python3
"""Mutated models, export zips, MediaPipe bundles and labels files through ``load_model`` (in a
worker child, so that a native crash is counted, not fatal), and a few through ``edgetm classify``
and a running pipeline's swap. Prints a table of outcomes per seed and lists every case that was
neither a valid model nor a typed one-line error, with what rebuilds it.

    .venv/bin/python scripts/fuzz-models.py [--cases 5000] [--seed 1] [--cli 10] [--swap 20] [--save DIR]

The test suite runs the same cases (tests/reliability/test_model_faults.py, ``EDGETM_FUZZ_CASES``
of them, 500 by default). A case rebuilds with ``tests.reliability.mutate.case(seed, number)``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
sys.path.insert(0, str(ROOT))

from tests.reliability.fuzz import Outcome, Worker, classify_cli, spread, swap_outcome  # noqa: E402
from tests.reliability.mutate import Case, cases  # noqa: E402


def table(results: list[tuple[Case, Outcome]], title: str) -> None:
    by_seed: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for case, outcome in results:
        by_seed[case.seed][outcome.label] += 1
        by_seed["all"][outcome.label] += 1
    labels = sorted(by_seed["all"], key=lambda label: (-by_seed["all"][label], label))
    width = max(len(s) for s in by_seed)
    print(f"\n{title}: {len(results)} cases")
    print(f"{'':{width}s}  " + "  ".join(f"{label:>{max(len(label), 5)}s}" for label in labels))
    for seed in [*sorted(s for s in by_seed if s != "all"), "all"]:
        counts = by_seed[seed]
        print(f"{seed:{width}s}  " + "  ".join(f"{counts[label]:>{max(len(label), 5)}d}" for label in labels))


def report(results: list[tuple[Case, Outcome]], save: Path | None, crash_is_survived: bool = False) -> int:
    """List what was neither valid nor a typed one-line error; return how many failed. In a worker
    child a native crash is what the probe turns into one line for a running service: listed, not failed."""
    failed = 0
    for case, outcome in results:
        if outcome.passed:
            continue
        survived = crash_is_survived and outcome.kind == "crash"
        failed += not survived
        print(f"  {outcome.label}{' (the probe says so in one line)' if survived else ''}: {case}: "
              f"{outcome.message[:300]}")
        if save is not None:
            case.write(save / f"case-{case.number}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cli", type=int, default=10, help="cases also run through edgetm classify")
    parser.add_argument("--swap", type=int, default=20, help="cases also swapped into a running pipeline")
    parser.add_argument("--no-zoo", action="store_true", help="only models made here, none from the zoo")
    parser.add_argument("--save", type=Path, help="write each failing case into this folder")
    args = parser.parse_args()
    zoo = None if args.no_zoo or not (ZOO / "README.md").is_file() else ZOO

    all_cases = list(cases(args.seed, args.cases, zoo))
    worker = Worker()
    results: list[tuple[Case, Outcome]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        for case in all_cases:
            folder = Path(scratch) / str(case.number)
            folder.mkdir()
            results.append((case, worker.load(case.write(folder))))
            for path in sorted(folder.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            folder.rmdir()
        worker.close()
        elapsed = time.monotonic() - started
        table(results, f"load_model in a worker child ({elapsed:.0f} s, {elapsed / len(all_cases) * 1e3:.0f} ms a "
                       f"case, {worker.started} workers started)")
        failures = report(results, args.save, crash_is_survived=True)

        # Commands load in their own process without the probe (see edgetm/model/probe.py): a case
        # that crashes the runtime would end them as it ends the worker, so none is given to them.
        crashed = {case.number for case, outcome in results if outcome.kind == "crash"}
        picked = [case for case in _spread(all_cases, results, args.cli + len(crashed)) if case.number not in crashed]
        image = ROOT / "models" / "banana" / "samples" / "ripe-1.jpg"
        cli = [(case, classify_cli(case.write(Path(scratch) / f"cli-{case.number}"), image))
               for case in picked[:args.cli]]
        table(cli, "edgetm classify")
        failures += report(cli, args.save)

        failures += _swaps(_spread(all_cases, results, args.swap), Path(scratch), args.save)
    print(f"\n{failures} cases neither valid nor a typed one-line error (native crashes in the worker, which the "
          "probe reports in one line, not counted)")
    return 1 if failures else 0


def _spread(all_cases: list[Case], results: list[tuple[Case, Outcome]], count: int) -> list[Case]:
    """``count`` cases: every crash or hang first, then cases of each seed in turn, spread over the run."""
    worst = [case for case, outcome in results if outcome.kind in ("crash", "hang")]
    rest = [case for case in all_cases if case not in worst]
    return (worst + spread(rest, count - len(worst), lambda case: case.seed))[:count]


def _swaps(picked: list[Case], scratch: Path, save: Path | None) -> int:
    import edgetm
    from tests.conftest import write_video
    from tests.reliability.mutate import seeds

    files, _ = seeds()["labels"]
    running = scratch / "running"
    running.mkdir()
    for name, content in files.items():
        (running / name).write_bytes(content)
    video = write_video(scratch / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=5)
    pipeline = edgetm.Pipeline(running, {"type": "video", "path": str(video), "loop": True, "realtime": True},
                               options=edgetm.PipelineOptions(max_fps=30))
    pipeline.start()
    results = []
    try:
        for case in picked:
            started = time.monotonic()
            outcome = swap_outcome(pipeline.swap, case.write(scratch / f"swap-{case.number}"))
            results.append((case, outcome))
            print(f"  swap {case}: {outcome.label} in {time.monotonic() - started:.2f} s")
        before = pipeline.stats.snapshot()["results"]
        time.sleep(1.0)
        alive = not pipeline.finished and pipeline.stats.snapshot()["results"] > before
    finally:
        pipeline.stop()
    table(results, "a running pipeline's swap")
    print(f"the pipeline {'still runs' if alive else 'IS DEAD'} after {pipeline.swaps} swaps")
    return report(results, save) + (0 if alive else 1)


if __name__ == "__main__":
    sys.exit(main())
