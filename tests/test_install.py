"""The service installers, run against a scratch root (EDGETM_ROOT) with the system's tools replaced by
recorders on PATH: a board's identity, upgrades that keep what the user put there, models given with
--model, no demo announced to Home Assistant, and the refusals (32-bit systems, old Pythons, bad options)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from edgetm.config import load_config, parse_config
from tests.conftest import ROOT

# The system's tools, each recording how it was called. systemctl remembers `enable` so that
# `is-enabled` answers as on a board.
STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$FAKE_LOG"
case "$(basename "$0") $1" in
    "id -u") echo 0 ;;
    "uname -m") echo "$FAKE_MACHINE" ;;
    "dpkg --print-architecture") echo "$FAKE_ARCH" ;;
    "hostname "*) echo "$FAKE_HOSTNAME" ;;
    "systemctl enable") touch "$FAKE_LOG.enabled" ;;
    "systemctl is-enabled") [ -e "$FAKE_LOG.enabled" ] ;;
esac
"""
TOOLS = ["id", "uname", "dpkg", "hostname", "apt-get", "systemctl", "useradd", "usermod", "getent", "chown"]
# The interpreter that makes the virtualenv: records what pip is asked to install instead of
# installing it, and runs everything else (the installer's import and configuration checks) with
# the interpreter running these tests, where edgetm and its dependencies are installed.
PYTHON = """#!/bin/bash
if [ "$1 $2" = "-m venv" ]; then
    echo "venv ${*:3}" >> "$FAKE_LOG"
    mkdir -p "${*: -1}/bin" && ln -sf "$0" "${*: -1}/bin/python"
elif [ "$1 $2" = "-m pip" ]; then
    echo "pip ${*:3}" >> "$FAKE_LOG"
else
    exec "%s" "$@"
fi
"""


@dataclass
class Board:
    root: Path
    env: dict[str, str]

    @property
    def log(self) -> list[str]:
        log = Path(self.env["FAKE_LOG"])
        return log.read_text().splitlines() if log.exists() else []

    @property
    def config_file(self) -> Path:
        return self.root / "etc/edgetm/edgetm.yaml"

    def config(self) -> dict:
        return yaml.safe_load(self.config_file.read_text())

    def install(self, *args: str, script: str = "install-pi.sh", check: bool = True) -> subprocess.CompletedProcess:
        # These tests run as root on CI: an installer that ignored EDGETM_ROOT would install into this machine.
        assert "EDGETM_ROOT" in (ROOT / "scripts/install-service.sh").read_text()
        result = subprocess.run(["bash", str(ROOT / "scripts" / script), *args], env=self.env, capture_output=True,
                                text=True, timeout=120)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


def make_board(where: Path, hostname: str = "raspberrypi", machine_id: str | None = None,
               arch: tuple[str, str] = ("aarch64", "arm64"), python: str | None = None) -> Board:
    root, tools = where / "root", where / "bin"
    (root / "etc/systemd/system").mkdir(parents=True)
    machine_id = machine_id or hashlib.md5(str(where).encode()).hexdigest()  # noqa: S324 - an id, not a secret
    (root / "etc/machine-id").write_text(machine_id + "\n")
    tools.mkdir()
    for tool in TOOLS:
        (tools / tool).write_text(STUB)
        (tools / tool).chmod(0o755)
    (tools / "python").write_text(python or PYTHON % sys.executable)
    (tools / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "EDGETM_ROOT": str(root),
           "EDGETM_PYTHON": str(tools / "python"), "FAKE_LOG": str(where / "log"), "FAKE_HOSTNAME": hostname,
           "FAKE_MACHINE": arch[0], "FAKE_ARCH": arch[1]}
    return Board(root, env)


@pytest.fixture
def board(tmp_path: Path) -> Board:
    return make_board(tmp_path / "board")


def test_two_boards_named_raspberrypi_get_distinct_device_ids(tmp_path: Path):
    first, second = make_board(tmp_path / "a"), make_board(tmp_path / "b")
    first.install()
    second.install()
    ids = [first.config()["device_id"], second.config()["device_id"]]
    assert ids[0] != ids[1] and all(i.startswith("raspberrypi-") for i in ids), ids
    # The suffix is the one edgetm puts in its MQTT client id (8 hex digits of the hashed machine id).
    machine = (first.root / "etc/machine-id").read_text().strip()
    assert ids[0] == "raspberrypi-" + hashlib.sha256(b"edgetm:" + machine.encode()).hexdigest()[:8]
    for board in (first, second):
        assert load_config(board.config_file).device_id == board.config()["device_id"]


