"""The ``edgetm`` command line: arguments only; ``edgetm.commands`` does the work.

Each flag stands for one field of a stage's options model, and takes its help text, its default
(shown, never set) and its validation from that field. Only the flags a user gave reach the
options (``commands.given`` nests them by destination), so every default lives in the options
models alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from edgetm import __version__
from edgetm.errors import EdgetmError, problems
from edgetm.logs import QUIET_NATIVE_LIBRARIES, setup_logging


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line naming the flag and where to look, not the usage again."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists what it takes)\n")


def _size(text: str) -> tuple[int, int]:
    """WxH or a single side."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 224 or 320x240") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 224 or 320x240")
    return parts[0], parts[1]


def _triple(text: str) -> tuple[float, ...]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number or three comma-separated numbers") from None
    return tuple(values * 3 if len(values) == 1 else values)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _zone(text: str) -> dict:
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        raise argparse.ArgumentTypeError("a zone is points like '0,0 1,0 1,0.5'") from None
    return {"points": points}


def _shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def _adder(group, options: type[BaseModel], field: str, *flags: str, dest: str,
           parse: Callable[[str], Any] | None = None, show_default: bool = True, text: str | None = None,
           **kwargs) -> None:
    """Add a flag for ``options.field``, given under ``dest`` (a dotted path into the options);
    ``text`` replaces the field's description where the flag says its opposite (``--no-...``)."""
    info = options.model_fields[field]
    text = text or info.description or ""
    default = info.default
    if "choices" not in kwargs and kwargs.get("action") not in ("store_true", "store_const"):
        kwargs.setdefault("metavar", field.upper())
    if (show_default and default is not PydanticUndefined and default not in (None, False)
            and "default" not in text):
        text += f" (default: {_shown(default)})"
    if kwargs.get("action") in ("store_true", "store_const"):
        group.add_argument(*flags, dest=dest, help=text, default=argparse.SUPPRESS, **kwargs)
        return
    check = _checker(options, field, parse, whole=kwargs.get("action") != "append")
    group.add_argument(*flags, dest=dest, type=check, help=text, default=argparse.SUPPRESS, **kwargs)


def _checker(options: type[BaseModel], field: str, parse: Callable[[str], Any] | None = None,
             whole: bool = True) -> Callable[[str], Any]:
    """An argparse type that checks a flag's value as ``options.field`` checks it (unless not
    ``whole``: an appended value is checked with the rest by the options model)."""
    info = options.model_fields[field]
    adapter: list[TypeAdapter] = []  # built on first use: --help need not pay for it

    def check(text_value: str):
        value = parse(text_value) if parse else text_value
        if not whole:
            return value
        if not adapter:
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            strict_numbers = ConfigDict(allow_inf_nan=options.model_config.get("allow_inf_nan", True))
            adapter.append(TypeAdapter(annotation, config=strict_numbers))
        try:
            adapter[0].validate_python(value)
            return value  # as given: the options model makes it its own type (and argparse checks choices)
        except ValidationError as error:
            raise argparse.ArgumentTypeError("; ".join(problems(error, paths=False))) from None

    check.__name__ = field  # argparse names the type in "invalid <type> value" messages
    return check


