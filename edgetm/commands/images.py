"""``edgetm classify``, ``detect`` and ``pose``: a model on image files, folders and globs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from edgetm.commands.common import EXIT_USER_ERROR, checked, given, load, preprocess_options
from edgetm.errors import ConfigError, EdgetmError
from edgetm.logs import STATUS
from edgetm.results import to_json

PILLOW_PHOTOS = 32  # photos up to which classify decodes with Pillow and leaves OpenCV unimported


def image_paths(args: argparse.Namespace) -> list[Path]:
    """The image arguments, folders and globs expanded, checked before the model is loaded: a video
    or sound file among them is an error naming the command that takes it."""
    from edgetm.capture import SOUND_SUFFIXES, VIDEO_SUFFIXES
    from edgetm.vision.image import expand_images

    paths = expand_images(args.images)
    for path in paths:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            raise ConfigError(f"{path} is a video, not an image",
                              f"to run the model on its frames, use edgetm run {args.model} --source {path}")
        if path.suffix.lower() in SOUND_SUFFIXES:
            raise ConfigError(f"{path} is a sound file, not an image",
                              f"use edgetm listen {args.model} --source {path}")
    return paths


def say(line: str) -> None:
    """A result line on stdout, above the progress line."""
    with STATUS.above():
        print(line, flush=True)


class _Images:
    """Image files, each read and prepared one ahead of its use (decoding overlaps inference), with
    "37/120 images" on a terminal. An unreadable image is reported on stderr, counted in
    ``failures`` and skipped."""

    def __init__(self, paths: list[Path], prepare: Callable[[Path], object]) -> None:
        self.paths = paths
        self.prepare = prepare
        self.failures = 0

    def __iter__(self) -> Iterator[tuple[Path, object]]:
        from edgetm.runtime.prefetch import prefetch

        total = len(self.paths)
        try:
            for done, (path, item) in enumerate(prefetch(self.paths, self.prepare), 1):
                if isinstance(item, EdgetmError):
                    self.failures += 1
                    with STATUS.above():
                        print(f"edgetm: {item}", file=sys.stderr)
                elif isinstance(item, Exception):
                    raise item
                else:
                    yield path, item
                if total > 1:
                    STATUS.show(f"{done}/{total} images", force=done == total)
        finally:
            STATUS.clear()


def classify(args: argparse.Namespace) -> int:
    from edgetm.vision.classify import Classifier, ClassifyOptions
    from edgetm.vision.image import read_image
    from edgetm.vision.preprocess import Interpolation

    options = checked(ClassifyOptions, given(args).get("classify"), "options")
    paths = image_paths(args)
    classifier = Classifier(load(args), options, preprocess_options(args), still=True)  # photos, not live video
    if not args.json:
        print(f"{'IMAGE':40s} {'LABEL':16s} {'SCORE':>6s}  {'TIME':>9s}   TOP {options.top_k}")
    # A photo Pillow resamples anyway is decoded by Pillow too: the same pixels, without OpenCV's import
    # (about 15 ms). Its values are then looked up by numpy, 0.3 ms an image slower than OpenCV: for
    # many photos, OpenCV pays for itself.
    pillow = (getattr(classifier.preprocessor, "interpolation", None) is Interpolation.PIL
              and len(paths) <= PILLOW_PHOTOS)
    images = _Images(paths, lambda path: classifier.prepare(read_image(path, with_pillow=pillow)))
    for path, prepared in images:
        result = classifier.infer(prepared, source=str(path))  # type: ignore[arg-type]
        if args.json:
            say(to_json(result.to_dict(), str(path)))
        else:
            top = ", ".join(f"{p.label} {p.score:.3f}" for p in result.top)
            total = sum(result.latency_ms.values())
            say(f"{path!s:40s} {result.label or '-':16s} {result.score:6.3f}  {total:6.2f} ms   {top}")
    return EXIT_USER_ERROR if images.failures else 0


def detect(args: argparse.Namespace) -> int:
    import cv2

    from edgetm.model.model import TaskKind
    from edgetm.vision.annotate import annotate
    from edgetm.vision.detect import DetectOptions, Detector
    from edgetm.vision.image import read_image

    options = checked(DetectOptions, given(args).get("detect"), "options")
    paths = image_paths(args)
    model = load(args)
    if model.task is TaskKind.CLASSIFY and options.layout is None:
        raise ConfigError(f"{model.source} is an image classifier, not a detector",
                          f"use edgetm classify {args.model} IMAGES")
    detector = Detector(model, options, preprocess_options(args))
    out_dir = output_folder(args.save_annotated)

    def read_and_prepare(path: Path):
        image = read_image(path)
        return image, detector.prepare(image)

    images = _Images(paths, read_and_prepare)
    for path, (image, prepared) in images:  # type: ignore[misc]
        result = detector.infer(prepared, source=str(path))
        if out_dir is not None:
            cv2.imwrite(str(out_dir / f"{path.stem}.jpg"), annotate(image, result.detections))
        if args.json:
            say(to_json(result.to_dict(), str(path)))
            continue
        counts = ", ".join(f"{n} {label}" for label, n in result.counts().items()) or "nothing"
        found = len(result.detections)
        lines = [f"{path}: {found} object{'' if found == 1 else 's'} ({counts})  "
                 f"{sum(result.latency_ms.values()):.1f} ms"]
        lines += [f"    {d.label:16s} {d.score:5.2f}  [{', '.join(f'{v:.0f}' for v in d.box)}]"
                  for d in result.detections]
        say("\n".join(lines))
    return EXIT_USER_ERROR if images.failures else 0


def pose(args: argparse.Namespace) -> int:
    import cv2

    from edgetm.capture.base import Frame
    from edgetm.pose.annotate import draw_skeletons
    from edgetm.pose.base import PoseOptions
    from edgetm.tasks import build_task
    from edgetm.vision.image import read_image

    options = checked(PoseOptions, given(args).get("pose"), "options")
    paths = image_paths(args)
    task = build_task(load(args), options)
    out_dir = output_folder(args.save_annotated)
    images = _Images(paths, read_image)
    for n, (path, image) in enumerate(images):
        result = task.probe(Frame(image=image, index=n, captured=0.0, wall=0.0, name=str(path)))  # type: ignore[arg-type]
        if out_dir is not None:
            cv2.imwrite(str(out_dir / f"{path.stem}.jpg"), draw_skeletons(image, result.persons))  # type: ignore[arg-type]
        if args.json:
            say(to_json(result.to_dict(), str(path)))
            continue
        count = len(result.persons)
        lines = [f"{path}: {count} {'person' if count == 1 else 'persons'}  {sum(result.latency_ms.values()):.1f} ms"]
        for number, found in enumerate(result.persons, 1):
            seen = sum(k.visible for k in found.keypoints)
            label = f"  {found.label} {found.label_score:.3f}" if found.label is not None else ""
            lines.append(f"    person {number}  score {found.score:.2f}  {seen}/{len(found.keypoints)} keypoints "
                         f"seen  [{', '.join(f'{v:.0f}' for v in found.box)}]{label}")
        say("\n".join(lines))
    return EXIT_USER_ERROR if images.failures else 0


def output_folder(folder: str | None) -> Path | None:
    if folder is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create {folder}: {error.strerror or error}") from None
    return Path(folder)


