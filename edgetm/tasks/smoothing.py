"""Turning a flickering stream of per-frame labels into a steady one.

A label *enters* when it scores at least ``threshold`` (0.5 by default); the current label *holds* while it
scores at least ``threshold - hysteresis``, and nothing can replace it meanwhile. With no label
entering, the state is ``none_label``.

- ``consecutive`` (default, K = 3): a new label takes over after it has been the entering label
  in K results in a row.
- ``average`` (window N = 5): the same rules applied to each label's mean score over the last N
  results; the switch happens as soon as the means say so.
- ``off``: every result's label is the label.
"""


import enum
from collections import deque

from edgetm.options import Field, field_validator, model_validator
from edgetm.plugins import Options

# A label counts once the model gives it better than even odds.
LABEL_THRESHOLD = 0.5


class SmoothingMode(enum.Enum):
    CONSECUTIVE = "consecutive"
    AVERAGE = "average"
    OFF = "off"


class SmoothingOptions(Options):
    """How per-result labels and counts become the steady state a pipeline publishes."""

    threshold: float | None = Field(None, ge=0.0, le=1.0, description="a label enters when it scores at least this; "
                                    f"with nothing above it the label is none_label (default: {LABEL_THRESHOLD})")
    mode: SmoothingMode = Field(SmoothingMode.CONSECUTIVE, description="consecutive, average or off")
    k: int = Field(3, ge=1, le=1000, description="consecutive results a new label must hold")
    window: int = Field(5, ge=1, le=10000, description="results averaged in average mode")
    hysteresis: float = Field(0.1, ge=0.0, le=0.5, description="how far below the threshold the current label "
                              "may fall before another can replace it")
    none_label: str = Field("none", min_length=1, max_length=100, description="the label when no class is above "
                            "the threshold")

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare ``off`` (and ``no``) as false: ``mode: off`` means the mode.
        return SmoothingMode.OFF.value if value is False else value

    @model_validator(mode="after")
    def _applies(self) -> "SmoothingOptions":
        # A setting its mode never reads would be ignored without a word: refuse it instead. A value
        # equal to the default is let through, so that switching the mode in a file is one edit.
        unread = self.off_default(name for name, modes in NOT_READ.items() if self.mode in modes)
        if unread:
            one = len(unread) == 1
            raise ValueError(f"{' and '.join(unread)} {'does' if one else 'do'} nothing in {self.mode.value} mode; "
                             f"remove {'it' if one else 'them'} or change the mode")
        return self


# The settings each mode leaves unread.
NOT_READ = {"k": (SmoothingMode.AVERAGE, SmoothingMode.OFF), "window": (SmoothingMode.CONSECUTIVE, SmoothingMode.OFF),
            "hysteresis": (SmoothingMode.OFF,)}


class LabelSmoother:
    """Feed it each result's scores; it says when the steady label changes. ``threshold`` may be
    changed while running."""

    def __init__(self, config: SmoothingOptions) -> None:
        self.config = config
        self.threshold = LABEL_THRESHOLD if config.threshold is None else config.threshold
        self.label: str | None = None  # nothing decided yet
        self._candidate: str | None = None
        self._streak = 0
        self._history: deque[dict[str, float]] = deque(maxlen=config.window)

    def _entering(self, scores: dict[str, float]) -> str:
        best = max(scores, key=scores.__getitem__, default=None)
        if best is not None and scores[best] >= self.threshold:
            return best
        return self.config.none_label

    def _holds(self, scores: dict[str, float]) -> bool:
        if self.label is None:
            return False
        exit_threshold = self.threshold - self.config.hysteresis
        if self.label == self.config.none_label:
            return max(scores.values(), default=0.0) < self.threshold
        return scores.get(self.label, 0.0) >= exit_threshold

    def update(self, scores: dict[str, float]) -> bool:
        """Take one result's label scores; True when ``label`` changed."""
        mode = self.config.mode
        if mode is SmoothingMode.AVERAGE:
            self._history.append(scores)
            labels = {label for entry in self._history for label in entry}
            scores = {label: sum(e.get(label, 0.0) for e in self._history) / len(self._history) for label in labels}
        entering = self._entering(scores)
        if mode is SmoothingMode.OFF:
            return self._switch(entering)
        if entering == self.label or self._holds(scores):
            self._candidate, self._streak = None, 0
            return False
        if mode is SmoothingMode.AVERAGE:
            return self._switch(entering)
        if entering == self._candidate:
            self._streak += 1
        else:
            self._candidate, self._streak = entering, 1
        if self._streak >= self.config.k:
            self._candidate, self._streak = None, 0
            return self._switch(entering)
        return False

    def _switch(self, label: str) -> bool:
        changed = label != self.label
        self.label = label
        return changed


class CountSmoother:
    """The same idea for object counts: a label's published count changes once the new count has
    been seen in K results in a row (``consecutive``), or to the rounded mean of the last N
    (``average``), or at once (``off``). A label that disappears goes to 0 the same way."""

    def __init__(self, config: SmoothingOptions, labels: list[str] | tuple[str, ...] = ()) -> None:
        self.config = config
        self.counts: dict[str, int] = {}  # the published, steady counts
        self._tracked: dict[str, None] = dict.fromkeys(labels)  # ordered set
        self._streaks: dict[str, tuple[int, int]] = {}  # label -> (candidate count, results in a row)
        self._history: deque[dict[str, int]] = deque(maxlen=config.window)

    def update(self, counts: dict[str, int]) -> dict[str, int]:
        """Take one result's counts; return the labels whose steady count changed, with the new count."""
        self._tracked.update(dict.fromkeys(counts))
        mode = self.config.mode
        if mode is SmoothingMode.AVERAGE:
            self._history.append(counts)
            target = {label: round(sum(h.get(label, 0) for h in self._history) / len(self._history))
                      for label in self._tracked}
        else:
            target = {label: counts.get(label, 0) for label in self._tracked}
        changed: dict[str, int] = {}
        for label, value in target.items():
            if self.counts.get(label) == value:
                self._streaks.pop(label, None)
                continue
            if mode is SmoothingMode.CONSECUTIVE:
                candidate, streak = self._streaks.get(label, (value, 0))
                streak = streak + 1 if candidate == value else 1
                if streak < self.config.k:
                    self._streaks[label] = (value, streak)
                    continue
                self._streaks.pop(label, None)
            self.counts[label] = changed[label] = value
        return changed
