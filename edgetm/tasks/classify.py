"""Image classification in a pipeline: the smoothed label, retained and announced."""

from __future__ import annotations

from dataclasses import dataclass

from edgetm.capture.base import Frame
from edgetm.events import Entity, EntityKind, StateChange
from edgetm.model.model import Model, TaskKind
from edgetm.results import Classification
from edgetm.tasks.base import StageOptions, Task, Tracked
from edgetm.tasks.smoothing import LabelSmoother
from edgetm.vision.classify import Classifier, ClassifyOptions
from edgetm.vision.preprocess import Prepared

# Smoothing needs the scores of more labels than are shown (the current label may drop out of the
# shown top-k while still above the hysteresis line).
SMOOTHING_TOP_K = 5
LABEL = "label"


@dataclass(frozen=True)
class LabelState:
    """The steady label after a result (None until the smoothing has decided)."""

    label: str | None

    def to_dict(self) -> dict:
        return {"smoothed_label": self.label}


class ClassifyTask(Task):
    Options = ClassifyOptions
    kinds = (TaskKind.CLASSIFY, TaskKind.UNKNOWN)
    accepts = Frame

    def __init__(self, model: Model, options: ClassifyOptions, stages: StageOptions) -> None:
        super().__init__(model, options, stages)
        wide = options.model_copy(update={"top_k": max(options.top_k, SMOOTHING_TOP_K), "threshold": 0.0})
        self.classifier = Classifier(model, wide, stages.preprocess)
        self.smoother = LabelSmoother(stages.smoothing)

    def prepare(self, item: Frame) -> Prepared:
        return self.classifier.prepare(item.image)

    def infer(self, prepared: Prepared, item: Frame) -> Classification:
        return self.classifier.infer(prepared, source=item.name)

    def track(self, result: Classification, item: Frame) -> Tracked:
        changed = self.smoother.update(result.scores())
        label = self.smoother.label
        changes = (StateChange(LABEL, label),) if changed and label is not None else ()
        return Tracked(result.limited(self.options.threshold, self.options.top_k), LabelState(label), changes)

    def entities(self) -> list[Entity]:
        labels = self.model.labels or []
        options = (*labels, self.stages.smoothing.none_label) if labels else ()
        return [Entity(LABEL, EntityKind.LABEL, options=options)]

    def retained(self) -> dict[str, str]:
        return {LABEL: self.smoother.label} if self.smoother.label is not None else {}

    @property
    def threshold(self) -> float:
        return self.smoother.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.smoother.threshold = value

    def adopt(self, previous: Task) -> None:
        if isinstance(previous, ClassifyTask) and previous.model.labels == self.model.labels:
            self.smoother = previous.smoother

    def describe(self) -> dict:
        return {"preprocess": self.classifier.preprocessor.describe()}
