"""What each ``edgetm`` subcommand does with its parsed arguments; each returns the exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from edgetm.errors import ConfigError, EdgetmError
from edgetm.results import to_json

EXIT_USER_ERROR = 1


def given(args: argparse.Namespace) -> dict:
    """The flags a user gave, nested by their dotted destinations: ``{"smoothing": {"k": 5}}``."""
    nested: dict = {}
    for dest, value in vars(args).items():
        if "." not in dest:
            continue
        *parents, last = dest.split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return nested


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


def _options(model: type, data: dict | None, what: str):
    """Options from the flags given for them, checked by their model (errors name the key)."""
    from pydantic import ValidationError

    from edgetm.errors import from_validation

    try:
        return model.model_validate(data or {})
    except ValidationError as error:
        raise from_validation(error, what) from None


def load(args: argparse.Namespace):
    from edgetm.model import ModelOptions, load_model

    return load_model(_options(ModelOptions, {"path": args.model, **given(args).get("model", {})}, "options"))


def preprocess_options(args: argparse.Namespace):
    from edgetm.vision.preprocess import PreprocessOptions

    return _options(PreprocessOptions, given(args).get("preprocess"), "preprocessing options")


def info(args: argparse.Namespace) -> int:
    from edgetm.tasks import TASKS, build_task, choose

    model = load(args)
    info = model.info()
    try:
        info.update(build_task(model, choose(model)).describe())
    except EdgetmError as error:
        info["runs_as"] = f"not runnable as {' or '.join(TASKS)}: {error}"
    if args.json:
        print(to_json(info, str(model.source), indent=2))
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
    if "sound" in info:
        sound = info["sound"]
        background = f"; no event: {', '.join(sound['background'])}" if sound["background"] else ""
        print(f"sound       {sound['rate']} Hz {sound['input']}, windows of {sound['window_samples']} samples every "
              f"{sound['hop_samples']}{background}")
    if "preprocess" in info and "features" in info["preprocess"]:
        p = info["preprocess"]
        print(f"preprocess  edgetm's {p['features']} descriptor ({p['values']} values, from the picture at "
              f"{p['size'][0]}x{p['size'][1]})")
    elif "preprocess" in info:
        p = info["preprocess"]
        norm = p["normalize"] if isinstance(p["normalize"], str) else f"mean {p['normalize']['mean']} " \
            f"std {p['normalize']['std']}"
        print(f"preprocess  {p['size'][0]}x{p['size'][1]} {p['layout']} {p['color']}, {p['resize']} "
              f"({p['interpolation']}), {norm}")
    if "pose" in info:
        pose = info["pose"]
        details = [f"{key} {Path(str(value)).name if key == 'landmarks' else value}" for key, value in pose.items()
                   if key != "estimator"]
        print(f"pose        {pose['estimator']}{': ' if details else ''}{', '.join(details)}")
    labels = info["labels"]
    if labels["count"]:
        more = ", ..." if labels["count"] > len(labels["first"]) else ""
        print(f"labels      {labels['count']} from {labels['source']}: {', '.join(labels['first'])}{more}")
    elif "pose" not in info:  # a pose model's keypoints are named by its skeleton
        print("labels      none (indices are shown; pass --labels FILE)")
    return 0


def classify(args: argparse.Namespace) -> int:
    from edgetm.vision.classify import Classifier, ClassifyOptions
    from edgetm.vision.image import read_image

    options = _options(ClassifyOptions, given(args).get("classify"), "options")
    classifier = Classifier(load(args), options, preprocess_options(args))
    if not args.json:
        print(f"{'IMAGE':40s} {'LABEL':16s} {'SCORE':>6s}  {'TIME':>9s}   TOP {options.top_k}")
    images = _Images(args.images, lambda path: classifier.prepare(read_image(path)))
    for path, prepared in images:
        result = classifier.infer(prepared, source=str(path))  # type: ignore[arg-type]
        if args.json:
            print(to_json(result.to_dict(), str(path)), flush=True)
        else:
            top = ", ".join(f"{p.label} {p.score:.3f}" for p in result.top)
            total = sum(result.latency_ms.values())
            print(f"{path!s:40s} {result.label or '-':16s} {result.score:6.3f}  {total:6.2f} ms   {top}",
                  flush=True)
    return EXIT_USER_ERROR if images.failures else 0


def detect(args: argparse.Namespace) -> int:
    import cv2

    from edgetm.vision.annotate import annotate
    from edgetm.vision.detect import DetectOptions, Detector
    from edgetm.vision.image import read_image

    detector = Detector(load(args), _options(DetectOptions, given(args).get("detect"), "options"),
                        preprocess_options(args))
    out_dir = _output_folder(args.save_annotated)

    def read_and_prepare(path: Path):
        image = read_image(path)
        return image, detector.prepare(image)

    images = _Images(args.images, read_and_prepare)
    for path, (image, prepared) in images:  # type: ignore[misc]
        result = detector.infer(prepared, source=str(path))
        if out_dir is not None:
            cv2.imwrite(str(out_dir / f"{path.stem}.jpg"), annotate(image, result.detections))
        if args.json:
            print(to_json(result.to_dict(), str(path)), flush=True)
            continue
        counts = ", ".join(f"{n} {label}" for label, n in result.counts().items()) or "nothing"
        print(f"{path}: {len(result.detections)} objects ({counts})  {sum(result.latency_ms.values()):.1f} ms")
        for d in result.detections:
            print(f"    {d.label:16s} {d.score:5.2f}  [{', '.join(f'{v:.0f}' for v in d.box)}]")
    return EXIT_USER_ERROR if images.failures else 0


def pose(args: argparse.Namespace) -> int:
    import cv2

    from edgetm.capture.base import Frame
    from edgetm.pose.annotate import draw_skeletons
    from edgetm.pose.base import PoseOptions
    from edgetm.tasks import build_task
    from edgetm.vision.image import read_image

    task = build_task(load(args), _options(PoseOptions, given(args).get("pose"), "options"))
    out_dir = _output_folder(args.save_annotated)
    images = _Images(args.images, read_image)
    for n, (path, image) in enumerate(images):
        result = task.probe(Frame(image=image, index=n, captured=0.0, wall=0.0, name=str(path)))  # type: ignore[arg-type]
        if out_dir is not None:
            cv2.imwrite(str(out_dir / f"{path.stem}.jpg"), draw_skeletons(image, result.persons))  # type: ignore[arg-type]
        if args.json:
            print(to_json(result.to_dict(), str(path)), flush=True)
            continue
        count = len(result.persons)
        print(f"{path}: {count} {'person' if count == 1 else 'persons'}  {sum(result.latency_ms.values()):.1f} ms")
        for number, found in enumerate(result.persons, 1):
            seen = sum(k.visible for k in found.keypoints)
            label = f"  {found.label} {found.label_score:.3f}" if found.label is not None else ""
            print(f"    person {number}  score {found.score:.2f}  {seen}/{len(found.keypoints)} keypoints seen  "
                  f"[{', '.join(f'{v:.0f}' for v in found.box)}]{label}")
    return EXIT_USER_ERROR if images.failures else 0


def _output_folder(folder: str | None) -> Path | None:
    if folder is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create {folder}: {error.strerror or error}") from None
    return Path(folder)


class _Progress:
    """One bar on stderr, redrawn in place on a terminal; elsewhere a line every tenth."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.shown = -1
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, tail: str = "") -> None:
        tenth = done * 10 // max(total, 1)
        if not self.tty and tenth == self.shown and done != total:
            return
        self.shown = tenth
        bar = "#" * (done * 20 // max(total, 1))
        line = f"{self.what:10s} [{bar:20s}] {done}/{total} {tail}"
        print(f"\r{line}" if self.tty else line, end="" if self.tty and done < total else "\n", file=sys.stderr,
              flush=True)


def collect(args: argparse.Namespace) -> int:
    from edgetm.train.collect import CollectOptions
    from edgetm.train.collect import collect as run_collect

    options = _options(CollectOptions, given(args).get("collect"), "options")
    result = run_collect(args.source, args.label, args.out, options, _Progress("saved"))
    skipped = f", {result.skipped} frames without a person skipped" if result.skipped else ""
    print(f"saved {len(result.saved)} example{'' if len(result.saved) == 1 else 's'} into {result.folder}{skipped}")
    if result.ended and len(result.saved) < options.count:
        print(f"edgetm: the source ended after {len(result.saved)} of {options.count} examples", file=sys.stderr)
        return EXIT_USER_ERROR if not result.saved else 0
    return 0


def train(args: argparse.Namespace) -> int:
    from edgetm.train.retrain import TrainOptions
    from edgetm.train.retrain import train as run_training

    options = _options(TrainOptions, given(args).get("train"), "options")
    swap_flags = [f"--{name.replace('_', '-')}" for name in ("device_id", "password_env", "password_file")
                  if getattr(args, name)] + [f"--{n}" for n, default in (("pipeline", "default"), ("prefix", "edgetm"))
                                             if getattr(args, n) != default]
    if swap_flags and not args.swap_into:
        raise ConfigError(f"{', '.join(swap_flags)} without --swap-into would be ignored", "add --swap-into URL")
    examples, epochs = _Progress("features"), _Progress("training")

    def epoch_done(epoch) -> None:
        val = f" val loss {epoch.val_loss:.4f} accuracy {epoch.val_accuracy:.3f}" if epoch.val_loss is not None else ""
        epochs(epoch.epoch, options.epochs, f"loss {epoch.loss:.4f} accuracy {epoch.accuracy:.3f}{val}")

    if args.swap_into:
        from edgetm.train.swap import broker_settings

        broker_settings(args.swap_into, args.password_env, args.password_file)  # mistakes there cost no training
    report = run_training(args.data, args.out, options, epoch_done, examples)
    if args.json:
        print(to_json(report.to_dict(), "training"))
        return 0
    print(f"base        {report.base}")
    print(f"examples    {report.train_examples} training, {report.val_examples} validation "
          f"({report.cached} features from the cache)")
    stopped = f", stopped early at epoch {len(report.epochs)}" if report.stopped_early else ""
    print(f"accuracy    training {report.accuracy['train']:.3f}" +
          (f", validation {report.accuracy['val']:.3f}" if report.accuracy["val"] is not None else "") +
          f" (best epoch {report.best_epoch}{stopped})")
    width = max(len(label) for label in report.labels)
    print(f"confusion   on the {report.confusion_on} examples (rows: true, columns: predicted)")
    for label, row in zip(report.labels, report.confusion, strict=True):
        accuracy = report.per_class[label]
        shown = f"{accuracy:.3f}" if accuracy is not None else "  -  "
        print(f"    {label:{width}s}  {' '.join(f'{v:4d}' for v in row)}   {shown}")
    for note in report.notes:
        print(f"note        {note}")
    from edgetm.train.plots import PLOTS

    drawn = [name for name in PLOTS if (Path(args.out) / name).is_file()]
    print(f"wrote       {report.model}, labels.txt, report.json{''.join(', ' + name for name in drawn)}")
    out = Path(args.out)
    use = f"edgetm pose POSE_MODEL IMAGES --classifier {report.model}" if report.base.startswith("builtin pose") \
        else f"edgetm listen {out} --source mic" if report.base.startswith("builtin log-mel") \
        else f"edgetm classify {out} IMAGES"
    print(f"use it      {use}")
    if args.swap_into:
        from edgetm.config import default_device_id
        from edgetm.train.swap import swap_into

        device = args.device_id or default_device_id()
        try:
            running = swap_into(args.swap_into, device, args.pipeline, Path(args.out), args.prefix,
                                args.password_env, args.password_file)
        except ConfigError as error:
            raise ConfigError(error.message, f"{error.hint + '; ' if error.hint else ''}the model is written: to "
                              f"try again, publish {{\"model\": \"{Path(args.out).resolve()}\"}} to "
                              f"{args.prefix}/{device}/{args.pipeline}/set") from None
        print(f"swapped     {device}/{args.pipeline} now runs {running}")
    return 0


def config_from_arguments(args: argparse.Namespace):
    """The configuration the flags of ``edgetm run MODEL`` describe: only what was given."""
    from edgetm.capture import DEFAULT_SOURCE, parse_source
    from edgetm.config import parse_config

    flags = given(args)
    text = getattr(args, "source", DEFAULT_SOURCE)
    source = parse_source(text)
    extra = flags.get("source_options", {})
    foreign = sorted(f"--{name}" for name in extra if name not in type(source).model_fields)
    if foreign:
        raise ConfigError(f"{', '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not apply to the source "
                          f"{text} ({source.type})")
    if extra:
        source = parse_source(text, **extra)
    sinks: list[dict] = []
    if "mqtt" in flags:
        if "url" not in flags["mqtt"]:
            raise ConfigError("MQTT settings are given without a broker", "add --mqtt URL")
        sinks.append({"type": "mqtt", **flags["mqtt"]})
    if getattr(args, "stdout", False) or not sinks:
        sinks.append({"type": "stdout"})
    if "jsonl" in flags:
        sinks.append({"type": "jsonl", **flags["jsonl"]})
    pipeline = {**flags.get("pipeline", {}), "model": {"path": args.model, **flags.get("model", {})},
                "source": source.model_dump()}
    if "detect" in flags:
        pipeline["detect"] = flags["detect"]
    return parse_config({**flags.get("service", {}), "pipelines": [pipeline], "sinks": sinks}, "options")


def run(args: argparse.Namespace) -> int:
    from edgetm.config import load_config
    from edgetm.logs import setup_logging
    from edgetm.runtime.service import Service

    if args.config and args.model:
        raise ConfigError("give a model or --config, not both", "put the model in the configuration file")
    if not args.config and not args.model:
        raise ConfigError("nothing to run", "give a model (edgetm run MODEL --source camera:0) or --config FILE")
    if args.config:
        ignored = [key for key in given(args) if key != "log"] + (["source"] if hasattr(args, "source") else [])
        if ignored or args.stdout:
            raise ConfigError("with --config, settings belong in the configuration file",
                              "remove the other flags, or run a model without --config")
    config = load_config(args.config) if args.config else config_from_arguments(args)
    setup_logging(given(args).get("log", {}).get("level") or config.log_level)
    return Service(config, Path(args.config) if args.config else None).run()


def listen(args: argparse.Namespace) -> int:
    from edgetm.audio.classify import SoundOptions
    from edgetm.capture import parse_source
    from edgetm.config import PipelineOptions
    from edgetm.errors import SourceError
    from edgetm.runtime.pipeline import Pipeline

    flags = given(args)
    options = _options(SoundOptions, flags.get("sound"), "options")
    text = getattr(args, "source", "mic")
    source = parse_source(text)
    extra = flags.get("source_options", {})
    foreign = sorted(f"--{name}" for name in extra if name not in type(source).model_fields)
    if foreign:
        raise ConfigError(f"{', '.join(foreign)} does not apply to the source {text} ({source.type})")
    pipeline = Pipeline(load(args), parse_source(text, **extra) if extra else source, options, PipelineOptions())
    windows = 0
    for seen in pipeline:
        windows += 1
        result = seen.result
        if windows == 1 and not args.json:
            print(f"{'T_START':>8s} {'T_END':>8s}  {'LABEL':20s} {'SCORE':>6s} {'DBFS':>7s}   TOP {options.top_k}")
        if args.json:
            print(to_json(result.to_dict(), text), flush=True)
            continue
        top = ", ".join(f"{p.label} {p.score:.3f}" for p in result.top)
        label = "(quiet)" if result.gated else result.label or "-"
        print(f"{result.t_start:8.3f} {result.t_end:8.3f}  {label:20s} {result.score:6.3f} {result.dbfs:7.1f}   {top}",
              flush=True)
    if windows == 0 and pipeline.source.problem:
        raise SourceError(pipeline.source.problem)
    if windows == 0:
        task = pipeline.task
        raise ConfigError(f"{text} gave no window of sound: a window is {task.samples} samples at {task.rate} Hz",
                          "give a longer recording, or --partial pad to pad the last window with silence")
    return 0


def devices(args: argparse.Namespace) -> int:
    """Cameras (V4L2) and audio inputs, each said to be missing when it is."""
    cameras = sorted(Path("/dev").glob("video*"), key=lambda p: (len(p.name), p.name))
    print("cameras")
    if not cameras:
        print("  none (no /dev/video* device: plug in a camera, or use picamera2 for a Raspberry Pi camera)")
    for device in cameras:
        name_file = Path("/sys/class/video4linux") / device.name / "name"
        name = name_file.read_text(errors="replace").strip() if name_file.is_file() else "?"
        print(f"  {device}  {name}  (source: camera:{device.name.removeprefix('video')})")
    print("audio inputs")
    try:
        from edgetm.capture.microphone import input_devices

        inputs = input_devices()
    except EdgetmError as error:
        print(f"  unknown: {error}")
        return EXIT_USER_ERROR
    if not inputs:
        print("  none (no input PortAudio can open: plug in a microphone)")
    for device in inputs:
        print(f"  {device['index']:3d}  {device['name']}  {device['default_rate']} Hz, {device['channels']} "
              f"channel{'s' if device['channels'] > 1 else ''}  (source: mic:{device['index']})")
    return 0
