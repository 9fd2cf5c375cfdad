#!/usr/bin/env bash
# Shared by install-pi.sh and install-jetson.sh: run those, as root. Running one again upgrades:
# /opt/edgetm (the code and its virtualenv) is replaced; /etc/edgetm (configuration, secrets) and
# /var/lib/edgetm (models, results) are kept.
#
#   --model PATH      copy a model (an export folder, a .tflite/.onnx/.task file or an export .zip)
#                     into /var/lib/edgetm/models and run it; without one, the configuration names
#                     the demo model and the service is not enabled
#   --source SOURCE   what the model watches or hears (default: this board's camera)
#   --mqtt URL        the broker (default mqtt://localhost:1883); with a user (mqtt://user@host) the
#                     password is read from EDGETM_MQTT_PASSWORD in /etc/edgetm/environment, where
#                     this script writes it when given in its environment; until it is there, the
#                     service is not started
#   --device-id ID    this board's name in MQTT topics (default: the hostname, made unique with a
#                     short id of this machine where it is a stock name such as raspberrypi)
#   --homeassistant   announce the sensor to Home Assistant (off unless asked)
#   --broker          also install and start mosquitto on this board
#   --no-service      do not enable, start or restart the service
# --model, --source, --mqtt, --device-id and --homeassistant shape a new /etc/edgetm/edgetm.yaml;
# an existing one is kept as it is.
#
# The board scripts set APT_PACKAGES (system packages), VENV_FLAGS (`python -m venv` flags), PIP_EXTRA
# (requirements pinned for the board), DEFAULT_SOURCE and DROPIN (a unit drop-in from systemd/, or
# nothing). For testing this script without a board: EDGETM_ROOT installs under a folder instead of /
# and EDGETM_PYTHON names the interpreter that makes the virtualenv (default python3).
set -euo pipefail

fail() { echo "edgetm install: $*" >&2; exit 1; }
usage() { echo "edgetm install: $* (options: --model PATH, --source SOURCE, --mqtt URL, --device-id ID," \
    "--homeassistant, --broker, --no-service)" >&2; exit 2; }

broker=0 service=1 homeassistant=0 model="" source="${DEFAULT_SOURCE:-camera:0}" device_id=""
mqtt_url="mqtt://localhost:1883"
shaping=()  # options given that only a new configuration takes
while [ "$#" -gt 0 ]; do
    case "$1" in
        --broker) broker=1 ;;
        --no-service) service=0 ;;
        --homeassistant) homeassistant=1; shaping+=("$1") ;;
        --model|--source|--mqtt|--device-id)
            [ "$#" -ge 2 ] && [ -n "$2" ] || usage "$1 needs a value"
            shaping+=("$1")
            case "$1" in
                --model) model="$2" ;;
                --source) source="$2" ;;
                --mqtt) mqtt_url="$2" ;;
                --device-id) device_id="$2" ;;
            esac
            shift ;;
        *) usage "unknown option $1" ;;
    esac
    shift
done

# Values that go into the YAML: refuse what would need quoting rules rather than escape them.
case "$source" in *[\"\\]*|*$'\n'*) fail "--source $source: quotes, backslashes and newlines are not allowed" ;; esac
case "$mqtt_url" in
    mqtt://*|mqtts://*) ;;
    *) fail "--mqtt $mqtt_url: give a URL such as mqtt://broker.lan or mqtts://user@broker.lan" ;;
