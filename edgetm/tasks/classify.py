"""Image classification in a pipeline: the smoothed label, retained and announced."""

from __future__ import annotations

from edgetm.capture.base import Frame
from edgetm.model.model import Model, TaskKind
from edgetm.results import Classification
from edgetm.tasks.base import StageOptions, Task, Tracked, Unit
from edgetm.tasks.labels import LabelTask, LabelTracker
from edgetm.vision.classify import Classifier, ClassifyOptions
from edgetm.vision.preprocess import Prepared

# Smoothing needs the scores of more labels than are shown (the current label may drop out of the
# shown top-k while still above the hysteresis line).
SMOOTHING_TOP_K = 5


class ClassifyTask(LabelTask):
    Options = ClassifyOptions
    kinds = (TaskKind.CLASSIFY, TaskKind.UNKNOWN)
    accepts = Frame

    def __init__(self, model: Model, options: ClassifyOptions, stages: StageOptions) -> None:
        super().__init__(model, options, stages)
        wide = options.model_copy(update={"top_k": max(options.top_k, SMOOTHING_TOP_K), "threshold": 0.0})
        self.classifier = Classifier(model, wide, stages.preprocess)
        self.tracker = LabelTracker(model.labels, stages.smoothing)

    def prepare(self, item: Frame) -> list[Unit]:
        return [Unit(item, self.classifier.prepare(item.image))]

    def infer(self, prepared: Prepared, item: Frame) -> Classification:
        return self.classifier.infer(prepared, source=item.name)

    def track(self, result: Classification, item: Frame) -> Tracked:
        state, changes = self.tracker.update(result.scores())
        return Tracked(result.limited(self.options.threshold, self.options.top_k), state, changes)

    def adopt(self, previous: Task) -> None:
        if isinstance(previous, ClassifyTask) and previous.model.labels == self.model.labels:
            self.tracker = previous.tracker

    def describe(self) -> dict:
        return {"preprocess": self.classifier.preprocessor.describe()}
