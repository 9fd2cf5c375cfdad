"""The bundled demo model: present, small, right on its samples, and reproducible by its script."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgetm.model import Family, load_model
from edgetm.vision.classify import Classifier
from edgetm.vision.image import read_image
from tests.conftest import DEMO, ROOT

EXPORTS = ("model_unquant.tflite", "model.tflite", "model.onnx")


def expected_label(sample: Path) -> str:
    return sample.stem.rsplit("-", 1)[0].replace("-", " ").capitalize()


def test_demo_is_a_small_teachable_machine_export():
    assert (DEMO / "labels.txt").read_text() == "0 Unripe\n1 Ripe\n2 Overripe\n3 No banana\n"
    assert sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file()) < 2 * 1024 * 1024
    assert load_model(DEMO).family is Family.TEACHABLE_MACHINE


@pytest.mark.parametrize("export", EXPORTS)
def test_every_export_gets_every_sample_right(export):
    classifier = Classifier(load_model(DEMO / export))
    samples = sorted((DEMO / "samples").glob("*.jpg"))
    assert len({expected_label(s) for s in samples}) == 4
    for sample in samples:
        assert classifier(read_image(sample)).label == expected_label(sample), sample.name


def test_manifest_describes_these_files():
    manifest = json.loads((DEMO / "manifest.json").read_text())
    for export in EXPORTS:
        assert manifest["accuracy"][export] >= 0.95
        assert manifest["sha256"][export] == hashlib.sha256((DEMO / export).read_bytes()).hexdigest()


def test_the_script_builds_a_model(tmp_path: Path):
    """A short run: the script works end to end (accuracy is the full run's business)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make-demo-model.py"), "--out", str(tmp_path), "--train-per-class",
         "12", "--test-per-class", "4", "--epochs", "2", "--min-accuracy", "0"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "held-out accuracy" in result.stdout
    for export in EXPORTS:
        assert load_model(tmp_path / export).labels == ["Unripe", "Ripe", "Overripe", "No banana"]
