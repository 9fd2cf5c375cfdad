"""Deployment files: the systemd units verify, the install scripts parse."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = ["edgetm.service", "edgetm@.service"]
README = (ROOT / "README.md").read_text()


DROPIN = "jetson-gpu.conf"  # a Jetson's GPU device nodes, installed beside both units by install-jetson.sh


@pytest.mark.parametrize("dropin", [None, DROPIN])
@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_verify(tmp_path: Path, unit: str, dropin: str | None):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (ROOT / "systemd" / unit).read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "NoNewPrivileges=yes" in text
    # The binary lives in /opt/edgetm on a device; point at one that exists here.
    name = unit.replace("@", "@check")
    (tmp_path / name).write_text(text.replace("/opt/edgetm/.venv/bin/edgetm", shutil.which("true")))
    if dropin:
        (tmp_path / f"{name}.d").mkdir()
        shutil.copy(ROOT / "systemd" / dropin, tmp_path / f"{name}.d" / dropin)
    result = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / name)], capture_output=True, text=True,
                            timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if name in line or "Unknown" in line or "Failed" in line or DROPIN in line]
    assert problems == [], problems


@pytest.mark.parametrize("script", ["install.sh", "install-service.sh", "install-pi.sh", "install-jetson.sh",
                                    "require-64bit.sh", "test.sh", "soak.sh"])
def test_scripts_parse(script: str):
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], timeout=30).returncode == 0


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in readme.split("## Use")[0]
    assert ci.strip().splitlines()[-1] == "scripts/test.sh"


def security(tmp_path: Path, unit: str, dropin: str | None = None) -> list[str]:
    """`systemd-analyze security --offline=yes` of a unit (with a drop-in), line by line."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    name = unit.replace("@", "@check")
    (tmp_path / name).write_text((ROOT / "systemd" / unit).read_text())
    if dropin:
        (tmp_path / f"{name}.d").mkdir()
        shutil.copy(ROOT / "systemd" / dropin, tmp_path / f"{name}.d" / dropin)
    result = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(tmp_path / name)],
                            capture_output=True, text=True, timeout=60)
    if "offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("systemd-analyze is older than 250 and cannot check a unit file offline")
    return result.stdout.splitlines()


def exposure(lines: list[str]) -> float:
    [line] = [line for line in lines if "Overall exposure level" in line]
    return float(line.split(":")[1].split()[0])


@pytest.mark.parametrize("dropin", [None, DROPIN])
@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_are_hardened(tmp_path: Path, unit: str, dropin: str | None):
    """README quotes `systemd-analyze security` for the unit: 1.5 (it was 1.6 before the system calls of
    @resources were refused and the umask closed to the group)."""
    lines = security(tmp_path, unit, dropin)
    assert exposure(lines) <= 1.5, lines[-1]
    assert f"`systemd-analyze security` rates it {exposure(lines)} OK" in " ".join(README.split())
    passed = [line.split()[1] for line in lines if line.startswith("✓")]
    assert "SystemCallFilter=~@resources" in passed and "UMask=" in passed


@pytest.mark.parametrize("unit", UNITS)
def test_the_jetson_drop_in_opens_the_gpu_nodes_and_nothing_else(tmp_path: Path, unit: str):
    [devices] = [line for line in security(tmp_path, unit, DROPIN) if "DeviceAllow=" in line]
    for node in ("/dev/nvmap:rw", "/dev/nvgpu/igpu0/ctrl:rw", "/dev/nvhost-ctrl-gpu:rw", "/dev/host1x-fence:rw",
                 "/dev/dri/renderD128:rw", "char-video4linux:rw"):
        assert node in devices
    text = (ROOT / "systemd" / DROPIN).read_text()
    settings = {line.split("=")[0] for line in text.splitlines() if "=" in line and not line.startswith("#")}
    assert settings == {"DeviceAllow"}