def _verbosity(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """-v and -q, on the program and each subcommand (SUPPRESS there keeps what was given before the name)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const="debug", default=default,
                       help="debug lines too: connection attempts, source reopens, stage timings once a minute")
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const="error", default=default,
                       help="errors only")


def _model_arguments(parser: argparse.ArgumentParser, positional: bool = True) -> None:
    from edgetm.model.options import ModelOptions

    if positional:
        parser.add_argument("model", help=ModelOptions.model_fields["path"].description)
    _adder(parser, ModelOptions, "labels", "--labels", dest="model.labels", metavar="FILE")
    group = parser.add_argument_group("runtime")
    _adder(group, ModelOptions, "threads", "--threads", dest="model.threads", metavar="N")
    _adder(group, ModelOptions, "delegate", "--delegate", dest="model.delegate", metavar="NAME")
    _adder(group, ModelOptions, "providers", "--provider", dest="model.providers", metavar="NAME", action="append")
    _adder(group, ModelOptions, "input_size", "--input-size", dest="model.input_size", metavar="WxH", parse=_size)
    _adder(group, ModelOptions, "input_samples", "--input-samples", dest="model.input_samples", metavar="N")
    _adder(group, ModelOptions, "sample_rate", "--sample-rate", dest="model.sample_rate", metavar="HZ")


def _preprocess_arguments(parser: argparse.ArgumentParser, dest: str = "preprocess") -> None:
    from edgetm.vision.preprocess import ColorOrder, Interpolation, PreprocessOptions, ResizeMode

    group = parser.add_argument_group("preprocessing (default: chosen from the model)")
    add = lambda field, *flags, **kw: _adder(group, PreprocessOptions, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("resize", "--resize", choices=[m.value for m in ResizeMode])
    add("interpolation", "--interpolation", choices=[m.value for m in Interpolation])
    add("normalize", "--normalize", choices=["tm", "unit", "imagenet", "raw", "pixels"])
    add("mean", "--mean", metavar="R,G,B", parse=_triple)
    add("std", "--std", metavar="R,G,B", parse=_triple)
    _adder(group, PreprocessOptions, "color", "--bgr", dest=f"{dest}.color", action="store_const",
           const=ColorOrder.BGR.value)


def _detect_arguments(parser: argparse.ArgumentParser, pipeline: bool = False) -> None:
    from edgetm.vision.detect import BoxUnits, DetectLayout, DetectOptions

    group = parser.add_argument_group("detection (detector models)")
    add = lambda field, *flags, **kw: _adder(group, DetectOptions, field, *flags, dest=f"detect.{field}", **kw)  # noqa: E731
    add("conf", "--conf", metavar="C")
    add("iou", "--iou", metavar="T")
    add("agnostic", "--agnostic", action="store_true")
    add("classes", "--classes", metavar="A,B", parse=_names)
    add("max_det", "--max-det", metavar="N")
    add("layout", "--layout", choices=[m.value for m in DetectLayout])
    add("boxes", "--boxes", choices=[m.value for m in BoxUnits if m is not BoxUnits.AUTO])
    if pipeline:
        add("zone", "--zone", metavar="X,Y X,Y ...", parse=_zone)
        add("snapshot", "--snapshot", action="store_true")


def _sound_arguments(parser: argparse.ArgumentParser, dest: str = "sound") -> None:
    from edgetm.audio.classify import SoundOptions

    group = parser.add_argument_group("sound (sound models)")
    add = lambda field, *flags, **kw: _adder(group, SoundOptions, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("overlap", "--overlap", metavar="F")
    add("hop_samples", "--hop-samples", metavar="N")
    add("partial", "--partial", choices=["drop", "pad"])
    add("gate_dbfs", "--gate-dbfs", metavar="DB")
    add("background", "--background", metavar="A,B", parse=_names)


def _pose_arguments(parser: argparse.ArgumentParser, dest: str = "pose") -> None:
    from edgetm.pose.base import PoseFeatureOptions, PoseOptions

    group = parser.add_argument_group("pose (pose estimators)")
    add = lambda field, *flags, **kw: _adder(group, PoseOptions, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("estimator", "--estimator", choices=["auto", "movenet", "blazepose", "yolo-pose", "mediapipe"])
    add("landmarks", "--landmarks", metavar="FILE")
    add("classifier", "--classifier", metavar="FILE", parse=lambda path: {"path": path})
    add("min_keypoint_score", "--min-keypoint-score", metavar="S")
    add("min_keypoints", "--min-keypoints", metavar="N")
    add("conf", "--person-conf", metavar="C")
    add("max_persons", "--max-persons", metavar="N")
    add("tracking", "--no-tracking", action="store_const", const=False, show_default=False,
        text="run the estimator on the whole of every frame, without following the person from the last")
    _adder(group, PoseFeatureOptions, "mirror", "--mirror", dest=f"{dest}.features.mirror", action="store_true")
    _adder(group, PoseFeatureOptions, "angles", "--no-angles", dest=f"{dest}.features.angles", action="store_const",
           const=False, show_default=False, text="leave the joint angles out of the feature vector (51 values, not "
           "59), for a classifier trained without them")


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from edgetm.config import Config, PipelineConfig
    from edgetm.publish.mqtt import MqttOptions
    from edgetm.train.retrain import TrainOptions

    add = lambda field, *flags, **kw: _adder(parser, TrainOptions, field, *flags, dest=f"train.{field}", **kw)  # noqa: E731
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
    swap.add_argument("--device-id", metavar="ID", type=_checker(Config, "device_id"),
                      help="its device id (default: this machine's hostname)")
    swap.add_argument("--pipeline", metavar="NAME", default="default", type=_checker(PipelineConfig, "name"),
                      help="the pipeline (default: default)")
    swap.add_argument("--prefix", metavar="PREFIX", default="edgetm", type=_checker(MqttOptions, "prefix"),
                      help="its topic prefix (default: edgetm)")
    swap.add_argument("--password-env", metavar="VAR", help="the broker password's environment variable")
    swap.add_argument("--password-file", metavar="FILE", help="a file holding the broker password")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    from edgetm.capture import DEFAULT_SOURCE
    from edgetm.capture.camera import CameraOptions
    from edgetm.capture.video import VideoOptions
    from edgetm.config import Config, PipelineConfig
    from edgetm.publish.homeassistant import HomeAssistantOptions
    from edgetm.publish.mqtt import MqttOptions, TlsOptions
    from edgetm.publish.stdout import JsonlOptions
    from edgetm.tasks import TASKS
    from edgetm.tasks.smoothing import SmoothingMode, SmoothingOptions
    from edgetm.vision.classify import ClassifyOptions

    parser.add_argument("model", nargs="?", help="model to run (or give --config)")
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (edgetm config init writes one to "
                        "edit); -v, -q and --log-level apply on top of it, other flags are refused")
    _model_arguments(parser, positional=False)
    pipeline = parser.add_argument_group("pipeline")
    parser.add_argument("--source", metavar="SOURCE", default=argparse.SUPPRESS,
                        help=f"{PipelineConfig.model_fields['source'].description} (default: {DEFAULT_SOURCE})")
    _adder(pipeline, PipelineConfig, "name", "--name", dest="pipeline.name", metavar="NAME")
    _adder(pipeline, PipelineConfig, "task", "--task", dest="pipeline.task", choices=["auto", *TASKS])
    _adder(pipeline, SmoothingOptions, "threshold", "--threshold", dest="pipeline.smoothing.threshold", metavar="T")
    _adder(pipeline, SmoothingOptions, "mode", "--smoothing", dest="pipeline.smoothing.mode",
           choices=[m.value for m in SmoothingMode])
    _adder(pipeline, SmoothingOptions, "k", "--k", dest="pipeline.smoothing.k", metavar="K")
    _adder(pipeline, SmoothingOptions, "window", "--window", dest="pipeline.smoothing.window", metavar="N")
    _adder(pipeline, PipelineConfig, "max_rate_hz", "--max-rate", dest="pipeline.max_rate_hz", metavar="HZ")
    _adder(pipeline, PipelineConfig, "max_fps", "--max-fps", dest="pipeline.max_fps", metavar="FPS")
    _adder(pipeline, ClassifyOptions, "top_k", "--top-k", dest="pipeline.classify.top_k", metavar="K")
    source = parser.add_argument_group("source")
    _adder(source, VideoOptions, "realtime", "--realtime", dest="source_options.realtime", action="store_true")
    _adder(source, VideoOptions, "loop", "--loop", dest="source_options.loop", action="store_true",
           text=VideoOptions.model_fields["loop"].description + "; without --realtime, every frame as fast as "
           "possible, until stopped")
    for field in ("width", "height", "fps"):
        _adder(source, CameraOptions, field, f"--{field}", dest=f"source_options.{field}")
    out = parser.add_argument_group("output (default: JSON lines on stdout)")
    _adder(out, MqttOptions, "url", "--mqtt", dest="mqtt.url", metavar="URL", show_default=False)
    _adder(out, MqttOptions, "password_env", "--password-env", dest="mqtt.password_env", metavar="VAR")
    _adder(out, MqttOptions, "password_file", "--password-file", dest="mqtt.password_file", metavar="FILE")
    _adder(out, TlsOptions, "ca_file", "--ca-file", dest="mqtt.tls.ca_file", metavar="FILE")
    _adder(out, MqttOptions, "prefix", "--prefix", dest="mqtt.prefix", metavar="PREFIX")
    _adder(out, HomeAssistantOptions, "enabled", "--ha-discovery", dest="mqtt.homeassistant.enabled",
           action="store_true")
    _adder(out, JsonlOptions, "path", "--jsonl", dest="jsonl.path", metavar="FILE")
    out.add_argument("--stdout", action="store_true", help="results on stdout even with --mqtt")
    _adder(out, Config, "device_id", "--device-id", dest="service.device_id", metavar="ID")
    _adder(out, Config, "stats_interval_s", "--stats-interval", dest="service.stats_interval_s", metavar="S")
    _adder(out, Config, "log_level", "--log-level", dest="log.level", choices=["debug", "info", "warning", "error"])
    _preprocess_arguments(parser, dest="pipeline.preprocess")
    _detect_arguments(parser, pipeline=True)
    _sound_arguments(parser, dest="pipeline.sound")
    _pose_arguments(parser, dest="pipeline.pose")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgetm",
        description="Run Teachable Machine and YOLO exports on small boards as real-time ML sensors.",
    )
    parser.add_argument("--version", action="version", version=f"edgetm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _verbosity(parser, default=None)
    commands.required = True

    info = commands.add_parser("info", help="describe a model: tensors, quantization, task, labels")
    _model_arguments(info)
    info.add_argument("--json", action="store_true", help="print one JSON document")

    from edgetm.vision.classify import ClassifyOptions

    classify = commands.add_parser("classify", help="classify image files or folders")
    _model_arguments(classify)
    classify.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    _adder(classify, ClassifyOptions, "top_k", "--top-k", dest="classify.top_k", metavar="K")
    _adder(classify, ClassifyOptions, "threshold", "--threshold", dest="classify.threshold", metavar="T")
    classify.add_argument("--json", action="store_true", help="one JSON line per image")
    _preprocess_arguments(classify)

    detect = commands.add_parser("detect", help="detect objects in image files or folders")
    _model_arguments(detect)
    detect.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    _detect_arguments(detect)
    detect.add_argument("--json", action="store_true", help="one JSON line per image")
    detect.add_argument("--save-annotated", metavar="DIR", help="write each image with its boxes drawn into DIR")
    _preprocess_arguments(detect)

    pose = commands.add_parser("pose", help="find people and their keypoints in image files or folders")
    _model_arguments(pose)
    pose.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    _pose_arguments(pose)
    pose.add_argument("--json", action="store_true", help="one JSON line per image")
    pose.add_argument("--save-annotated", metavar="DIR", help="write each image with its skeletons drawn into DIR")

    from edgetm.audio.classify import SoundOptions
    from edgetm.capture.sound_file import SoundFileOptions

    listen = commands.add_parser("listen", help="classify sound from a microphone or a file, window by window")
    _model_arguments(listen)
    listen.add_argument("--source", default=argparse.SUPPRESS, metavar="SOURCE",
                        help="mic, mic:DEVICE, wav:FILE (or a .wav path), audio:URL (default: mic)")
    _adder(listen, SoundFileOptions, "realtime", "--realtime", dest="source_options.realtime", action="store_true")
    _adder(listen, SoundOptions, "top_k", "--top-k", dest="sound.top_k", metavar="K")
    _adder(listen, SoundOptions, "threshold", "--threshold", dest="sound.threshold", metavar="T")
    _sound_arguments(listen)
    listen.add_argument("--json", action="store_true", help="one JSON line per window")

    commands.add_parser("devices", help="list the cameras and audio inputs edgetm can see")

    from edgetm.train.collect import CollectOptions

    collect = commands.add_parser("collect", help="save examples of a class from a camera, microphone or file")
    collect.add_argument("--source", required=True, metavar="SOURCE", help="camera:0, mic, a video, a .wav, a "
                         "folder of images ... (as for edgetm run)")
    collect.add_argument("--label", required=True, metavar="NAME", help="the class: examples go into OUT/NAME/")
    collect.add_argument("--out", required=True, metavar="DATASET", help="the dataset folder")
    add = lambda field, *flags, **kw: _adder(collect, CollectOptions, field, *flags, dest=f"collect.{field}", **kw)  # noqa: E731
    add("count", "--count", metavar="N")
    add("interval_s", "--interval-s", metavar="S")
    add("format", "--format", choices=["jpg", "png"])
    add("window_s", "--window-s", metavar="S")
    add("sound_model", "--sound-model", metavar="MODEL")
    add("pose_model", "--pose-model", metavar="MODEL")
    add("wait_s", "--wait-s", metavar="S")

    train = commands.add_parser("train", help="train a new classification head on your own examples",
                                description="Train a new head (Dense(100, ReLU) + Dense(N, softmax), as Teachable "
                                "Machine's) on the features a base gives your examples, and export a model.")
    _train_arguments(train)

    run = commands.add_parser("run", help="run a model on a camera or stream and publish what it sees",
                              description="Run until stopped (SIGINT/SIGTERM); results go to MQTT, stdout or a file.")
    _run_arguments(run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``edgetm`` program; ``argv`` None means this process's own command line, and only then
    # Which flag set each destination: with --config, the flags that would be ignored are named.
    run.set_defaults(flag_names={a.dest: max(a.option_strings, key=len) for a in run._actions if a.option_strings})

    config = commands.add_parser("config", help="the configuration file: write the example, print its schema")
    actions = config.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    init = actions.add_parser("init", help="write the documented example configuration to edit")
    init.add_argument("path", nargs="?", default="edgetm.yaml", help="where to write it (default: edgetm.yaml)")
    init.add_argument("--force", action="store_true", help="replace the file if it exists")
    actions.add_parser("schema", help="print the configuration's JSON schema")
    for sub in [*commands.choices.values(), *actions.choices.values()]:
        _verbosity(sub)
    are native libraries quieted (a setting of the whole process, which a caller from Python owns)."""
    if argv is None:
        for name, value in QUIET_NATIVE_LIBRARIES.items():
            os.environ.setdefault(name, value)
    setup_logging()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse would blame the top-level command; the flag belongs to a subcommand's list
        print(f"edgetm {args.command}: error: unrecognized arguments: {' '.join(unknown)} (edgetm {args.command} "
              "--help lists what it takes)", file=sys.stderr)
        return 2
    try:
    setup_logging(args.verbosity or "warning")
        from edgetm import commands

        # Each subcommand's handler in edgetm.commands carries its name.
        return getattr(commands, args.command)(args)
    except EdgetmError as error:
        print(f"edgetm: error: {error}", file=sys.stderr)
        return commands.EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head(1) and closed: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
