"""Object detection in a pipeline: smoothed per-label counts (inside a zone, if one is given),
retained and announced, and an annotated snapshot when they change."""

from __future__ import annotations

from edgetm.capture.base import Frame
from edgetm.errors import ConfigError
from edgetm.events import Entity, EntityKind, StateChange, topic_level
from edgetm.model.model import Model, TaskKind
from edgetm.records import Record
from edgetm.results import Detections
from edgetm.tasks.base import StageOptions, Task, Tracked, Unit
from edgetm.tasks.smoothing import CountSmoother
from edgetm.vision.detect import DetectOptions, Detector
from edgetm.vision.preprocess import Prepared

SNAPSHOT = "snapshot"
TOTAL = "total"  # the smoothed counts of every label, summed
# How many of the model's labels a hint names before "...": enough to recognise the label set.
HINT_LABELS = 12


def count_key(label: str) -> str:
    return f"count/{topic_level(label)}"


class CountState(Record):
    """Objects per label in this frame (inside the zone, if any) and the steady counts."""

    counts: dict[str, int]
    smoothed_counts: dict[str, int]

    def to_dict(self) -> dict:
        return {"counts": self.counts, "smoothed_counts": self.smoothed_counts}


class DetectTask(Task):
    Options = DetectOptions
    kinds = (TaskKind.DETECT,)
    accepts = Frame

    def __init__(self, model: Model, options: DetectOptions, stages: StageOptions) -> None:
        if stages.smoothing.threshold is not None:
            raise ConfigError("smoothing.threshold is for labels; a detector's threshold is detect.conf")
        super().__init__(model, options, stages)
        self.detector = Detector(model, options, stages.preprocess)
        self.zone = options.zone.zone() if options.zone else None
        self.counter = CountSmoother(stages.smoothing, options.classes or ())
        self._total: int | None = None

    def prepare(self, item: Frame) -> list[Unit]:
        return [Unit(item, self.detector.prepare(item.image))]

    def infer(self, prepared: Prepared, item: Frame) -> Detections:
        return self.detector.infer(prepared, source=item.name)

    def track(self, result: Detections, item: Frame) -> Tracked:
        counted = result.detections
        if self.zone is not None:
            inside = self.zone.contains(result.detections, result.image_size)
            counted = [d for d, keep in zip(result.detections, inside, strict=True) if keep]
        counts: dict[str, int] = {}
        for detection in counted:
            counts[detection.label] = counts.get(detection.label, 0) + 1
        changed = self.counter.update(counts)
        changes = [StateChange(count_key(label), str(count)) for label, count in changed.items()]
        total = sum(self.counter.counts.values())
        if total != self._total:
            self._total = total
            changes.append(StateChange(TOTAL, str(total)))
        if changed and self.options.snapshot:
            from edgetm.vision.annotate import annotate, jpeg

            changes.append(StateChange(SNAPSHOT, jpeg(annotate(item.image, result.detections)), retain=False))
        return Tracked(result, CountState(counts, dict(self.counter.counts)), tuple(changes))

    def entities(self) -> list[Entity]:
        if self.options.classes:
            return [Entity(count_key(label), EntityKind.COUNT, suffix=label) for label in self.options.classes]
        labels = self.model.labels or []
        named = ", ".join(labels[:HINT_LABELS]) + (", ..." if len(labels) > HINT_LABELS else "")
        hint = ("no classes are named, so only the total count of objects is announced; name the classes to count "
                "(--classes, or classes: under detect: in the configuration) for a sensor each"
                + (f", from the model's {len(labels)}: {named}" if labels else ""))
        return [Entity(TOTAL, EntityKind.COUNT, suffix="objects", hint=hint)]

    def retained(self) -> dict[str, str]:
        retained = {count_key(label): str(count) for label, count in self.counter.counts.items()}
        return {**retained, TOTAL: str(self._total)} if self._total is not None else retained

    @property
    def threshold(self) -> float:
        return self.detector.options.conf

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.detector.options = self.detector.options.model_copy(update={"conf": value})

    def adopt(self, previous: Task) -> None:
        if isinstance(previous, DetectTask) and previous.model.labels == self.model.labels:
            self.counter = previous.counter
            self._total = previous._total

    def describe(self) -> dict:
        described = {"preprocess": self.detector.preprocessor.describe(), "layout": self.detector.layout.value}
        rect = self.detector.describe_rect()
        return {**described, "rect": rect} if rect else described
