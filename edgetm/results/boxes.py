"""What a detector gives: objects with boxes."""

from __future__ import annotations

from edgetm.records import Record, field
from edgetm.results import round_ms


class Detection(Record):
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


class Detections(Record, frozen=False):
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