def test_a_board_with_its_own_name_keeps_it(tmp_path: Path):
    board = make_board(tmp_path / "b", hostname="garden.lan")
    board.install()
    assert board.config()["device_id"] == "garden"


def test_an_upgrade_keeps_the_users_models_and_configuration(board: Board, tmp_path: Path):
    model = tmp_path / "doorbell.tflite"
    model.write_bytes((ROOT / "models/banana/model.tflite").read_bytes())
    board.install("--model", str(model))
    # What a user does afterwards: another model in the models folder, one left where an older
    # installer put models, and an edited configuration.
    user_model = board.root / "var/lib/edgetm/models/garden.onnx"
    user_model.write_bytes(b"a model")
    legacy = board.root / "opt/edgetm/models/old.tflite"
    legacy.write_bytes(b"an older model")
    edited = board.config_file.read_text().replace("source:", "# edited by hand\n    source:")
    board.config_file.write_text(edited)
    (board.root / "etc/edgetm/environment").write_text("EDGETM_MQTT_PASSWORD=secret\n")

    result = board.install()

    assert user_model.read_bytes() == b"a model" and legacy.read_bytes() == b"an older model"
    assert (board.root / "var/lib/edgetm/models/doorbell.tflite").read_bytes() == model.read_bytes()
    assert board.config_file.read_text() == edited
    assert (board.root / "etc/edgetm/environment").read_text() == "EDGETM_MQTT_PASSWORD=secret\n"
    assert (board.root / "opt/edgetm/models/banana/labels.txt").exists()  # the demo is refreshed
    assert "kept /etc/edgetm/edgetm.yaml" in result.stdout
    assert "systemctl try-restart edgetm.service edgetm@*.service" in board.log
    assert "secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["folder", "file", "zip"])
def test_model_is_copied_to_the_models_folder_and_run(board: Board, tmp_path: Path, kind: str):
    demo = ROOT / "models/banana"
    if kind == "folder":
        model = shutil.copytree(demo, tmp_path / "converted_tflite")
    elif kind == "file":
        model = shutil.copy(demo / "model.onnx", tmp_path / "my bananas.onnx")  # YAML needs it quoted
    else:
        model = tmp_path / "converted_keras.zip"
        with zipfile.ZipFile(model, "w") as archive:
            for name in ("model_unquant.tflite", "labels.txt"):
                archive.write(demo / name, name)
    result = board.install("--model", str(model))

    path = Path("/var/lib/edgetm/models") / Path(model).name
    assert board.config()["pipelines"][0]["model"] == str(path)
    copied = board.root / path.relative_to("/")
    if kind == "folder":
        assert sorted(p.name for p in copied.iterdir()) == sorted(p.name for p in Path(model).iterdir())
    else:
        assert copied.read_bytes() == Path(model).read_bytes()
    assert f"chown -R edgetm:edgetm {board.root}{path}" in board.log
    assert ["systemctl enable edgetm.service", "systemctl restart edgetm.service"] == \
        [line for line in board.log if line.startswith(("systemctl enable", "systemctl restart"))]
    assert "edgetm is running" in result.stdout


def test_options_an_existing_configuration_does_not_take_are_named(board: Board, tmp_path: Path):
    board.install()
    before = board.config_file.read_text()
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "my bananas.onnx")
    result = board.install("--homeassistant", "--model", str(model))
    assert board.config_file.read_text() == before
    assert ("kept /etc/edgetm/edgetm.yaml as it is, so --homeassistant --model did not change it: edit it "
            "(the model is /var/lib/edgetm/models/my bananas.onnx)") in result.stdout.splitlines()


def test_the_same_model_again_is_kept_and_a_different_one_of_that_name_refused(board: Board, tmp_path: Path):
    model = tmp_path / "bananas.onnx"
    model.write_bytes(b"first")
    board.install("--model", str(model))
    assert "already there" in board.install("--model", str(model)).stdout
    model.write_bytes(b"second")
    result = board.install("--model", str(model), check=False)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "exists and differs" in result.stderr
    assert (board.root / "var/lib/edgetm/models/bananas.onnx").read_bytes() == b"first"


