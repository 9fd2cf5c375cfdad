"""The flags of ``edgetm``'s subcommands, by stage: each group is added to the subcommands that
take it (``run`` takes most of them). A flag names its options class by place and stands for one
field of it (``edgetm.cli_flags``).
"""

from __future__ import annotations

import argparse

from edgetm.cli_flags import Choices, LazyHelp, adder, checker, name_list, options_class, size, triple, zone

MODEL = "edgetm.model.options:ModelOptions"
PREPROCESS = "edgetm.vision.preprocess_options:PreprocessOptions"
DETECT = "edgetm.vision.detect:DetectOptions"
SOUND = "edgetm.audio.classify:SoundOptions"
POSE = "edgetm.pose.base:PoseOptions"
CLASSIFY = "edgetm.vision.classify:ClassifyOptions"
CONFIG = "edgetm.config:Config"
PIPELINE = "edgetm.config:PipelineConfig"
MQTT = "edgetm.publish.mqtt:MqttOptions"


def described(options: str, field: str) -> LazyHelp:
    return LazyHelp(lambda: options_class(options).model_fields[field].description or "")


def model_flags(parser: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        parser.add_argument("model", help=described(MODEL, "path"))
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


def preprocess_flags(parser: argparse.ArgumentParser, dest: str = "preprocess") -> None:
    group = parser.add_argument_group("preprocessing (default: chosen from the model)")
    add = lambda field, *flags, **kw: adder(group, PREPROCESS, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    for field in ("preset", "resize", "interpolation", "normalize"):
        add(field, f"--{field}", choices=Choices(PREPROCESS, field))
    add("mean", "--mean", metavar="R,G,B", parse=triple)
    add("std", "--std", metavar="R,G,B", parse=triple)
    add("color", "--bgr", action="store_const", const="bgr")


def detect_flags(parser: argparse.ArgumentParser, pipeline: bool = False) -> None:
    group = parser.add_argument_group("detection (detector models)")
    add = lambda field, *flags, **kw: adder(group, DETECT, field, *flags, dest=f"detect.{field}", **kw)  # noqa: E731
    add("conf", "--conf", metavar="C")
    add("iou", "--iou", metavar="T")
    add("agnostic", "--agnostic", action="store_true")
    add("classes", "--classes", metavar="A,B", parse=name_list)
    add("max_det", "--max-det", metavar="N")
    add("layout", "--layout", choices=Choices(DETECT, "layout"))
    add("boxes", "--boxes", choices=Choices(DETECT, "boxes", leave_out=("auto",)))
    add("rect", "--rect", action="store_true")
    add("rect", "--no-rect", action="store_const", const=False, show_default=False,
        text="letterbox every frame into the model's full input size, even where rect would apply")
    if pipeline:
        add("zone", "--zone", metavar="X,Y X,Y ...", parse=zone)
        add("snapshot", "--snapshot", action="store_true")


def sound_flags(parser: argparse.ArgumentParser, dest: str = "sound") -> None:
    group = parser.add_argument_group("sound (sound models)")
    add = lambda field, *flags, **kw: adder(group, SOUND, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("overlap", "--overlap", metavar="F")
    add("hop_samples", "--hop-samples", metavar="N")
    add("partial", "--partial", choices=Choices(SOUND, "partial"))
    add("gate_dbfs", "--gate-dbfs", metavar="DB")
    add("background", "--background", metavar="A,B", parse=name_list)


def pose_flags(parser: argparse.ArgumentParser, dest: str = "pose") -> None:
    features = "edgetm.pose.base:PoseFeatureOptions"
    group = parser.add_argument_group("pose (pose estimators)")
    add = lambda field, *flags, **kw: adder(group, POSE, field, *flags, dest=f"{dest}.{field}", **kw)  # noqa: E731
    add("estimator", "--estimator", choices=Choices(POSE, "estimator"))
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


def train_flags(parser: argparse.ArgumentParser) -> None:
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


def run_flags(parser: argparse.ArgumentParser) -> None:
    from edgetm.capture import DEFAULT_SOURCE
    from edgetm.tasks import TASKS

    smoothing, video, camera = ("edgetm.tasks.smoothing:SmoothingOptions", "edgetm.capture.video:VideoOptions",
                                "edgetm.capture.camera:CameraOptions")

    parser.add_argument("model", nargs="?", help="model to run (or give --config)")
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (edgetm config init writes one to "
                        "edit); -v, -q and --log-level apply on top of it, other flags are refused")
    model_flags(parser, positional=False)
    pipeline = parser.add_argument_group("pipeline")
    parser.add_argument("--source", metavar="SOURCE", default=argparse.SUPPRESS,
                        help=LazyHelp(lambda: f"{options_class(PIPELINE).model_fields['source'].description} "
                                      f"(default: {DEFAULT_SOURCE})"))
    adder(pipeline, PIPELINE, "name", "--name", dest="pipeline.name", metavar="NAME")
    adder(pipeline, PIPELINE, "task", "--task", dest="pipeline.task", choices=["auto", *TASKS])
    adder(pipeline, smoothing, "threshold", "--threshold", dest="pipeline.smoothing.threshold", metavar="T")
    adder(pipeline, smoothing, "mode", "--smoothing", dest="pipeline.smoothing.mode",
           choices=Choices(smoothing, "mode"))
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
    adder(out, CONFIG, "log_level", "--log-level", dest="log.level", choices=Choices(CONFIG, "log_level"))
    preprocess_flags(parser, dest="pipeline.preprocess")
    detect_flags(parser, pipeline=True)
    sound_flags(parser, dest="pipeline.sound")
    pose_flags(parser, dest="pipeline.pose")
