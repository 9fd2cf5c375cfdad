"""The ``edgetm`` command line: arguments only; ``edgetm.commands`` does the work.

Each flag stands for one field of a stage's options model, and takes its help text, its default
(shown, never set) and its validation from that field. Only the flags a user gave reach the
options (``commands.given`` nests them by destination), so every default lives in the options
models alone.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from edgetm import __version__
from edgetm.cli_flags import Choices, Parser, adder, verbosity
from edgetm.cli_groups import (
    CLASSIFY,
    DETECT,
    SOUND,
    detect_flags,
    model_flags,
    pose_flags,
    preprocess_flags,
    run_flags,
    sound_flags,
    train_flags,
)
from edgetm.errors import EdgetmError
from edgetm.logs import QUIET_NATIVE_LIBRARIES, setup_logging


def _info(commands) -> None:
    info = commands.add_parser("info", help=HELP["info"])
    model_flags(info)
    info.add_argument("--json", action="store_true", help="print one JSON document")
    preprocess_flags(info)  # info describes what these would run
    adder(info.add_argument_group("detection (detector models)"), DETECT, "layout", "--layout",
          dest="detect.layout", choices=Choices(DETECT, "layout"))


def _classify(commands) -> None:
    classify = commands.add_parser("classify", help=HELP["classify"])
    model_flags(classify)
    classify.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    adder(classify, CLASSIFY, "top_k", "--top-k", dest="classify.top_k", metavar="K")
    adder(classify, CLASSIFY, "threshold", "--threshold", dest="classify.threshold", metavar="T")
    classify.add_argument("--json", action="store_true", help="one JSON line per image")
    preprocess_flags(classify)


def _detect(commands) -> None:
    detect = commands.add_parser("detect", help=HELP["detect"])
    model_flags(detect)
    detect.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    detect_flags(detect)
    detect.add_argument("--json", action="store_true", help="one JSON line per image")
    detect.add_argument("--save-annotated", metavar="DIR", help="write each image with its boxes drawn into DIR")
    preprocess_flags(detect)


def _pose(commands) -> None:
    pose = commands.add_parser("pose", help=HELP["pose"])
    model_flags(pose)
    pose.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    pose_flags(pose)
    pose.add_argument("--json", action="store_true", help="one JSON line per image")
    pose.add_argument("--save-annotated", metavar="DIR", help="write each image with its skeletons drawn into DIR")


def _listen(commands) -> None:
    listen = commands.add_parser("listen", help=HELP["listen"])
    model_flags(listen)
    listen.add_argument("--source", default=argparse.SUPPRESS, metavar="SOURCE",
                        help="mic, mic:DEVICE, wav:FILE (or a .wav path), audio:URL (default: mic)")
    adder(listen, "edgetm.capture.sound_file:SoundFileOptions", "realtime",
           "--realtime", dest="source_options.realtime", action="store_true")
    adder(listen, SOUND, "top_k", "--top-k", dest="sound.top_k", metavar="K")
    adder(listen, SOUND, "threshold", "--threshold", dest="sound.threshold", metavar="T")
    sound_flags(listen)
    listen.add_argument("--json", action="store_true", help="one JSON line per window")


def _devices(commands) -> None:
    commands.add_parser("devices", help=HELP["devices"])


def _collect(commands) -> None:
    collect = commands.add_parser("collect", help=HELP["collect"])
    collect.add_argument("--source", required=True, metavar="SOURCE", help="camera:0, mic, a video, a .wav, a "
                         "folder of images ... (as for edgetm run)")
    collect.add_argument("--label", required=True, metavar="NAME", help="the class: examples go into OUT/NAME/")
    collect.add_argument("--out", required=True, metavar="DATASET", help="the dataset folder")
    options = "edgetm.train.collect:CollectOptions"
    add = lambda field, *flags, **kw: adder(collect, options, field, *flags, dest=f"collect.{field}", **kw)  # noqa: E731
    add("count", "--count", metavar="N")
    add("interval_s", "--interval-s", metavar="S")
    add("format", "--format", choices=Choices(options, "format"))
    add("window_s", "--window-s", metavar="S")
    add("sound_model", "--sound-model", metavar="MODEL")
    add("pose_model", "--pose-model", metavar="MODEL")
    add("wait_s", "--wait-s", metavar="S")


def _train(commands) -> None:
    train = commands.add_parser("train", help=HELP["train"],
                                description="Train a new head (Dense(100, ReLU) + Dense(N, softmax), as Teachable "
                                "Machine's) on the features a base gives your examples, and export a model.")
    train_flags(train)


def _run(commands) -> None:
    run = commands.add_parser("run", help=HELP["run"],
                              description="Run until stopped (SIGINT/SIGTERM); results go to MQTT, stdout or a file.")
    run_flags(run)
    # Which flag set each destination: with --config, the flags that would be ignored are named.
    run.set_defaults(flag_names={a.dest: max(a.option_strings, key=len) for a in run._actions if a.option_strings})


def _bench(commands) -> None:
    bench = commands.add_parser("bench", help=HELP["bench"], description="Run the model as a pipeline would on "
                                "this machine, and the bare runtime on the same model: per-stage latency, fps, CPU "
                                "and memory.")
    model_flags(bench)
    bench.add_argument("--source", default=argparse.SUPPRESS, metavar="SOURCE", help="what to read, as for edgetm "
                       "run (default: a synthetic 640x480 MJPEG video; a sound model needs one)")
    bench.add_argument("--frames", type=_frames, default=200, metavar="N", help="results to measure after the "
                       "warm-up (default: 200)")
    bench.add_argument("--realtime", action="store_true", help="pace the source as a camera delivers it (the "
                       "synthetic video or a video file at its frame rate), with the threads edgetm picks for a "
                       "paced source; the bare runtime is paced the same")
    bench.add_argument("--json", action="store_true", help="print one JSON document")
    preprocess_flags(bench)


def _frames(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of frames from 1 to 100000")
    return int(text)


def _config(commands) -> None:
    config = commands.add_parser("config", help=HELP["config"])
    actions = config.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    init = actions.add_parser("init", help="write the documented example configuration to edit")
    init.add_argument("path", nargs="?", default="edgetm.yaml", help="where to write it (default: edgetm.yaml)")
    init.add_argument("--force", action="store_true", help="replace the file if it exists")
    actions.add_parser("schema", help="print the configuration's JSON schema")
    for sub in actions.choices.values():
        verbosity(sub)


HELP = {
    "info": "describe a model: tensors, quantization, task, labels",
    "classify": "classify image files or folders",
    "detect": "detect objects in image files or folders",
    "pose": "find people and their keypoints in image files or folders",
    "listen": "classify sound from a microphone or a file, window by window",
    "devices": "list the cameras and audio inputs edgetm can see",
    "collect": "save examples of a class from a camera, microphone or file",
    "train": "train a new classification head on your own examples",
    "run": "run a model on a camera or stream and publish what it sees",
    "config": "the configuration file: write the example, print its schema",
    "bench": "measure a model here as a pipeline runs it, beside the bare runtime",
}
SUBCOMMANDS = {"info": _info, "classify": _classify, "detect": _detect, "pose": _pose, "listen": _listen,
               "devices": _devices, "collect": _collect, "train": _train, "run": _run, "config": _config,
               "bench": _bench}


def _wanted(argv: Sequence[str]) -> str | None:
    """The subcommand named on a command line: the first word that is one (flags come before it);
    "" where the program's own help is asked for first, which lists every subcommand."""
    for word in argv:
        if word in ("-h", "--help"):
            return ""
        if not word.startswith("-"):
            return word
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, that subcommand alone, in full (no other word of
    the line can name another), and when ``only`` names none, every subcommand by name and help
    alone (``edgetm --help`` and ``--version`` need no subcommand's flags). Each parser costs its
    flags' making and argparse's translation lookups: a command should not wait for the others'."""
    parser = Parser(
        prog="edgetm",
        description="Run Teachable Machine and YOLO exports on small boards as real-time ML sensors.",
    )
    parser.add_argument("--version", action="version", version=f"edgetm {__version__}")
    verbosity(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name, add in SUBCOMMANDS.items():
        if only in (None, name):
            add(commands)
        elif only not in SUBCOMMANDS:  # with one named, the others need no parser: none of their words will come
            commands.add_parser(name, help=HELP[name])
    for sub in commands.choices.values():
        verbosity(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``edgetm`` program; ``argv`` None means this process's own command line, and only then
    are native libraries quieted and the garbage collector held off during start-up (settings of
    the whole process, which a caller from Python owns)."""
    if argv is None:
        for name, value in QUIET_NATIVE_LIBRARIES.items():
            os.environ.setdefault(name, value)
        gc.disable()  # until start_up_done()
    setup_logging()
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_wanted(words) or "")  # "": no subcommand named, none built in full
    args, unknown = parser.parse_known_args(argv)
    setup_logging(args.verbosity or "warning")
    if unknown:  # argparse would blame the top-level command; the flag belongs to a subcommand's list
        print(f"edgetm {args.command}: error: unrecognized arguments: {' '.join(unknown)} (edgetm {args.command} "
              "--help lists what it takes)", file=sys.stderr)
        return 2
    try:
        from edgetm import commands

        # Each subcommand's handler in edgetm.commands carries its name; only its own module is imported.
        handler = commands.handler(args.command)
        if argv is None:
            start_up_done()
        status = handler(args)
        if argv is None and args.command in ENDS_AT_ONCE:
            end_now(status)
        return status
    except EdgetmError as error:
        print(f"edgetm: error: {error}", file=sys.stderr)
        return commands.EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head(1) and closed: not an error
        sys.stderr.close()
        return 0


# Commands that are done once their output is written: no thread, file or connection of theirs is
# left open when their handler returns.
ENDS_AT_ONCE = frozenset({"classify", "detect", "pose", "info"})


def end_now(status: int) -> None:
    """End this process with ``status`` without Python's teardown: freeing every module's objects,
    then the native libraries' own destructors (LiteRT's alone take about 8 ms here), only keep the
    shell waiting for its prompt, 10-15 ms of a photo's ``classify``. What is registered to run at
    exit still runs (logging's shutdown flushes its handlers), then the standard streams are
    flushed. Where Python has no way to run those first, the process ends as usual."""
    import atexit

    run_at_exit = getattr(atexit, "_run_exitfuncs", None)  # CPython's, what its own exit calls
    if run_at_exit is None:
        return
    run_at_exit()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a pipe closed by its reader (head), or a stream closed
            pass
    os._exit(status)


def start_up_done() -> None:
    """The collector back on, without the objects start-up made. Importing the command's modules
    and building its flags makes tens of thousands of objects that live as long as the process
    (classes, options models, the parser); collecting while they are made scans them again and
    again (about 20 ms of ``edgetm classify``'s start here), and every later full collection, the
    last one at exit included, would scan them once more. Frozen, they are left out of every scan;
    the few hundred unreachable ones among them are kept, not freed."""
    gc.freeze()
    gc.enable()


if __name__ == "__main__":
    sys.exit(main())
