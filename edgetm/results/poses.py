"""What a pose estimator gives: people and their keypoints."""

from __future__ import annotations

from edgetm.records import Record, field
from edgetm.results import round_ms
from edgetm.results.labels import Prediction


class Keypoint(Record):
    """A body point in the source image's pixels; ``score`` is the estimator's confidence, and a
    point below the estimator's minimum is kept but marked not ``visible``."""

    name: str
    x: float
    y: float
    score: float
    visible: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "x": round(self.x, 1), "y": round(self.y, 1), "score": round(self.score, 4),
                "visible": self.visible}


class Person(Record, frozen=False):
    """One person: COCO's 17 keypoints (in that order), the detection score and box, and what a pose
    classifier made of them. ``extra`` holds an estimator's further points (BlazePose's 33)."""

    keypoints: list[Keypoint]
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the source image's pixels
    label: str | None = None
    label_score: float = 0.0
    top: list[Prediction] = field(default_factory=list)
    extra: list[Keypoint] = field(default_factory=list)

    def to_dict(self, keypoints: bool = True) -> dict:
        out: dict = {"score": round(self.score, 4), "box": [round(v, 1) for v in self.box]}
        if self.label is not None or self.top:
            out.update({"label": self.label, "label_score": round(self.label_score, 6),
                        "top": [p.to_dict() for p in self.top]})
        if keypoints:
            out["keypoints"] = [k.to_dict() for k in self.keypoints]
        return out


class Poses(Record, frozen=False):
    """The people found in one image, most confident first, and stage timings."""

    persons: list[Person]
    image_size: tuple[int, int]  # (width, height)
    latency_ms: dict[str, float] = field(default_factory=dict)
    source: str | None = None
    include_keypoints: bool = True

    @property
    def label(self) -> str | None:
        """The most confident person's pose label, if a classifier gave one."""
        return self.persons[0].label if self.persons else None

    def to_dict(self) -> dict:
        first = self.persons[0] if self.persons else None
        return {
            "source": self.source,
            "image_size": list(self.image_size),
            "persons": [p.to_dict(self.include_keypoints) for p in self.persons],
            "label": self.label,
            # The most confident person's, as an image classifier's (Home Assistant reads them).
            "score": round(first.label_score, 6) if first is not None and first.label is not None else None,
            "top": [p.to_dict() for p in first.top] if first is not None else [],
            "latency_ms": round_ms(self.latency_ms),
        }