def test_a_fresh_install_without_a_model_starts_no_demo_and_announces_nothing(board: Board):
    result = board.install()
    config = load_config(board.config_file)
    assert config.pipelines[0].model.path == "/opt/edgetm/models/banana"
    assert not config.sinks[0].homeassistant.enabled
    assert not [line for line in board.log if line.startswith(("systemctl enable", "systemctl restart",
                                                                "systemctl start"))]
    assert "the service is not enabled" in result.stdout


def test_home_assistant_and_the_broker_when_asked(board: Board):
    board.install("--homeassistant", "--mqtt", "mqtts://edgetm@broker.lan", "--source", "mic",
                  "--device-id", "shed")
    config = load_config(board.config_file)
    sink = config.sinks[0]
    assert config.device_id == "shed" and sink.homeassistant.enabled
    assert sink.url == "mqtts://edgetm@broker.lan"
    assert sink.password_env == "EDGETM_MQTT_PASSWORD"  # noqa: S105 - the variable's name
    assert board.config()["pipelines"][0]["source"] == "mic"


STARTS = ("systemctl enable", "systemctl start", "systemctl restart", "systemctl try-restart")


def started(board: Board) -> list[str]:
    """What the installer asked systemctl to enable, start or restart (mosquitto aside)."""
    return [line for line in board.log if line.startswith(STARTS) and "mosquitto" not in line]


def told(result: subprocess.CompletedProcess, variable: str = "EDGETM_MQTT_PASSWORD") -> str:
    """The one line saying that the service waits for a password, and what to do."""
    [line] = [line for line in (result.stdout + result.stderr).splitlines() if variable in line]
    return line


def environment(board: Board) -> Path:
    return board.root / "etc/edgetm/environment"


def test_a_broker_user_without_its_password_leaves_the_service_off_and_says_what_to_do(board: Board,
                                                                                        tmp_path: Path):
    """Started at once, edgetm would exit for want of the password until systemd's start limit gave up."""
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "bananas.onnx")
    result = board.install("--model", str(model), "--mqtt", "mqtt://edgetm@broker.lan")
    assert started(board) == [] and "edgetm is running" not in result.stdout
    line = told(result)
    assert "the service is not started" in line and "/etc/edgetm/environment" in line
    assert "echo 'EDGETM_MQTT_PASSWORD=...' | sudo tee -a /etc/edgetm/environment" in line
    assert line.endswith("then: sudo systemctl enable --now edgetm")
    assert environment(board).read_text() == "" and environment(board).stat().st_mode & 0o777 == 0o600

    # An upgrade with the password still missing: still off (other configurations' services that run
    # are restarted onto the new code), and said again.
    result = board.install()
    assert started(board) == ["systemctl try-restart edgetm@*.service"]
    assert "the service is not started" in told(result)

    # What the line says to do, then the installer again: now the service runs.
    environment(board).write_text("# the broker's\nEDGETM_MQTT_PASSWORD=hunter2\n")
    result = board.install("--model", str(model))
    assert [line for line in started(board) if "edgetm.service" in line] == \
        ["systemctl enable edgetm.service", "systemctl restart edgetm.service"]
    assert "edgetm is running" in result.stdout and "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize("text", ["", "EDGETM_MQTT_PASSWORD=\n", "# EDGETM_MQTT_PASSWORD=hunter2\n",
                                  "EDGETM_MQTT_PASSWORD=''\n", "OTHER_EDGETM_MQTT_PASSWORD=hunter2\n"])
def test_a_password_commented_out_or_empty_is_missing(board: Board, tmp_path: Path, text: str):
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "bananas.onnx")
    environment(board).parent.mkdir(parents=True)
    environment(board).write_text(text)
    result = board.install("--model", str(model), "--mqtt", "mqtts://edgetm@broker.lan")
    assert started(board) == [] and "the service is not started" in told(result)
    assert environment(board).read_text() == text


