"""Shared fixtures: the model zoo, and models built by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(os.environ.get("EDGETM_ZOO", ROOT.parent / "shared" / "zoo"))
DEMO = ROOT / "models" / "banana"


@pytest.fixture(scope="session")
def zoo() -> Path:
    """The real-model zoo; tests using it skip, saying why, when it is absent."""
    if not (ZOO / "README.md").is_file():
        pytest.skip(f"model zoo not found at {ZOO} (set EDGETM_ZOO)")
    return ZOO
