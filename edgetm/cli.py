"""The ``edgetm`` command line: arguments only. ``edgetm.commands`` does the work, and heavy modules
load only once a command runs, so ``edgetm --help`` stays fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edgetm import __version__
from edgetm.errors import EdgetmError


def _size(text: str) -> tuple[int, int]:
    """WxH or a single side."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 224 or 320x240") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 224 or 320x240")
    return parts[0], parts[1]


def _triple(text: str) -> tuple[float, float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number or three comma-separated numbers") from None
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"'{text}' needs one value or three (R,G,B)")
    return values[0], values[1], values[2]


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=".tflite or .onnx file, or a Teachable Machine export folder or zip")
    parser.add_argument("--labels", metavar="FILE", help="labels file (default: labels.txt beside the model, "
                        "then labels embedded in the model)")
    group = parser.add_argument_group("runtime")
    group.add_argument("--threads", type=_positive, metavar="N", help="inference threads (default: all cores)")
    group.add_argument("--delegate", metavar="NAME", help="TFLite delegate: 'edgetpu' or a library path")
    group.add_argument("--provider", action="append", metavar="NAME",
                       help="ONNX Runtime execution provider, repeat in order of preference")
    group.add_argument("--input-size", type=_size, metavar="WxH", help="input size for models with dynamic input")


def _preprocess_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("preprocessing (default: chosen from the model)")
    group.add_argument("--resize", choices=["crop", "squash", "letterbox"],
                       help="crop: centre crop (Teachable Machine); squash: stretch; letterbox: pad")
    group.add_argument("--interpolation", choices=["nearest", "linear", "area", "cubic", "lanczos", "pil"],
                       default="linear", help="resampling filter (default: linear); pil: Pillow's Lanczos, "
                       "exactly as Teachable Machine's Python snippet, slow")
    group.add_argument("--normalize", choices=["tm", "unit", "imagenet", "raw", "pixels"],
                       help="tm: [-1,1]; unit: [0,1]; imagenet: mean/std; raw: 0..255; pixels: integer inputs "
                       "take raw pixels")
    group.add_argument("--mean", type=_triple, metavar="R,G,B", help="custom mean in pixel units (with --std)")
    group.add_argument("--std", type=_triple, metavar="R,G,B", help="custom std in pixel units (with --mean)")
    group.add_argument("--bgr", action="store_true", help="feed BGR instead of RGB")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model to run (or give --config)")
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (see edgetm.example.yaml)")
    parser.add_argument("--labels", metavar="FILE", help="labels file")
    parser.add_argument("--source", default="camera:0", metavar="SOURCE",
                        help="camera:0, /dev/video0, picamera2, rtsp://..., a video file, or images (default camera:0)")
    parser.add_argument("--name", default="default", metavar="NAME", help="pipeline name in MQTT topics")
    parser.add_argument("--top-k", type=_positive, default=3, metavar="K")
    parser.add_argument("--threshold", type=_unit_interval, default=0.5, metavar="T",
                        help="a label counts when it scores at least T (default 0.5)")
    parser.add_argument("--smoothing", choices=["consecutive", "average", "off"], default="consecutive",
                        help="consecutive: a label must hold K results; average: mean over a window")
    parser.add_argument("--k", type=_positive, default=3, help="results a new label must hold (default 3)")
    parser.add_argument("--window", type=_positive, default=5, help="results averaged (default 5)")
    parser.add_argument("--max-rate", type=float, metavar="HZ", help="most results published per second")
    parser.add_argument("--max-fps", type=float, metavar="FPS", help="most inferences per second")
    source = parser.add_argument_group("source")
    source.add_argument("--realtime", action="store_true", help="play a video file at its frame rate")
    source.add_argument("--loop", action="store_true", help="play a video file again at its end (with --realtime)")
    source.add_argument("--width", type=_positive, help="camera frame width")
    source.add_argument("--height", type=_positive, help="camera frame height")
    source.add_argument("--fps", type=float, help="camera frame rate")
    out = parser.add_argument_group("output (default: JSON lines on stdout)")
    out.add_argument("--mqtt", metavar="URL", help="mqtt://[user@]host[:port] or mqtts://...")
    out.add_argument("--password-env", metavar="VAR", help="environment variable holding the MQTT password")
    out.add_argument("--password-file", metavar="FILE", help="file holding the MQTT password")
    out.add_argument("--ca-file", metavar="FILE", help="CA bundle for mqtts://")
    out.add_argument("--prefix", default="edgetm", help="MQTT topic prefix (default edgetm)")
    out.add_argument("--device-id", help="device name in MQTT topics (default: hostname)")
    out.add_argument("--ha-discovery", action="store_true", help="announce sensors to Home Assistant")
    out.add_argument("--jsonl", metavar="FILE", help="also append results to FILE")
    out.add_argument("--stdout", action="store_true", help="results on stdout even with --mqtt")
    out.add_argument("--stats-interval", type=float, default=30.0, metavar="S", help="seconds between stats")
    out.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    group = parser.add_argument_group("runtime")
    group.add_argument("--threads", type=_positive, metavar="N", help="inference threads (default: all cores)")
    group.add_argument("--delegate", metavar="NAME", help="TFLite delegate: 'edgetpu' or a library path")
    group.add_argument("--provider", action="append", metavar="NAME", help="ONNX Runtime execution provider")
    group.add_argument("--input-size", type=_size, metavar="WxH", help="input size for models with dynamic input")
    _preprocess_arguments(parser)
    _detect_arguments(parser)
    parser.add_argument("--zone", type=_zone, metavar="X,Y X,Y ...",
                        help="detectors: count only objects whose centre is in this polygon (fractions of the frame)")
    parser.add_argument("--snapshot", action="store_true", help="detectors: publish an annotated JPEG on changes")