def read_as_a_shell_does(file: Path, variable: str) -> str:
    """The value a file of variable assignments gives: single- and double-quoted values follow the same
    rules in systemd's EnvironmentFile as in a POSIX shell."""
    script = f'set -a; . "$1"; printf %s "${{{variable}-unset}}"'
    return subprocess.run(["bash", "-c", script, "bash", str(file)], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("password", ["hunter2", "it's a \"$ecret\" \\ `one`", "  spaced  "])
def test_a_password_given_at_install_goes_into_the_environment_file_only(board: Board, tmp_path: Path,
                                                                         password: str):
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "bananas.onnx")
    board.env["EDGETM_MQTT_PASSWORD"] = password
    result = board.install("--model", str(model), "--mqtt", "mqtt://edgetm@broker.lan")
    assert started(board) == ["systemctl enable edgetm.service", "systemctl restart edgetm.service"]
    assert read_as_a_shell_does(environment(board), "EDGETM_MQTT_PASSWORD") == password
    assert environment(board).stat().st_mode & 0o777 == 0o600
    assert "EDGETM_MQTT_PASSWORD in /etc/edgetm/environment" in result.stdout
    said = result.stdout + result.stderr + "\n".join(board.log)
    assert password.strip() not in said


def test_a_password_given_again_replaces_the_old_one_and_keeps_the_rest(board: Board, tmp_path: Path):
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "bananas.onnx")
    board.env["EDGETM_MQTT_PASSWORD"] = "old"  # noqa: S105 - a test password
    board.install("--model", str(model), "--mqtt", "mqtt://edgetm@broker.lan")
    with environment(board).open("a") as file:
        file.write("OTHER=kept\n")
    board.env["EDGETM_MQTT_PASSWORD"] = "new"  # noqa: S105 - a test password
    board.install()
    assert read_as_a_shell_does(environment(board), "EDGETM_MQTT_PASSWORD") == "new"
    assert read_as_a_shell_does(environment(board), "OTHER") == "kept"
    assert environment(board).read_text().count("EDGETM_MQTT_PASSWORD") == 1


def test_every_password_the_configuration_names_is_looked_for(board: Board):
    """A configuration written by hand: a camera stream's password is needed as the broker's is."""
    board.config_file.parent.mkdir(parents=True)
    board.config_file.write_text(
        "device_id: shed\npipelines:\n  - name: gate\n    model: /opt/edgetm/models/banana\n"
        "    source: {type: network, url: 'rtsp://viewer@camera.lan/stream', password_env: CAMERA_PASSWORD}\n"
        "sinks:\n  - type: mqtt\n    url: mqtt://edgetm@broker.lan\n    password_env: EDGETM_MQTT_PASSWORD\n")
    environment(board).write_text("EDGETM_MQTT_PASSWORD=hunter2\n")
    environment(board).chmod(0o600)
    result = board.install()
    assert [line for line in started(board) if "edgetm.service" in line] == []
    line = told(result, "CAMERA_PASSWORD")
    assert "EDGETM_MQTT_PASSWORD" not in line and "then: sudo systemctl enable --now edgetm" in line


def test_no_service_with_a_missing_password_still_says_so(board: Board, tmp_path: Path):
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "bananas.onnx")
    result = board.install("--no-service", "--model", str(model), "--mqtt", "mqtt://edgetm@broker.lan")
    assert started(board) == []
    assert "the service is not started" in told(result)


def test_an_upgrade_renames_the_example_id_older_installers_gave_every_board(board: Board):
    board.config_file.parent.mkdir(parents=True)
    # The head of what they wrote: the example with only the model path and source changed.
    board.config_file.write_text("device_id: kitchen-pi          # MQTT topics are edgetm/<device_id>/...\n"
                                 "pipelines:\n  - model: /opt/edgetm/models/banana\n    source: picamera2\n")
    result = board.install()
    assert board.config()["device_id"].startswith("raspberrypi-")
    assert "was the example's kitchen-pi" in result.stdout


def test_an_upgrade_stops_before_restarting_onto_a_configuration_it_cannot_load(board: Board):
    board.config_file.parent.mkdir(parents=True)
    board.config_file.write_text("device_id: shed\nunknown_key: 1\npipelines:\n  - model: m.tflite\n"
                                 "    source: picamera2\n")
    result = board.install(check=False)
    assert result.returncode == 1
    assert "/etc/edgetm/edgetm.yaml" in result.stderr and "unknown_key" in result.stderr
    assert not [line for line in board.log if "restart" in line]


