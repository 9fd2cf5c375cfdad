"""The ``edgetm`` command. Parses arguments and hands over; heavy modules load only when used."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from edgetm import __version__
from edgetm.errors import ConfigError, EdgetmError

EXIT_USER_ERROR = 1


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


def detect_options(args: argparse.Namespace):
    from edgetm.vision.detect import BoxUnits, DetectLayout, DetectOptions

    return DetectOptions(conf=args.conf, iou=args.iou, agnostic=args.agnostic, classes=args.classes,
                         max_det=args.max_det, layout=DetectLayout(args.layout) if args.layout else None,
                         boxes=BoxUnits(args.boxes))


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


def _load(args: argparse.Namespace):
    from edgetm.model import load_model

    return load_model(args.model, args.labels, num_threads=args.threads, delegate=args.delegate,
                      providers=args.provider, input_size=args.input_size)


def preprocess_options(args: argparse.Namespace):
    from edgetm.vision.preprocess import ColorOrder, Interpolation, Normalization, PreprocessOptions, ResizeMode

    normalize = args.normalize
    if (args.mean is None) != (args.std is None):
        raise ConfigError("--mean and --std go together")
    if args.mean is not None:
        if min(args.std) <= 0:
            raise ConfigError("--std values must be positive")
        normalize = Normalization(args.mean, args.std)
    return PreprocessOptions(
        resize=ResizeMode(args.resize) if args.resize else None,
        interpolation=Interpolation(args.interpolation),
        normalize=normalize,
        color=ColorOrder.BGR if args.bgr else None,
        size=args.input_size,
    )


def _info(args: argparse.Namespace) -> int:
    model = _load(args)
    info = model.info()
    if model.input.image_size() is not None:
        from edgetm.vision.preprocess import Preprocessor

        info["preprocess"] = Preprocessor(model).describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    runtime = ", ".join(f"{k} {v}" if k != "backend" else str(v) for k, v in info.items()
                        if k in ("backend", "threads", "delegate", "providers"))
    print(f"model       {info['source']}")
    print(f"format      {info['format']} ({runtime})")
    print(f"family      {info['family']}")
    print(f"task        {info['task']}")
    for kind in ("inputs", "outputs"):
        for n, tensor in enumerate(info[kind]):
            quant = tensor["quantization"]
            q = f"  scale {quant['scale']} zero point {quant['zero_point']}" if quant else ""
            resolved = f" -> {tensor['resolved_shape']}" if tensor["shape"] != tensor["resolved_shape"] else ""
            print(f"{kind[:-1]:6s} {n}    {tensor['name']}  {tensor['dtype']} {tensor['shape']}{resolved}{q}")
    if "preprocess" in info:
        p = info["preprocess"]
        norm = p["normalize"] if isinstance(p["normalize"], str) else f"mean {p['normalize']['mean']} " \
            f"std {p['normalize']['std']}"
        print(f"preprocess  {p['size'][0]}x{p['size'][1]} {p['layout']} {p['color']}, {p['resize']} "
              f"({p['interpolation']}), {norm}")
    labels = info["labels"]
    if labels["count"]:
        more = ", ..." if labels["count"] > len(labels["first"]) else ""
        print(f"labels      {labels['count']} from {labels['source']}: {', '.join(labels['first'])}{more}")
    else:
        print("labels      none (indices are shown; pass --labels FILE)")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from edgetm.runtime.prefetch import prefetch
    from edgetm.vision.classify import Classifier
    from edgetm.vision.image import expand_images, read_image

    classifier = Classifier(_load(args), top_k=args.top_k, threshold=args.threshold,
                            preprocess=preprocess_options(args))
    failures = 0
    if not args.json:
        print(f"{'IMAGE':40s} {'LABEL':16s} {'SCORE':>6s}  {'TIME':>9s}   TOP {args.top_k}")
    for path, prepared in prefetch(expand_images(args.images), lambda p: classifier.prepare(read_image(p))):
        if isinstance(prepared, EdgetmError):
            failures += 1
            print(f"edgetm: {prepared}", file=sys.stderr)
            continue
        if isinstance(prepared, Exception):
            raise prepared
        result = classifier.infer(prepared, source=str(path))
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
        else:
            top = ", ".join(f"{p.label} {p.score:.3f}" for p in result.top)
            total = sum(result.latency_ms.values())
            print(f"{path!s:40s} {result.label or '-':16s} {result.score:6.3f}  {total:6.2f} ms   {top}",
                  flush=True)
    return EXIT_USER_ERROR if failures else 0


def _detect(args: argparse.Namespace) -> int:
    from pathlib import Path

    import cv2

    from edgetm.runtime.prefetch import prefetch
    from edgetm.vision.annotate import annotate
    from edgetm.vision.detect import Detector
    from edgetm.vision.image import expand_images, read_image

    detector = Detector(_load(args), detect_options(args), preprocess_options(args))
    out_dir = Path(args.save_annotated) if args.save_annotated else None
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create {out_dir}: {error.strerror or error}") from None

    def load(path: Path):
        image = read_image(path)
        return image, detector.prepare(image)

    failures = 0
    for path, loaded in prefetch(expand_images(args.images), load):
        if isinstance(loaded, EdgetmError):
            failures += 1
            print(f"edgetm: {loaded}", file=sys.stderr)
            continue
        if isinstance(loaded, Exception):
            raise loaded
        image, prepared = loaded
        result = detector.infer(prepared, source=str(path))
        if out_dir is not None:
            cv2.imwrite(str(out_dir / f"{path.stem}.jpg"), annotate(image, result.detections))
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
            continue
        counts = ", ".join(f"{n} {label}" for label, n in result.counts().items()) or "nothing"
        print(f"{path}: {len(result.detections)} objects ({counts})  {sum(result.latency_ms.values()):.1f} ms")
        for d in result.detections:
            print(f"    {d.label:16s} {d.score:5.2f}  [{', '.join(f'{v:.0f}' for v in d.box)}]")
    return EXIT_USER_ERROR if failures else 0


def _config_from_arguments(args: argparse.Namespace):
    from edgetm.capture import parse_source
    from edgetm.config import parse_config

    options = {k: v for k, v in (("width", args.width), ("height", args.height), ("fps", args.fps)) if v}
    source = parse_source(args.source)
    if source.type == "video":
        options = {"realtime": args.realtime, "loop": args.loop}
    elif source.type not in ("camera", "picamera2"):
        options = {}
    source = parse_source(args.source, **options) if options else source
    preprocess = {"resize": args.resize, "interpolation": args.interpolation, "normalize": args.normalize,
                  "mean": args.mean, "std": args.std, "bgr": args.bgr}
    sinks: list[dict] = []
    if args.mqtt:
        sinks.append({"type": "mqtt", "url": args.mqtt, "password_env": args.password_env,
                      "password_file": args.password_file, "prefix": args.prefix,
                      "tls": {"ca_file": args.ca_file}, "homeassistant": {"enabled": args.ha_discovery}})
    if args.stdout or not sinks:
        sinks.append({"type": "stdout"})
    if args.jsonl:
        sinks.append({"type": "jsonl", "path": args.jsonl})
    data = {
        "log_level": args.log_level or "info",
        "stats_interval_s": args.stats_interval,
        "pipelines": [{
            "name": args.name,
            "model": {"path": args.model, "labels": args.labels, "threads": args.threads, "delegate": args.delegate,
                      "providers": args.provider, "input_size": args.input_size},
            "source": source.model_dump(),
            "preprocess": {k: v for k, v in preprocess.items() if v is not None},
            "top_k": args.top_k,
            "threshold": args.threshold,
            "smoothing": {"mode": args.smoothing, "k": args.k, "window": args.window},
            "max_rate_hz": args.max_rate,
            "max_fps": args.max_fps,
            "detect": {"conf": args.conf, "iou": args.iou, "agnostic": args.agnostic,
                       "classes": list(args.classes) if args.classes else None, "max_det": args.max_det,
                       "layout": args.layout, "boxes": args.boxes},
            "zone": {"points": args.zone} if args.zone else None,
            "snapshot": args.snapshot,
        }],
        "sinks": sinks,
    }
    if args.device_id:
        data["device_id"] = args.device_id
    return parse_config(data, "options")


def _run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from edgetm.config import load_config
    from edgetm.runtime.service import Service

    if args.config and args.model:
        raise ConfigError("give a model or --config, not both", "put the model in the configuration file")
    if not args.config and not args.model:
        raise ConfigError("nothing to run", "give a model (edgetm run MODEL --source camera:0) or --config FILE")
    config = load_config(args.config) if args.config else _config_from_arguments(args)
    level = (args.log_level or config.log_level).upper()
    logging.basicConfig(level=level, format="edgetm: %(levelname)s %(name)s: %(message)s")
    return Service(config, Path(args.config) if args.config else None).run()


_COMMANDS = {"info": _info, "classify": _classify, "detect": _detect, "run": _run}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except EdgetmError as error:
        print(f"edgetm: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head(1) and closed: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
