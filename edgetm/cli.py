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
from edgetm.cli_flags import (
    Choices,
    LazyHelp,
    Parser,
    adder,
    checker,
    name_list,
    options_class,
    size,
    triple,
    verbosity,
    zone,
)
from edgetm.errors import EdgetmError
from edgetm.logs import QUIET_NATIVE_LIBRARIES, setup_logging

MODEL = "edgetm.model.options:ModelOptions"
PREPROCESS = "edgetm.vision.preprocess_options:PreprocessOptions"
DETECT = "edgetm.vision.detect:DetectOptions"
SOUND = "edgetm.audio.classify:SoundOptions"
POSE = "edgetm.pose.base:PoseOptions"
CLASSIFY = "edgetm.vision.classify:ClassifyOptions"
CONFIG = "edgetm.config:Config"
PIPELINE = "edgetm.config:PipelineConfig"
MQTT = "edgetm.publish.mqtt:MqttOptions"


def _description(options: str, field: str) -> LazyHelp:
    return LazyHelp(lambda: options_class(options).model_fields[field].description or "")


def _model_arguments(parser: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        parser.add_argument("model", help=_description(MODEL, "path"))
    adder(parser, MODEL, "labels", "--labels", dest="model.labels", metavar="FILE")
    group = parser.add_argument_group("runtime")
    adder(group, MODEL, "threads", "--threads", dest="model.threads", metavar="N")
    adder(group, MODEL, "delegate", "--delegate", dest="model.delegate", metavar="NAME")
    adder(group, MODEL, "providers", "--provider", dest="model.providers", metavar="NAME", action="append")
    adder(group, MODEL, "spin", "--spin", dest="model.spin", action="store_const", const=True,
          show_default=False)
    adder(group, MODEL, "spin", "--no-spin", dest="model.spin", action="store_const", const=False,
          show_default=False, text="ONNX Runtime: no spinning while idle, even back to back")
    adder(group, MODEL, "input_size", "--input-size", dest="model.input_size", metavar="WxH", parse=size)
    adder(group, MODEL, "input_samples", "--input-samples", dest="model.input_samples", metavar="N")
    adder(group, MODEL, "sample_rate", "--sample-rate", dest="model.sample_rate", metavar="HZ")


def _preprocess_arguments(parser: argparse.ArgumentParser, dest: str = "preprocess") -> None:
    enums = "edgetm.vision.preprocess_options:"
    group = parser.add_argument_group("preprocessing (default: chosen from the model)")
    add = lambda field, *flags, **kw: adder(group, PREPROCESS, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("preset", "--preset", choices=Choices(enums + "Preset"))
    add("resize", "--resize", choices=Choices(enums + "ResizeMode"))
    add("interpolation", "--interpolation", choices=Choices(enums + "Interpolation"))
    add("normalize", "--normalize", choices=["tm", "unit", "imagenet", "raw", "pixels"])
    add("mean", "--mean", metavar="R,G,B", parse=triple)
    add("std", "--std", metavar="R,G,B", parse=triple)
    add("color", "--bgr", action="store_const", const="bgr")


def _detect_arguments(parser: argparse.ArgumentParser, pipeline: bool = False) -> None:
    group = parser.add_argument_group("detection (detector models)")
    add = lambda field, *flags, **kw: adder(group, DETECT, field, *flags, dest=f"detect.{field}", **kw)  # noqa: E731
    add("conf", "--conf", metavar="C")
    add("iou", "--iou", metavar="T")
    add("agnostic", "--agnostic", action="store_true")
    add("classes", "--classes", metavar="A,B", parse=name_list)
    add("max_det", "--max-det", metavar="N")
    add("layout", "--layout", choices=Choices("edgetm.vision.detect:DetectLayout"))
    add("boxes", "--boxes", choices=Choices("edgetm.vision.detect:BoxUnits", leave_out=("auto",)))
    add("rect", "--rect", action="store_true")
    add("rect", "--no-rect", action="store_const", const=False, show_default=False,
        text="letterbox every frame into the model's full input size, even where rect would apply")
    if pipeline:
        add("zone", "--zone", metavar="X,Y X,Y ...", parse=zone)
        add("snapshot", "--snapshot", action="store_true")


def _sound_arguments(parser: argparse.ArgumentParser, dest: str = "sound") -> None:
    group = parser.add_argument_group("sound (sound models)")
    add = lambda field, *flags, **kw: adder(group, SOUND, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("overlap", "--overlap", metavar="F")
    add("hop_samples", "--hop-samples", metavar="N")
    add("partial", "--partial", choices=["drop", "pad"])
    add("gate_dbfs", "--gate-dbfs", metavar="DB")
    add("background", "--background", metavar="A,B", parse=name_list)


def _pose_arguments(parser: argparse.ArgumentParser, dest: str = "pose") -> None:
    features = "edgetm.pose.base:PoseFeatureOptions"
    group = parser.add_argument_group("pose (pose estimators)")
    add = lambda field, *flags, **kw: adder(group, POSE, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("estimator", "--estimator", choices=["auto", "movenet", "blazepose", "yolo-pose", "mediapipe"])
    add("landmarks", "--landmarks", metavar="FILE")
    add("classifier", "--classifier", metavar="FILE", parse=lambda path: {"path": path})
    add("min_keypoint_score", "--min-keypoint-score", metavar="S")
    add("min_keypoints", "--min-keypoints", metavar="N")
    add("conf", "--person-conf", metavar="C")
    add("max_persons", "--max-persons", metavar="N")
    add("tracking", "--no-tracking", action="store_const", const=False, show_default=False,
        text="run the estimator on the whole of every frame, without following the person from the last")
    adder(group, features, "mirror", "--mirror", dest=f"{dest}.features.mirror", action="store_true")
    adder(group, features, "angles", "--no-angles", dest=f"{dest}.features.angles", action="store_const",
           const=False, show_default=False, text="leave the joint angles out of the feature vector (51 values, not "
           "59), for a classifier trained without them")


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    options = "edgetm.train.retrain:TrainOptions"
    add = lambda field, *flags, **kw: adder(parser, options, field, *flags, dest=f"train.{field}", **kw)  # noqa: E731
    add("base", "--base", metavar="MODEL|builtin")
    parser.add_argument("--data", required=True, metavar="DATASET", help="a folder with one folder of examples per "
                        "class (images, .wav sound or pose .json)")
    parser.add_argument("--out", required=True, metavar="OUT", help="the folder to write the model, labels.txt and "
                        "report.json into")
    add("epochs", "--epochs", metavar="N")
    add("batch_size", "--batch-size", metavar="N")
    add("learning_rate", "--learning-rate", metavar="LR")
    add("hidden", "--hidden", metavar="UNITS")
    add("val_split", "--val-split", metavar="F")
    add("seed", "--seed", metavar="N")
    add("augment", "--augment", metavar="COPIES")
    add("patience", "--patience", metavar="EPOCHS")
    add("balance", "--no-balance", action="store_const", const=False, show_default=False,
        text="let classes with more examples count more")
    add("feature_tensor", "--feature-tensor", metavar="NAME")
    add("threads", "--threads", metavar="N")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    swap = parser.add_argument_group("swap the new model into a running edgetm run")
    swap.add_argument("--swap-into", metavar="URL", help="its MQTT broker: mqtt://host[:port] or mqtts://...")
    # Checked as ``edgetm run`` checks them: they make the topic the model is sent on.
    swap.add_argument("--device-id", metavar="ID", type=checker(CONFIG, "device_id"),
                      help="its device id (default: this machine's hostname)")
    swap.add_argument("--pipeline", metavar="NAME", default="default", type=checker(PIPELINE, "name"),
                      help="the pipeline (default: default)")
    swap.add_argument("--prefix", metavar="PREFIX", default="edgetm", type=checker(MQTT, "prefix"),
                      help="its topic prefix (default: edgetm)")
    swap.add_argument("--password-env", metavar="VAR", help="the broker password's environment variable")
    swap.add_argument("--password-file", metavar="FILE", help="a file holding the broker password")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    from edgetm.capture import DEFAULT_SOURCE
    from edgetm.tasks import TASKS

    smoothing, video, camera = ("edgetm.tasks.smoothing:SmoothingOptions", "edgetm.capture.video:VideoOptions",
                                "edgetm.capture.camera:CameraOptions")

    parser.add_argument("model", nargs="?", help="model to run (or give --config)")
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (edgetm config init writes one to "
                        "edit); -v, -q and --log-level apply on top of it, other flags are refused")
    _model_arguments(parser, positional=False)
    pipeline = parser.add_argument_group("pipeline")
    parser.add_argument("--source", metavar="SOURCE", default=argparse.SUPPRESS,
                        help=LazyHelp(lambda: f"{options_class(PIPELINE).model_fields['source'].description} "
                                      f"(default: {DEFAULT_SOURCE})"))
    adder(pipeline, PIPELINE, "name", "--name", dest="pipeline.name", metavar="NAME")
    adder(pipeline, PIPELINE, "task", "--task", dest="pipeline.task", choices=["auto", *TASKS])
    adder(pipeline, smoothing, "threshold", "--threshold", dest="pipeline.smoothing.threshold", metavar="T")
    adder(pipeline, smoothing, "mode", "--smoothing", dest="pipeline.smoothing.mode",
           choices=Choices("edgetm.tasks.smoothing:SmoothingMode"))
    adder(pipeline, smoothing, "k", "--k", dest="pipeline.smoothing.k", metavar="K")
    adder(pipeline, smoothing, "window", "--window", dest="pipeline.smoothing.window", metavar="N")
    adder(pipeline, PIPELINE, "max_rate_hz", "--max-rate", dest="pipeline.max_rate_hz", metavar="HZ")
    adder(pipeline, PIPELINE, "max_fps", "--max-fps", dest="pipeline.max_fps", metavar="FPS")
    adder(pipeline, CLASSIFY, "top_k", "--top-k", dest="pipeline.classify.top_k", metavar="K")
    source = parser.add_argument_group("source")
    adder(source, video, "realtime", "--realtime", dest="source_options.realtime", action="store_true")
    adder(source, video, "loop", "--loop", dest="source_options.loop", action="store_true",
           text=LazyHelp(lambda: options_class(video).model_fields["loop"].description + "; without --realtime, "
                         "every frame as fast as possible, until stopped"))
    for field in ("width", "height", "fps"):
        adder(source, camera, field, f"--{field}", dest=f"source_options.{field}")
    out = parser.add_argument_group("output (default: JSON lines on stdout)")
    adder(out, MQTT, "url", "--mqtt", dest="mqtt.url", metavar="URL", show_default=False)
    adder(out, MQTT, "password_env", "--password-env", dest="mqtt.password_env", metavar="VAR")
    adder(out, MQTT, "password_file", "--password-file", dest="mqtt.password_file", metavar="FILE")
    adder(out, "edgetm.publish.mqtt:TlsOptions", "ca_file", "--ca-file", dest="mqtt.tls.ca_file", metavar="FILE")
    adder(out, MQTT, "prefix", "--prefix", dest="mqtt.prefix", metavar="PREFIX")
    adder(out, "edgetm.publish.homeassistant:HomeAssistantOptions", "enabled", "--ha-discovery",
          dest="mqtt.homeassistant.enabled", action="store_true")
    adder(out, "edgetm.publish.stdout:JsonlOptions", "path", "--jsonl", dest="jsonl.path", metavar="FILE")
    out.add_argument("--stdout", action="store_true", help="results on stdout even with --mqtt")
    adder(out, CONFIG, "device_id", "--device-id", dest="service.device_id", metavar="ID")
    adder(out, CONFIG, "stats_interval_s", "--stats-interval", dest="service.stats_interval_s", metavar="S")
    adder(out, CONFIG, "log_level", "--log-level", dest="log.level", choices=["debug", "info", "warning", "error"])
    _preprocess_arguments(parser, dest="pipeline.preprocess")
    _detect_arguments(parser, pipeline=True)
    _sound_arguments(parser, dest="pipeline.sound")
    _pose_arguments(parser, dest="pipeline.pose")


def _info(commands) -> None:
    info = commands.add_parser("info", help=HELP["info"])
    _model_arguments(info)
    info.add_argument("--json", action="store_true", help="print one JSON document")
    _preprocess_arguments(info)  # info describes what these would run
    adder(info.add_argument_group("detection (detector models)"), DETECT, "layout", "--layout",
          dest="detect.layout", choices=Choices("edgetm.vision.detect:DetectLayout"))


def _classify(commands) -> None:
    classify = commands.add_parser("classify", help=HELP["classify"])
    _model_arguments(classify)
    classify.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    adder(classify, CLASSIFY, "top_k", "--top-k", dest="classify.top_k", metavar="K")
    adder(classify, CLASSIFY, "threshold", "--threshold", dest="classify.threshold", metavar="T")
    classify.add_argument("--json", action="store_true", help="one JSON line per image")
    _preprocess_arguments(classify)


def _detect(commands) -> None:
    detect = commands.add_parser("detect", help=HELP["detect"])
    _model_arguments(detect)
    detect.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    _detect_arguments(detect)
    detect.add_argument("--json", action="store_true", help="one JSON line per image")
    detect.add_argument("--save-annotated", metavar="DIR", help="write each image with its boxes drawn into DIR")
    _preprocess_arguments(detect)


def _pose(commands) -> None:
    pose = commands.add_parser("pose", help=HELP["pose"])
    _model_arguments(pose)
    pose.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    _pose_arguments(pose)
    pose.add_argument("--json", action="store_true", help="one JSON line per image")
    pose.add_argument("--save-annotated", metavar="DIR", help="write each image with its skeletons drawn into DIR")


def _listen(commands) -> None:
    listen = commands.add_parser("listen", help=HELP["listen"])
    _model_arguments(listen)
    listen.add_argument("--source", default=argparse.SUPPRESS, metavar="SOURCE",
                        help="mic, mic:DEVICE, wav:FILE (or a .wav path), audio:URL (default: mic)")
    adder(listen, "edgetm.capture.sound_file:SoundFileOptions", "realtime",
           "--realtime", dest="source_options.realtime", action="store_true")
    adder(listen, SOUND, "top_k", "--top-k", dest="sound.top_k", metavar="K")
    adder(listen, SOUND, "threshold", "--threshold", dest="sound.threshold", metavar="T")
    _sound_arguments(listen)
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
    add("format", "--format", choices=["jpg", "png"])
    add("window_s", "--window-s", metavar="S")
    add("sound_model", "--sound-model", metavar="MODEL")
    add("pose_model", "--pose-model", metavar="MODEL")
    add("wait_s", "--wait-s", metavar="S")


def _train(commands) -> None:
    train = commands.add_parser("train", help=HELP["train"],
                                description="Train a new head (Dense(100, ReLU) + Dense(N, softmax), as Teachable "
                                "Machine's) on the features a base gives your examples, and export a model.")
    _train_arguments(train)


def _run(commands) -> None:
    run = commands.add_parser("run", help=HELP["run"],
                              description="Run until stopped (SIGINT/SIGTERM); results go to MQTT, stdout or a file.")
    _run_arguments(run)
    # Which flag set each destination: with --config, the flags that would be ignored are named.
    run.set_defaults(flag_names={a.dest: max(a.option_strings, key=len) for a in run._actions if a.option_strings})


def _bench(commands) -> None:
    bench = commands.add_parser("bench", help=HELP["bench"], description="Run the model as a pipeline would on "
                                "this machine, and the bare runtime on the same model: per-stage latency, fps, CPU "
                                "and memory.")
    _model_arguments(bench)
    bench.add_argument("--source", default=argparse.SUPPRESS, metavar="SOURCE", help="what to read, as for edgetm "
                       "run (default: a synthetic 640x480 MJPEG video; a sound model needs one)")
    bench.add_argument("--frames", type=_frames, default=200, metavar="N", help="results to measure after the "
                       "warm-up (default: 200)")
    bench.add_argument("--realtime", action="store_true", help="pace the source as a camera delivers it (the "
                       "synthetic video or a video file at its frame rate), with the threads edgetm picks for a "
                       "paced source; the bare runtime is paced the same")
    bench.add_argument("--json", action="store_true", help="print one JSON document")
    _preprocess_arguments(bench)


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
        return handler(args)
    except EdgetmError as error:
        print(f"edgetm: error: {error}", file=sys.stderr)
        return commands.EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head(1) and closed: not an error
        sys.stderr.close()
        return 0


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
