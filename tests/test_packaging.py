"""What pip installs: the wheel's contents and metadata, the build floor, and extras that match the code."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

PYPROJECT = (ROOT / "pyproject.toml").read_text()
# Distribution names whose module is named otherwise.
MODULES = {"opencv-python-headless": "cv2", "paho-mqtt": "paho", "pyyaml": "yaml", "ai-edge-litert": "ai_edge_litert"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def _metadata(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        return archive.read(name).decode().split("\n\n")[0].splitlines()


def _requirements(wheel: Path, extra: str | None) -> list[str]:
    """Requires-Dist of the wheel: the core ones (extra None) or those of one extra."""
    found = []
    for line in _metadata(wheel):
        if line.startswith("Requires-Dist: "):
            requirement, _, marker = line.removeprefix("Requires-Dist: ").partition(";")
            which = re.search(r"""extra == ["'](\w+)["']""", marker)
            if (which.group(1) if which else None) == extra:
                found.append(requirement.strip())
    return found


def _imports() -> set[str]:
    found = set()
    for path in (ROOT / "edgetm").rglob("*.py"):
        found.update(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", path.read_text(), re.MULTILINE))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built as pip builds one, but offline: with the setuptools the dev extra installs
    (pyproject's floor) rather than one fetched into an isolated build environment."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                             "--no-index", "--wheel-dir", str(out), str(ROOT)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    [built] = out.glob("edgetm-*.whl")
    return built


def test_the_wheel_ships_py_typed(wheel: Path):
    assert "edgetm/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_the_wheel_states_its_licence_as_an_expression(wheel: Path):
    assert "License-Expression: Apache-2.0" in _metadata(wheel)


def test_the_build_floor_accepts_the_licence_string():
    """setuptools 76.1.0 and older reject a PEP 639 licence string; 77.0.1 is the first that builds it
    (checked by building edgetm with each in its own virtualenv)."""
    assert re.search(r'^license = "', PYPROJECT, re.MULTILINE)
    requires = re.search(r"^\[build-system\]\nrequires = \[(.*?)\]", re.sub(r"^#.*\n", "", PYPROJECT, flags=re.M),
                         re.MULTILINE | re.DOTALL).group(1)
    floor = re.search(r'"setuptools>=([\d.]+)"', requires).group(1)
    assert tuple(int(part) for part in floor.split(".")) >= (77, 0, 1), requires


@pytest.mark.parametrize("extra", [None, "audio", "pose"])
def test_every_package_installed_is_one_edgetm_imports(wheel: Path, extra: str | None):
    """The default install and the audio and pose extras pull only what edgetm's code uses."""
    requirements = _requirements(wheel, extra)
    imported = _imports()
    unused = [r for r in requirements if MODULES.get(_name(r), _name(r).replace("-", "_")) not in imported]
    assert requirements and unused == []


def test_every_extra_edgetm_names_in_its_errors_exists(wheel: Path):
    named = set()
    for path in (ROOT / "edgetm").rglob("*.py"):
        named.update(re.findall(r"""missing_dependency\([^)]*extra=["'](\w+)["']""", path.read_text()))
        named.update(re.findall(r"""edgetm\[(\w+)\]""", path.read_text()))
    extras = {line.removeprefix("Provides-Extra: ") for line in _metadata(wheel) if line.startswith("Provides-Extra")}
    assert named and named <= extras


def test_the_int8_tooling_is_not_limited_to_x86(wheel: Path):
    """ai-edge-quantizer and what it pins have aarch64 wheels (pip download --platform manylinux_2_28_aarch64
    for Python 3.10 and 3.11), so a marker that kept it off a Pi or Jetson would skip tests for nothing."""
    [quantizer] = [line for line in _metadata(wheel) if line.startswith("Requires-Dist: ai-edge-quantizer")]
    assert "platform_machine" not in quantizer and 'extra == "dev"' in quantizer
