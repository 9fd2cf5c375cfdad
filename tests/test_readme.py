"""README's examples are what edgetm accepts: its configuration parses, its Python snippet runs."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from edgetm.config import parse_config
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def test_the_configuration_in_readme_is_valid():
    [text] = blocks("yaml")
    config = parse_config(yaml.safe_load(text), "README")
    assert [p.name for p in config.pipelines] == ["bananas", "yard"]
    assert config.pipelines[1].task_options()["detect"].classes == ("person", "car")


def test_the_classify_snippet_runs():
    snippet = next(b for b in blocks("python") if "edgetm.Classifier(" in b)
    out = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "Ripe"
