"""What each ``edgetm`` subcommand does with its parsed arguments; each returns the exit status."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from edgetm.errors import ConfigError, EdgetmError

EXIT_USER_ERROR = 1


class _Images:
    """Image arguments, each read and prepared one ahead of its use (decoding overlaps inference).
    An unreadable image is reported on stderr, counted in ``failures`` and skipped."""

    def __init__(self, arguments: Iterable[str], prepare: Callable[[Path], object]) -> None:
        self.arguments = arguments
        self.prepare = prepare
        self.failures = 0

    def __iter__(self) -> Iterator[tuple[Path, object]]:
        from edgetm.runtime.prefetch import prefetch
        from edgetm.vision.image import expand_images

        for path, item in prefetch(expand_images(self.arguments), self.prepare):
            if isinstance(item, EdgetmError):
                self.failures += 1
                print(f"edgetm: {item}", file=sys.stderr)
                continue
            if isinstance(item, Exception):
                raise item
            yield path, item


def detect_options(args: argparse.Namespace):
    from edgetm.vision.detect import BoxUnits, DetectLayout, DetectOptions

    return DetectOptions(conf=args.conf, iou=args.iou, agnostic=args.agnostic, classes=args.classes,
                         max_det=args.max_det, layout=DetectLayout(args.layout) if args.layout else None,
                         boxes=BoxUnits(args.boxes))


def load(args: argparse.Namespace):
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


def info(args: argparse.Namespace) -> int:
    model = load(args)
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


def classify(args: argparse.Namespace) -> int:
    from edgetm.vision.classify import Classifier
    from edgetm.vision.image import read_image

    classifier = Classifier(load(args), top_k=args.top_k, threshold=args.threshold,
                            preprocess=preprocess_options(args))
    if not args.json:
        print(f"{'IMAGE':40s} {'LABEL':16s} {'SCORE':>6s}  {'TIME':>9s}   TOP {args.top_k}")
    images = _Images(args.images, lambda path: classifier.prepare(read_image(path)))
    for path, prepared in images:
        result = classifier.infer(prepared, source=str(path))  # type: ignore[arg-type]
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
        else:
            top = ", ".join(f"{p.label} {p.score:.3f}" for p in result.top)
            total = sum(result.latency_ms.values())
            print(f"{path!s:40s} {result.label or '-':16s} {result.score:6.3f}  {total:6.2f} ms   {top}",
                  flush=True)
    return EXIT_USER_ERROR if images.failures else 0


def detect(args: argparse.Namespace) -> int:
    import cv2

    from edgetm.vision.annotate import annotate
    from edgetm.vision.detect import Detector
    from edgetm.vision.image import read_image

    detector = Detector(load(args), detect_options(args), preprocess_options(args))
    out_dir = Path(args.save_annotated) if args.save_annotated else None
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create {out_dir}: {error.strerror or error}") from None

    def read_and_prepare(path: Path):
        image = read_image(path)
        return image, detector.prepare(image)

    images = _Images(args.images, read_and_prepare)
    for path, (image, prepared) in images:  # type: ignore[misc]
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
    return EXIT_USER_ERROR if images.failures else 0


def config_from_arguments(args: argparse.Namespace):
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


def run(args: argparse.Namespace) -> int:
    import logging

    from edgetm.config import load_config
    from edgetm.runtime.service import Service

    if args.config and args.model:
        raise ConfigError("give a model or --config, not both", "put the model in the configuration file")
    if not args.config and not args.model:
        raise ConfigError("nothing to run", "give a model (edgetm run MODEL --source camera:0) or --config FILE")
    config = load_config(args.config) if args.config else config_from_arguments(args)
    level = (args.log_level or config.log_level).upper()
    logging.basicConfig(level=level, format="edgetm: %(levelname)s %(name)s: %(message)s")
    return Service(config, Path(args.config) if args.config else None).run()


