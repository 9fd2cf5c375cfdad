"""Result types. Each ``to_dict`` defines the JSON / MQTT payload in one place."""

from __future__ import annotations

from dataclasses import dataclass, field


def _ms(latency_ms: dict[str, float]) -> dict[str, float]:
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

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "index": self.index,
            "score": round(self.score, 6),
            "top": [p.to_dict() for p in self.top],
            "latency_ms": _ms(self.latency_ms),
        }
