"""The map of the code holds: imports flow one way, from the command line down to the model."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "edgetm"
# Lower layers never import higher ones. The stages of one layer stay out of each other's way except
# where listed: image files are decoded the way ``edgetm classify`` decodes them, and pose estimators
# letterbox and suppress overlaps as detectors do.
LAYERS = [
    {"errors", "events", "logs", "options", "plugins", "ratelimit", "records", "results", "scores", "secrets",
     "edgetm"},
    {"model"},
    {"vision", "audio", "pose", "capture"},
    {"tasks", "publish"},
    {"train"},  # retraining draws on every stage: sources to collect from, bases, tasks for poses
    {"config"},
    {"runtime"},
    {"commands", "cli", "cli_flags", "cli_groups", "__main__"},
]
STAGES = (2, 3)
ALLOWED_ACROSS = {("capture", "vision"), ("pose", "vision")}


def part(module: str) -> str:
    """The layer part of a module name: edgetm.vision.detect -> vision."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "edgetm"


def rank(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if name in layer)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("edgetm")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edgetm"):
            found.add(node.module)
    return found


def test_imports_flow_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue  # the public API names everything, importing it on first use
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        here = part(module)
        for imported in imports(path):
            there = part(imported)
            if there == here or (here, there) in ALLOWED_ACROSS:
                continue
            if rank(there) > rank(here) or (rank(there) == rank(here) and rank(here) in STAGES):
                wrong.append(f"{module} imports {imported}")
    assert wrong == []
