"""What a classifier gives: a prediction per class, and the best of them."""

from __future__ import annotations

from edgetm.records import Record, field
from edgetm.results import round_ms


class Prediction(Record):
    label: str
    index: int
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "score": round(self.score, 6)}


class Classification(Record, frozen=False):
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