def _zone(text: str) -> list[tuple[float, float]]:
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        raise argparse.ArgumentTypeError("a zone is points like '0,0 1,0 1,0.5'") from None
    if len(points) < 3 or any(len(p) != 2 for p in points):
        raise argparse.ArgumentTypeError("a zone needs at least three x,y points")
    return points  # type: ignore[return-value]


def _classes(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError("give class names separated by commas")
    return names


def _detect_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("detection (for detector models)")
    group.add_argument("--conf", type=_unit_interval, default=0.25, help="confidence threshold (default 0.25)")
    group.add_argument("--iou", type=_unit_interval, default=0.45, help="NMS IoU threshold (default 0.45)")
    group.add_argument("--agnostic", action="store_true", help="NMS across classes, not per class")
    group.add_argument("--classes", type=_classes, metavar="A,B", help="keep only these classes, e.g. person,car")
    group.add_argument("--max-det", type=_positive, default=300, help="most detections per image (default 300)")
    group.add_argument("--layout", choices=["yolov8", "yolov5", "yolox", "end2end", "ssd"],
                       help="output layout (default: from the model's shapes)")
    group.add_argument("--boxes", choices=["auto", "normalized", "pixels"], default="auto",
                       help="box units of the output (default: normalized for TFLite, pixels for ONNX)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgetm",
        description="Run Teachable Machine and YOLO exports on small boards as real-time ML sensors.",
    )
    parser.add_argument("--version", action="version", version=f"edgetm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    info = commands.add_parser("info", help="describe a model: tensors, quantization, task, labels")
    _model_arguments(info)
    info.add_argument("--json", action="store_true", help="print one JSON document")

    classify = commands.add_parser("classify", help="classify image files or folders")
    _model_arguments(classify)
    classify.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    classify.add_argument("--top-k", type=_positive, default=3, metavar="K", help="predictions to show (default 3)")
    classify.add_argument("--threshold", type=_unit_interval, default=0.0, metavar="T",
                          help="hide predictions scoring below T; no label when the best does (default 0)")
    classify.add_argument("--json", action="store_true", help="one JSON line per image")
    _preprocess_arguments(classify)

    detect = commands.add_parser("detect", help="detect objects in image files or folders")
    _model_arguments(detect)
    detect.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR", help="image files, folders or globs")
    _detect_arguments(detect)
    detect.add_argument("--json", action="store_true", help="one JSON line per image")
    detect.add_argument("--save-annotated", metavar="DIR", help="write each image with its boxes drawn into DIR")
    _preprocess_arguments(detect)

    run = commands.add_parser("run", help="run a model on a camera or stream and publish what it sees",
                              description="Run until stopped (SIGINT/SIGTERM); results go to MQTT, stdout or a file.")
    _run_arguments(run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
