"""A newcomer's first commands: a configuration to start from, its schema, and what to do without one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from edgetm.cli import main
from edgetm.config import load_config, parse_config
from tests.conftest import ROOT
from tests.test_cli import run_cli

EXAMPLE = ROOT / "edgetm" / "edgetm.example.yaml"


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgetm: error: "), result.stderr
    return lines[0]


def test_the_root_example_is_the_package_s_file():
    link = ROOT / "edgetm.example.yaml"
    assert link.is_symlink() and link.resolve() == EXAMPLE
    # Relative paths count from where the file was named, not where the link points.
    assert load_config(link).pipelines[0].model.path == str(ROOT / "models" / "banana")


def test_config_init_writes_the_example_and_keeps_an_existing_file(tmp_path: Path, capsys):
    target = tmp_path / "edgetm.yaml"
    assert main(["config", "init", str(target)]) == 0
    assert target.read_text() == EXAMPLE.read_text()
    assert f"edgetm run --config {target}" in capsys.readouterr().out
    parse_config(yaml.safe_load(target.read_text()), "written")
    target.write_text("mine")
    line = one_error_line(run_cli("config", "init", str(target)))
    assert f"{target} exists already" in line and "--force" in line
    assert target.read_text() == "mine"
    assert main(["config", "init", str(target), "--force"]) == 0
    assert target.read_text() == EXAMPLE.read_text()


def test_config_init_without_a_path_writes_edgetm_yaml_here(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "edgetm", "config", "init"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "edgetm.yaml").read_text() == EXAMPLE.read_text()


def test_config_init_into_a_folder_or_nowhere_is_one_line(tmp_path: Path):
    assert "is a folder" in one_error_line(run_cli("config", "init", str(tmp_path)))
    assert "cannot write" in one_error_line(run_cli("config", "init", str(tmp_path / "no" / "such" / "x.yaml")))


def test_config_schema_prints_the_json_schema():
    result = run_cli("config", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert {"device_id", "pipelines", "sinks"} <= set(schema["properties"])
    assert "pipelines" in schema["required"]


def test_run_without_anything_to_run_says_how_to_get_a_configuration():
    line = one_error_line(run_cli("run"))
    assert "nothing to run" in line and "edgetm config init FILE" in line


def test_a_missing_configuration_says_how_to_get_one(tmp_path: Path):
    missing = tmp_path / "edgetm.yaml"
    line = one_error_line(run_cli("run", "--config", str(missing)))
    assert f"configuration file {missing} does not exist" in line
    assert "edgetm.example.yaml" in line and f"edgetm config init {missing}" in line


def test_an_installed_package_carries_the_example(tmp_path: Path):
    """The files a wheel gets are what setuptools' build_py collects (bdist_wheel packs them): built
    from a copy of the tree, without network, and run from there, config init writes the same file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "edgetm", tree / "edgetm", ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "edgetm.example.yaml").symlink_to("edgetm/edgetm.example.yaml")
    site = tmp_path / "site"
    built = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                            "--build-lib", str(site)], cwd=tree, capture_output=True, text=True, timeout=240)
    assert built.returncode == 0, built.stderr[-3000:]
    assert (site / "edgetm" / "edgetm.example.yaml").read_bytes() == EXAMPLE.read_bytes()
    written = tmp_path / "out.yaml"
    installed = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import edgetm; print(edgetm.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, env=installed)
    assert where.stdout.strip() == str(site / "edgetm" / "__init__.py"), where
    result = subprocess.run([sys.executable, "-m", "edgetm", "config", "init", str(written)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env=installed)
    assert result.returncode == 0, result.stderr
    assert written.read_text() == EXAMPLE.read_text()


README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    following = re.search(r"\n#{2,3} ", README[start + len(title) + 2:])
    return README[start:start + len(title) + 2 + (following.start() if following else len(README))]


def test_readme_says_how_to_get_the_code_before_installing():
    setup = section("## Set up")
    assert "git clone" in setup and "cd edgetm" in setup
    assert setup.index("git clone") < setup.index("scripts/install.sh")


def test_readme_use_commands_work_as_written():
    """The Use section puts the venv on PATH first, and every command it shows is one edgetm has."""
    from edgetm.cli import build_parser

    use = section("## Use")
    assert "source .venv/bin/activate" in use and ".venv/bin/edgetm" in use
    parser = build_parser()
    names = next(a for a in parser._actions if a.dest == "command").choices
    [commands] = re.findall(r"```sh\n(.*?)```", use, re.DOTALL)
    for line in commands.splitlines():
        words = line.split()
        assert words[0] == "edgetm" and words[1] in names, line
        if words[1] == "config":
            assert words[2] in ("init", "schema"), line


def test_readme_run_examples_parse():
    from edgetm.cli import build_parser

    [commands] = re.findall(r"```sh\n(.*?)```", section("### Run a sensor: `edgetm run`"), re.DOTALL)
    for line in commands.splitlines():
        build_parser().parse_args(line.split("#")[0].split()[1:])


def test_the_activated_venv_has_edgetm_on_path():
    venv = ROOT / ".venv" / "bin" / "activate"
    if not venv.is_file():
        import pytest

        pytest.skip("no .venv here (scripts/install.sh makes it)")
    result = subprocess.run(["bash", "-c", "source .venv/bin/activate && edgetm --version && edgetm -v devices"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert result.returncode in (0, 1), result.stderr  # devices: 1 when PortAudio is missing
    assert result.stdout.startswith("edgetm ") and "cameras" in result.stdout