@pytest.mark.parametrize("arch", [("armv7l", "armhf"), ("aarch64", "armhf"), ("i686", "i386")])
@pytest.mark.parametrize("script", ["install-pi.sh", "install.sh"])
def test_a_32_bit_system_is_refused_in_one_line(tmp_path: Path, arch: tuple[str, str], script: str):
    board = make_board(tmp_path / "b", arch=arch)
    # install.sh works in the checkout it is in: give it a scratch one, with the recording interpreter.
    scripts = tmp_path / "checkout/scripts"
    shutil.copytree(ROOT / "scripts", scripts)
    board.env["PYTHON"] = board.env["EDGETM_PYTHON"]
    result = subprocess.run(["bash", str(scripts / script)], env=board.env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("edgetm needs a 64-bit OS") and len(result.stderr.splitlines()) == 1
    assert "Raspberry Pi OS (64-bit)" in result.stderr
    assert not [line for line in board.log if line.startswith(("apt-get", "pip", "venv"))]


def test_python_older_than_3_10_is_refused(tmp_path: Path):
    """JetPack 5's Python 3.8: no LiteRT or ONNX Runtime wheels."""
    board = make_board(tmp_path / "b", python='#!/bin/bash\n[ "$1" = -V ] && exec echo "Python 3.8.10"\nexit 1\n')
    result = board.install(script="install-jetson.sh", check=False)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "Python 3.10 or later" in result.stderr and "Python 3.8.10" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--device-id", "kitchen pi"], "--device-id kitchen pi: use 1 to 64 letters"),
    (["--mqtt", "mqtt://edgetm:hunter2@broker"], "leave the password out of the URL"),
    (["--mqtt", "broker.lan"], "give a URL such as"),
    (["--model", "/nonexistent/model.tflite"], "no such file or folder"),
    (["--source"], "--source needs a value"),
    (["--frobnicate"], "unknown option --frobnicate"),
])
def test_bad_options_are_refused_in_one_line_before_anything_changes(board: Board, args: list[str], message: str):
    result = board.install(*args, check=False)
    assert result.returncode in (1, 2) and len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr and "hunter2" not in result.stderr
    assert board.log == [] and not (board.root / "opt").exists()


def test_the_pi_pins_numpy_and_opencv_together_and_says_what_it_got(board: Board):
    result = board.install()
    [venv] = [line for line in board.log if line.startswith("venv ")]
    assert "--system-site-packages" in venv
    [install] = [line for line in board.log if line.startswith("pip install") and "upgrade" not in line]
    assert install.split()[-3:] == [f"{board.root}/opt/edgetm[audio]", "numpy<2", "opencv-python-headless==4.11.0.86"]
    [said] = [line for line in result.stdout.splitlines() if line.startswith("installed: ")]
    assert all(name in said for name in ("numpy ", "opencv-python-headless ", "onnxruntime ", "ai-edge-litert "))


def test_the_jetson_gets_the_gpu_drop_in_and_no_numpy_pin(board: Board):
    board.install(script="install-jetson.sh")
    [install] = [line for line in board.log if line.startswith("pip install") and "upgrade" not in line]
    assert install.endswith("/opt/edgetm[audio]")
    for unit in ("edgetm.service", "edgetm@.service"):
        dropin = board.root / f"etc/systemd/system/{unit}.d/jetson-gpu.conf"
        assert dropin.read_text() == (ROOT / "systemd/jetson-gpu.conf").read_text()
    assert "usermod -a -G render edgetm" in board.log


def test_the_default_source_is_the_boards_camera(tmp_path: Path):
    pi, jetson = make_board(tmp_path / "pi"), make_board(tmp_path / "jetson")
    pi.install()
    jetson.install(script="install-jetson.sh")
    assert [b.config()["pipelines"][0]["source"] for b in (pi, jetson)] == ["picamera2", "camera:0"]


def test_broker_installs_mosquitto_and_no_service_leaves_systemd_units_alone(board: Board, tmp_path: Path):
    model = shutil.copy(ROOT / "models/banana/model.onnx", tmp_path / "bananas.onnx")
    board.install("--broker", "--no-service", "--model", str(model))
    assert "apt-get install -y -qq mosquitto mosquitto-clients" in board.log
    assert "systemctl enable --now mosquitto" in board.log
    assert [line for line in board.log if line.startswith("systemctl") and "mosquitto" not in line] == \
        ["systemctl daemon-reload"]


