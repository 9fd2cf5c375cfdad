"""Result types. Each ``to_dict`` defines the JSON / MQTT payload in one place."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from edgetm.errors import ModelError


def non_finite(payload: object) -> str | None:
    """The key path of the first number in a payload that JSON cannot carry (NaN or infinity:
    ``json.dumps`` would write them as ``NaN``, which standard parsers refuse), or None."""
    if isinstance(payload, float):
        return None if math.isfinite(payload) else ""
    if isinstance(payload, dict):
        items = payload.items()
    elif isinstance(payload, list | tuple):
        items = enumerate(payload)
    else:
        return None
    for key, value in items:
        found = non_finite(value)
        if found is not None:
            return f"{key}.{found}" if found else str(key)
    return None


def check_finite(payload: dict, what: str) -> None:
    """A ``ModelError`` naming where ``payload`` holds NaN or infinity, which no JSON may carry."""
    where = non_finite(payload)
    if where is not None:
        raise ModelError(f"{what} gave a number that is not finite ({where}), so nothing is published for it",
                         "a broken or wrongly converted model, or an input it was not made for")


def to_json(payload: dict, what: str, **options) -> str:
    """``payload`` as standard JSON; NaN or infinity in it is a ``ModelError`` saying where."""
    try:
        return json.dumps(payload, allow_nan=False, **options)
    except ValueError:
        check_finite(payload, what)
        raise



def round_ms(latency_ms: dict[str, float]) -> dict[str, float]:
    """Stage timings as published: to the microsecond."""
    return {stage: round(value, 3) for stage, value in latency_ms.items()}

@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "score": round(self.score, 6)}


@dataclass
class Classification:
    """The best class (None when below the threshold), the top-k above it, and stage timings."""

    label: str | None
    index: int | None
    score: float
    top: list[Prediction]
    latency_ms: dict[str, float] = field(default_factory=dict)
    source: str | None = None

    def scores(self) -> dict[str, float]:
        """Score per label among the top-k (labels outside it scored lower than all of these)."""
        return {p.label: p.score for p in self.top}

    def limited(self, threshold: float, k: int) -> Classification:
        """The same result as a classifier with this threshold and top-k would have given."""
        top = [p for p in self.top[:k] if p.score >= threshold]
        best = top[0] if top else None
        return Classification(best.label if best else None, best.index if best else None, self.score, top,
                              self.latency_ms, self.source)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "index": self.index,
            "score": round(self.score, 6),
            "top": [p.to_dict() for p in self.top],
            "latency_ms": round_ms(self.latency_ms),
        }


@dataclass(frozen=True)
class Detection:
    label: str
    class_id: int
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the source image's pixels

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    def to_dict(self) -> dict:
        return {"label": self.label, "class_id": self.class_id, "score": round(self.score, 4),
                "box": [round(v, 1) for v in self.box]}


@dataclass
class Detections:
    """Objects found in one image, best first, and stage timings."""

    detections: list[Detection]
    image_size: tuple[int, int]  # (width, height)
    latency_ms: dict[str, float] = field(default_factory=dict)
    source: str | None = None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for detection in self.detections:
            counts[detection.label] = counts.get(detection.label, 0) + 1
        return counts

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "image_size": list(self.image_size),
            "detections": [d.to_dict() for d in self.detections],
            "latency_ms": round_ms(self.latency_ms),
        }


@dataclass
class SoundResult:
    """What a sound model heard in one window: the best class (None below the threshold or when
    the window was too quiet to run), the top-k, the level, and the window's place in the stream."""

    t_start: float
    t_end: float
    label: str | None
    index: int | None
    score: float
    top: list[Prediction]
    dbfs: float
    latency_ms: dict[str, float] = field(default_factory=dict)
    source: str | None = None
    gated: bool = False  # quieter than the gate: the model did not run

    def scores(self) -> dict[str, float]:
        return {p.label: p.score for p in self.top}

    def limited(self, threshold: float, k: int) -> SoundResult:
        top = [p for p in self.top[:k] if p.score >= threshold]
        best = top[0] if top else None
        return SoundResult(self.t_start, self.t_end, best.label if best else None, best.index if best else None,
                           self.score, top, self.dbfs, self.latency_ms, self.source, self.gated)

    def to_dict(self) -> dict:
        payload = {
            "t_start": round(self.t_start, 4),
            "t_end": round(self.t_end, 4),
            "label": self.label,
            "score": round(self.score, 6),
            "top": [p.to_dict() for p in self.top],
            "dbfs": round(self.dbfs, 2),
            "latency_ms": round_ms(self.latency_ms),
        }
        if self.gated:
            payload["gated"] = True  # the model did not run: too quiet, or the gating model heard nothing
        return payload


@dataclass(frozen=True)
class Keypoint:
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


@dataclass
class Person:
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


@dataclass
class Poses:
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
