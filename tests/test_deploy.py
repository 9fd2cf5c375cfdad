"""Deployment files: the systemd units verify, the install scripts parse."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = ["edgetm.service", "edgetm@.service"]


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_verify(tmp_path: Path, unit: str):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (ROOT / "systemd" / unit).read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "NoNewPrivileges=yes" in text
    # The binary lives in /opt/edgetm on a device; point at one that exists here.
    name = unit.replace("@", "@check")
    (tmp_path / name).write_text(text.replace("/opt/edgetm/.venv/bin/edgetm", shutil.which("true")))
    result = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / name)], capture_output=True, text=True,
                            timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if name in line or "Unknown" in line or "Failed" in line]
    assert problems == [], problems


@pytest.mark.parametrize("script", ["install.sh", "install-service.sh", "install-pi.sh", "install-jetson.sh",
                                    "test.sh"])
def test_scripts_parse(script: str):
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], timeout=30).returncode == 0


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in readme.split("## Use")[0]
    assert ci.strip().splitlines()[-1] == "scripts/test.sh"


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_are_hardened(tmp_path: Path, unit: str):
    """README quotes `systemd-analyze security` for the unit: an exposure of 2.5 or less ("OK")."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    name = unit.replace("@", "@check")
    (tmp_path / name).write_text((ROOT / "systemd" / unit).read_text())
    result = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(tmp_path / name)],
                            capture_output=True, text=True, timeout=60)
    if "offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("systemd-analyze is older than 250 and cannot check a unit file offline")
    line = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert line, result.stdout + result.stderr
    exposure = float(line[0].split(":")[1].split()[0])
    assert exposure <= 2.5, line[0]