esac
# A password in the URL would end up in the configuration, shell history and process lists.
case "${mqtt_url#*://}" in
    *:*@*) fail "--mqtt: leave the password out of the URL; put EDGETM_MQTT_PASSWORD=... in /etc/edgetm/environment" ;;
    *[\"\\\ ]*) fail "--mqtt $mqtt_url: quotes, backslashes and spaces are not allowed" ;;
esac
# MQTT topic levels and Home Assistant ids: edgetm's own rule for names (edgetm/config.py).
if [ -n "$device_id" ] && ! [[ "$device_id" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
    fail "--device-id $device_id: use 1 to 64 letters, digits, - or _"
fi
if [ -n "$model" ]; then
    case "$(basename "$model")" in *[\"\\]*|*$'\n'*) fail "--model $model: rename it without quotes or backslashes" ;; esac
    [ -e "$model" ] || fail "--model $model: no such file or folder"
    [ -r "$model" ] || fail "--model $model: cannot be read"
fi

[ "$(id -u)" -eq 0 ] || fail "run as root (sudo)"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(dirname "$script_dir")"
# shellcheck source=scripts/require-64bit.sh
. "$script_dir/require-64bit.sh"

root="${EDGETM_ROOT:-}"
python="${EDGETM_PYTHON:-python3}"
prefix=/opt/edgetm etc=/etc/edgetm state=/var/lib/edgetm
models="$state/models"   # the user's models: readable by the sandboxed service, kept by upgrades
units=/etc/systemd/system

# JetPack 5 and older ship Python 3.8, which current LiteRT, ONNX Runtime and OpenCV wheels do not support.
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    version="$("$python" -V 2>&1 | head -n 1 || true)"
    fail "edgetm needs Python 3.10 or later and this system has ${version:-no $python}:" \
         "use Raspberry Pi OS Bookworm or JetPack 6 (Ubuntu 22.04)"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # a list of package names
apt-get install -y -qq python3-venv python3-pip libportaudio2 ${APT_PACKAGES:-} >/dev/null
if [ "$broker" -eq 1 ]; then
    apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
    systemctl enable --now mosquitto
fi

id edgetm >/dev/null 2>&1 || useradd --system --home-dir "$state" --shell /usr/sbin/nologin edgetm
usermod -a -G video,audio edgetm
# /dev/dma_heap on newer Pi kernels; /dev/dri/renderD* for a Jetson's GPU.
if getent group render >/dev/null; then usermod -a -G render edgetm; fi

# The code is replaced; in its models folder only what this release ships is, so that models a user
# put there under an older installer stay.
install -d -m 0755 "$root$prefix" "$root$prefix/models"
for part in edgetm systemd scripts pyproject.toml MANIFEST.in README.md edgetm.example.yaml; do
    rm -rf "${root}${prefix:?}/$part"
    if [ -e "$source_dir/$part" ]; then cp -a "$source_dir/$part" "$root$prefix/"; fi
done
for shipped in "$source_dir"/models/*; do
    rm -rf "${root}${prefix:?}/models/$(basename "$shipped")"
    cp -a "$shipped" "$root$prefix/models/"
done

venv="$root$prefix/.venv"
# shellcheck disable=SC2086 # a list of flags
[ -x "$venv/bin/python" ] || "$python" -m venv ${VENV_FLAGS:-} "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086 # a list of requirements
"$venv/bin/python" -m pip install --quiet "$root$prefix[audio]" ${PIP_EXTRA:-}
# Which versions pip chose, said, and checked to import together (a numpy pin can otherwise pull
# an older OpenCV, or leave a wheel built for another numpy, without a word).
"$venv/bin/python" -c '
from importlib.metadata import version
names = ["numpy", "opencv-python-headless", "onnxruntime", "ai-edge-litert"]
print("installed:", ", ".join(f"{name} {version(name)}" for name in names))
import numpy, cv2, onnxruntime, ai_edge_litert.interpreter  # noqa' ||
    fail "the installed packages do not import together (see above); run this script again, or report the versions"

install -d -m 0755 "$root$etc"
install -d -m 0750 "$root$state" "$root$models"
chown edgetm:edgetm "$root$state" "$root$models"
if [ -n "$model" ]; then
    name="$(basename "$model")"
    target="$models/$name"
    if [ ! -e "$root$target" ]; then
        cp -R "$model" "$root$target"
        chown -R edgetm:edgetm "$root$target"
        echo "model copied to $target"
    elif diff -r -q "$model" "$root$target" >/dev/null 2>&1; then
        echo "model $target is already there"
    else
        fail "$target exists and differs from $model: rename your model, or remove the old one first"
    fi
else
    target="$prefix/models/banana"
fi

config="$etc/edgetm.yaml"
if [ -z "$device_id" ]; then
    device_id="$(hostname 2>/dev/null || true)"
    device_id="${device_id%%.*}"
    device_id="$(printf '%s' "$device_id" | tr -c 'A-Za-z0-9_-' '_' | cut -c1-55)"
    # Boards that keep their image's name would all publish on the same topics. The suffix is the
    # one edgetm puts in its MQTT client id (edgetm/publish/mqtt_link.py), so the two can be matched.
    case "$device_id" in
        ""|raspberrypi|localhost|ubuntu|debian|jetson|nvidia|tegra-ubuntu|nvidia-desktop)
            machine="$(head -c 64 "$root/etc/machine-id" 2>/dev/null | tr -d '[:space:]' || true)"
            [ -n "$machine" ] || machine="$(cat /proc/sys/kernel/random/uuid)"
            suffix="$(printf 'edgetm:%s' "$machine" | sha256sum | cut -c1-8)"
            device_id="${device_id:-edgetm}-$suffix" ;;
    esac
fi
if [ ! -f "$root$config" ]; then
    pipeline="$(basename "$target")"
    pipeline="$(printf '%s' "${pipeline%.*}" | tr -c 'A-Za-z0-9_.-' '_' | cut -c1-64)"
    {
        echo "# Written by the installer and kept by upgrades; edgetm.example.yaml describes every key."
        echo "device_id: $device_id"
        echo "pipelines:"
        echo "  - name: $pipeline"
        echo "    model: \"$target\""
        echo "    source: \"$source\""
        echo "sinks:"
        echo "  - type: mqtt"
        echo "    url: $mqtt_url"
        case "${mqtt_url#*://}" in *@*) echo "    password_env: EDGETM_MQTT_PASSWORD" ;; esac
        if [ "$homeassistant" -eq 1 ]; then
            echo "    homeassistant:"
            echo "      enabled: true"
        fi
    } > "$root$config"
    chmod 0644 "$root$config"
    echo "wrote $config (device_id: $device_id)"
elif grep -q '^device_id: kitchen-pi\b' "$root$config"; then
    # Earlier installers copied the example's id onto every board, where they took each other's topics.
    sed -i "s/^device_id: kitchen-pi\b/device_id: $device_id/" "$root$config"
    echo "kept $config; its device_id was the example's kitchen-pi and is now $device_id"
elif [ "${#shaping[@]}" -gt 0 ]; then
    echo "kept $config as it is, so ${shaping[*]} did not change it: edit it${model:+ (the model is $target)}"
else
    echo "kept $config"
fi
[ -f "$root$etc/environment" ] || install -m 0600 /dev/null "$root$etc/environment"

# Every configuration, old ones included, must load with the code just installed before a service
# is restarted onto it.
for file in "$root$etc"/*.yaml; do
    "$venv/bin/python" -c '
import sys
from edgetm.config import load_config
from edgetm.errors import EdgetmError
try:
    load_config(sys.argv[1])
except EdgetmError as error:
    sys.exit(f"edgetm install: {sys.argv[2]}: {error}")' "$file" "$etc/$(basename "$file")" ||
        fail "fix it, then: sudo systemctl restart edgetm"
done

# The passwords edgetm.yaml takes from environment variables (password_env): one given to this script
# in its environment (sudo --preserve-env=EDGETM_MQTT_PASSWORD) is written into the environment file,
# in place of any earlier value, quoted as systemd reads it; one neither given nor in the file is
# missing, and the service waits for it. The value is never printed nor put on a command line.
passwords="$("$venv/bin/python" -c '
import os, re, sys
from edgetm.config import load_config

def named(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "password_env" and isinstance(item, str):
                yield item
            else:
                yield from named(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from named(item)

def assigned(line):
    if "=" not in line or line.lstrip().startswith(("#", ";")):
        return None, None
    name, _, value = line.partition("=")
    return name.strip(), value.strip()

config, path = load_config(sys.argv[1]), sys.argv[2]
with open(path, encoding="utf-8") as file:
    lines = file.read().splitlines()
for variable in dict.fromkeys(named(config.model_dump())):
    given = os.environ.get(variable, "")
    if given:
        if "\n" in given:
            sys.exit(f"edgetm install: {variable} holds a line break, which no password does")
        quote = chr(39)
        if quote in given:
            given = chr(34) + re.sub(r"([\x22\x24\x5c\x60])", r"\\\1", given) + chr(34)
        else:
            given = quote + given + quote
        lines = [line for line in lines if assigned(line)[0] != variable] + [f"{variable}={given}"]
        descriptor = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
        os.replace(path + ".new", path)
        print("set", variable)
    elif dict(map(assigned, lines)).get(variable) in (None, "", "\x27\x27", "\x22\x22"):
        print("missing", variable)' "$root$config" "$root$etc/environment")" || exit 1
missing=()
while read -r what variable; do
    case "$what" in
        set) echo "set $variable in $etc/environment" ;;
        missing) missing+=("$variable") ;;
    esac
done <<< "$passwords"

install -m 0644 "$root$prefix/systemd/edgetm.service" "$root$prefix/systemd/edgetm@.service" "$root$units/"
if [ -n "${DROPIN:-}" ]; then
    for unit in edgetm.service edgetm@.service; do
        install -D -m 0644 "$root$prefix/systemd/$DROPIN" "$root$units/$unit.d/$DROPIN"
    done
fi
systemctl daemon-reload
if [ "${#missing[@]}" -gt 0 ]; then
    # Started without it, edgetm would exit at once, and again at each restart until systemd's start
    # limit gave up. Other configurations' services that run are restarted onto the new code.
    if [ "$service" -eq 1 ] && [ -z "$model" ]; then systemctl try-restart 'edgetm@*.service'; fi
    names="${missing[*]}"
    if [ "${#missing[@]}" -eq 1 ]; then
        add="it with echo '${missing[0]}=...'" which="a password"
    else
        add="them with printf '%s\\n'$(printf " '%s=...'" "${missing[@]}")" which="passwords"
    fi
    echo "edgetm install: $etc/environment does not set ${names// /, }, which $config takes $which from," \
         "so the service is not started: add $add | sudo tee -a $etc/environment >/dev/null (or edit that" \
         "file; it stays mode 600), then: sudo systemctl enable --now edgetm"
elif [ "$service" -eq 1 ] && [ -n "$model" ]; then
    systemctl enable edgetm.service
    systemctl restart edgetm.service
    echo "edgetm is running: journalctl -u edgetm -f"
elif [ "$service" -eq 1 ]; then
    # An upgrade: what was running runs the new code; what was off stays off.
    systemctl try-restart edgetm.service 'edgetm@*.service'
    systemctl is-enabled --quiet edgetm.service 2>/dev/null ||
        echo "the service is not enabled: give a model with --model PATH, or try the demo with" \
             "sudo systemctl enable --now edgetm"
fi
summary="your models go in $models (copy them with sudo: the folder is the edgetm user's); configuration: $config"
# A missing password was told above.
[ "${#missing[@]}" -gt 0 ] || summary+="; the MQTT password: EDGETM_MQTT_PASSWORD=... in $etc/environment"
echo "$summary"
