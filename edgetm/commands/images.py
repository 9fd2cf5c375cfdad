"""``edgetm classify``, ``detect`` and ``pose``: a model on image files, folders and globs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from edgetm.commands.common import EXIT_USER_ERROR, checked, given, load, preprocess_options
from edgetm.errors import ConfigError, EdgetmError
from edgetm.results import to_json


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



def classify(args: argparse.Namespace) -> int:
    from edgetm.vision.classify import Classifier, ClassifyOptions
    from edgetm.vision.image import read_image

    options = checked(ClassifyOptions, given(args).get("classify"), "options")
    classifier = Classifier(load(args), options, preprocess_options(args), still=True)  # photos, not live video
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

    detector = Detector(load(args), checked(DetectOptions, given(args).get("detect"), "options"),
                        preprocess_options(args))
    out_dir = output_folder(args.save_annotated)

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

    task = build_task(load(args), checked(PoseOptions, given(args).get("pose"), "options"))
    out_dir = output_folder(args.save_annotated)
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


def output_folder(folder: str | None) -> Path | None:
    if folder is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create {folder}: {error.strerror or error}") from None
    return Path(folder)


