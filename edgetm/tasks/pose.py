"""Poses in a pipeline. With a pose classifier, each person gets a label from the pose feature vector
and the most confident person's label is smoothed and published like an image label; without
one, the number of persons is smoothed and published as a count."""

from __future__ import annotations

import numpy as np

from edgetm.capture.base import Frame
from edgetm.events import Entity, EntityKind, StateChange
from edgetm.model.model import Model, TaskKind
from edgetm.pose.base import PoseOptions
from edgetm.pose.estimators import estimator_for
from edgetm.pose.features import person_features
from edgetm.results import Poses
from edgetm.tasks.base import StageOptions, Task, Tracked, Unit
from edgetm.tasks.labels import LabelTracker
from edgetm.tasks.smoothing import CountSmoother

PERSONS = "count/person"


class PersonCount:
    def __init__(self, count: int, smoothed: int | None) -> None:
        self.count, self.smoothed = count, smoothed

    def to_dict(self) -> dict:
        return {"person_count": self.count, "smoothed_person_count": self.smoothed}


class PoseTask(Task):
    Options = PoseOptions
    kinds = (TaskKind.POSE,)
    accepts = Frame

    def __init__(self, model: Model, options: PoseOptions, stages: StageOptions) -> None:
        super().__init__(model, options, stages)
        self.estimator = estimator_for(model, options)
        self.classifier = None
        self.tracker: LabelTracker | None = None
        if options.classifier is not None:
            from edgetm.model.load import load_model
            from edgetm.pose.classify import PoseClassifier

            self.classifier = PoseClassifier(load_model(options.classifier), options.features, options.top_k)
            self.tracker = LabelTracker(self.classifier.labels, stages.smoothing, icon="mdi:human")
        self.counter = CountSmoother(stages.smoothing, ["person"])

    def prepare(self, item: Frame) -> list[Unit]:
        # Trackers place this frame's region from the last frame's result: all the work is in infer.
        return [Unit(item, item.image)]

    def infer(self, prepared: np.ndarray, item: Frame) -> Poses:
        if item.name is not None:  # a still from a file: unrelated to the one before, nothing to track
            self.estimator.reset()
        persons, latency = self.estimator.estimate(prepared)
        least = self.options.min_keypoints
        persons = [p for p in persons if sum(k.visible for k in p.keypoints) >= least]
        if self.classifier is not None:
            for found in persons:
                found.top = self.classifier(person_features(found, self.options.features))
                found.label, found.label_score = found.top[0].label, found.top[0].score
        height, width = prepared.shape[:2]
        return Poses(persons, (width, height), latency, item.name, self.options.include_keypoints)

    def probe(self, item: Frame) -> Poses:
        return self.infer(item.image, item)

    def track(self, result: Poses, item: Frame) -> Tracked:
        if self.tracker is not None:
            scores = {p.label: p.score for p in result.persons[0].top} if result.persons else {}
            state, changes = self.tracker.update(scores)
            return Tracked(result, state, changes)
        changed = self.counter.update({"person": len(result.persons)} if result.persons else {})
        changes = tuple(StateChange(PERSONS, str(count)) for count in changed.values())
        return Tracked(result, PersonCount(len(result.persons), self.counter.counts.get("person")), changes)

    def entities(self) -> list[Entity]:
        if self.tracker is not None:
            return self.tracker.entities()
        return [Entity(PERSONS, EntityKind.COUNT, suffix="persons", icon="mdi:human")]

    def retained(self) -> dict[str, str]:
        if self.tracker is not None:
            return self.tracker.retained()
        count = self.counter.counts.get("person")
        return {PERSONS: str(count)} if count is not None else {}

    @property
    def threshold(self) -> float:
        return self.tracker.threshold if self.tracker is not None else self.options.conf

    @threshold.setter
    def threshold(self, value: float) -> None:
        if self.tracker is not None:
            self.tracker.threshold = value
        else:
            self.options = self.options.model_copy(update={"conf": value})
            self.estimator.options = self.options

    def adopt(self, previous: Task) -> None:
        if isinstance(previous, PoseTask) and self.tracker is not None and previous.tracker is not None and \
                previous.tracker.labels == self.tracker.labels:
            self.tracker = previous.tracker

    def describe(self) -> dict:
        return {"pose": self.estimator.describe()}
