"""What a sound model gives for one window of sound."""

from __future__ import annotations

from edgetm.records import Record, field
from edgetm.results import round_ms
from edgetm.results.labels import Prediction


class SoundResult(Record, frozen=False):
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
