"""The smoothed label: the retained state of every task that names what it sees or hears (a
classifier, and later sound and pose classifiers), published under ``base/<pipeline>/label``."""

from __future__ import annotations

from collections.abc import Sequence

from edgetm.events import Entity, EntityKind, StateChange
from edgetm.records import Record
from edgetm.tasks.base import Task
from edgetm.tasks.smoothing import LabelSmoother, SmoothingOptions

LABEL = "label"


class LabelState(Record):
    """The steady label after a result (None until the smoothing has decided)."""

    label: str | None

    def to_dict(self) -> dict:
        return {"smoothed_label": self.label}


class LabelTracker:
    """Smooths each result's scores into the steady label, and says when it changed."""

    def __init__(self, labels: Sequence[str] | None, smoothing: SmoothingOptions,
                 threshold: float | None = None, icon: str | None = None) -> None:
        """``threshold`` is the task's own default, for when ``smoothing.threshold`` is not given;
        ``icon`` how the label is shown (a Material Design icon name)."""
        self.labels = list(labels or [])
        self.icon = icon
        self.smoothing = smoothing
        self.smoother = LabelSmoother(smoothing)
        if smoothing.threshold is None and threshold is not None:
            self.smoother.threshold = threshold

    def update(self, scores: dict[str, float]) -> tuple[LabelState, tuple[StateChange, ...]]:
        changed = self.smoother.update(scores)
        label = self.smoother.label
        return LabelState(label), (StateChange(LABEL, label),) if changed and label is not None else ()

    def entities(self) -> list[Entity]:
        options = (*self.labels, self.smoothing.none_label) if self.labels else ()
        return [Entity(LABEL, EntityKind.LABEL, options=options, icon=self.icon)]

    def retained(self) -> dict[str, str]:
        label = self.smoother.label
        return {LABEL: label} if label is not None else {}

    @property
    def threshold(self) -> float:
        return self.smoother.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.smoother.threshold = value


class LabelTask(Task):
    """A task whose retained state is one smoothed label, kept by ``self.tracker``."""

    tracker: LabelTracker

    def entities(self) -> list[Entity]:
        return self.tracker.entities()

    def retained(self) -> dict[str, str]:
        return self.tracker.retained()

    @property
    def threshold(self) -> float:
        return self.tracker.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.tracker.threshold = value