def test_packages_that_do_not_import_together_stop_the_install(board: Board, tmp_path: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cv2.py").write_text("raise ImportError('numpy.core.multiarray failed to import')\n")
    board.env["PYTHONPATH"] = str(broken)
    result = board.install(check=False)
    assert result.returncode == 1
    assert "edgetm install: the installed packages do not import together" in result.stderr.splitlines()[-1]
    assert not (board.root / "etc/edgetm/edgetm.yaml").exists()


def test_readme_lists_every_option_and_the_pis_pins():
    readme = (ROOT / "README.md").read_text().split("## Deploy")[1].split("\n## ")[0]
    script = (ROOT / "scripts/install-service.sh").read_text()
    accepted = set(re.findall(r"^\s+(--[a-z-]+)[)|]", script, re.MULTILINE))
    accepted |= set(re.findall(r"\|(--[a-z-]+)", script))
    listed = set(re.findall(r"^\| `(--[a-z-]+)", readme, re.MULTILINE))
    assert accepted and listed == accepted
    [pins] = re.findall(r'^export PIP_EXTRA="(.*)"', (ROOT / "scripts/install-pi.sh").read_text(), re.MULTILINE)
    assert all(f"`{pin}`" in readme for pin in pins.split() if "==" in pin)


def test_readme_says_what_the_installer_does_with_passwords_models_and_pipeline_names(board: Board,
                                                                                     tmp_path: Path):
    text = (ROOT / "README.md").read_text().split("## Deploy")[1].split("\n## ")[0]
    readme = " ".join(text.split())  # as read, whatever the line breaks
    # The example: the service waits for the password, and the line says what README says.
    model = shutil.copytree(ROOT / "models/banana", tmp_path / "converted_tflite")
    [example] = re.findall(r"^sudo scripts/install-pi.sh (.*)$", text, re.MULTILINE)
    assert example == "--model ~/converted_tflite --mqtt mqtt://edgetm@broker.lan"
    result = board.install("--model", str(model), "--mqtt", "mqtt://edgetm@broker.lan")
    line = told(result)
    fix = "`echo 'EDGETM_MQTT_PASSWORD=...' | sudo tee -a /etc/edgetm/environment >/dev/null`"
    assert fix.strip("`") in line and fix in readme
    assert line.endswith("then: sudo systemctl enable --now edgetm") and "then `sudo systemctl enable --now edgetm`" \
        in readme
    [given] = re.findall(r"^sudo --preserve-env=(\w+) scripts/install-pi.sh (.*)$", text, re.MULTILINE)
    assert given == ("EDGETM_MQTT_PASSWORD", example)
    assert "`/etc/edgetm/environment` (root's, mode 600)" in readme
    assert environment(board).stat().st_mode & 0o777 == 0o600
    # The pipeline's name, and so its topics.
    assert board.config()["pipelines"][0]["name"] == "converted_tflite"
    assert "`name: converted_tflite`" in readme and "`edgetm/<device_id>/converted_tflite/result`" in readme
    unnamed = {"pipelines": [{"model": "/var/lib/edgetm/models/converted_tflite", "source": "picamera2"}]}
    assert parse_config(unnamed, "README").pipelines[0].name == "default"
    assert "A configuration without `name:` names it `default`" in readme
    # The models folder is the edgetm user's.
    models = board.root / "var/lib/edgetm/models"
    assert models.stat().st_mode & 0o777 == 0o750 and "belongs to the `edgetm` user (mode 750)" in readme
    assert f"chown edgetm:edgetm {board.root}/var/lib/edgetm {models}" in board.log
    # Another model later: copied, and the configuration kept, as README says.
    before = board.config_file.read_text()
    garden = shutil.copytree(ROOT / "models/banana", tmp_path / "garden_tflite")
    result = board.install("--model", str(garden))
    [kept] = [line for line in result.stdout.splitlines() if line.startswith("kept ")]
    assert f"`{kept}`" in readme and board.config_file.read_text() == before
    assert f"chown -R edgetm:edgetm {models}/garden_tflite" in board.log
    assert "`sudo chown -R edgetm:edgetm /var/lib/edgetm/models/garden_tflite`" in readme
