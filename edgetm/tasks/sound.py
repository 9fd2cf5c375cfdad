"""Sound in a pipeline: blocks from a microphone or a file, resampled to the model's rate, cut into
overlapping windows, classified, and smoothed into the label a pipeline publishes.

Each block is mixed to mono and its level measured; the stream resampler and the windows carry
over from block to block, so a window may span several blocks and a block may complete several
windows (or none). A block that does not follow on from the one before (a device that lost
samples) starts the resampler, the windows and a streaming model's state afresh. Labels that
mean "no event" (Teachable Machine's "Background Noise") are never the published label; for
Teachable Machine's sound models a label counts from 0.75, as in Teachable Machine.

The result of each window shows the ``top_k`` scores above ``threshold``; the smoothing sees every
label the classifier ranked.
"""

from __future__ import annotations

import numpy as np

from edgetm.audio.classify import TEACHABLE_MACHINE_THRESHOLD, SoundClassifier, SoundOptions
from edgetm.audio.resample import StreamResampler
from edgetm.audio.windows import Windows, level_dbfs
from edgetm.capture.base import Block
from edgetm.events import Entity
from edgetm.model.model import Family, Model, TaskKind
from edgetm.results import SoundResult
from edgetm.tasks.base import StageOptions, Task, Tracked, Unit
from edgetm.tasks.labels import LabelTracker


class SoundTask(Task):
    Options = SoundOptions
    kinds = (TaskKind.SOUND,)
    accepts = Block

    def __init__(self, model: Model, options: SoundOptions, stages: StageOptions) -> None:
        super().__init__(model, options, stages)
        self.classifier = SoundClassifier(model, options)
        self.rate, self.samples, self.hop = self.classifier.rate, self.classifier.samples, self.classifier.hop
        background = {b.lower() for b in options.background}
        self.events = [label for label in self.classifier.sound.labels if label.lower() not in background]
        default = TEACHABLE_MACHINE_THRESHOLD if model.family is Family.TEACHABLE_MACHINE else None
        self.tracker = LabelTracker(self.events, stages.smoothing, default)
        self._in_rate: int | None = None
        self._resampler: StreamResampler | None = None
        self._windows: Windows | None = None
        self._expected: int | None = None  # the sample the next block should start at
        self._count = 0
        self._last: Block | None = None
        self._adopted: Task | None = None

    @property
    def input_rate(self) -> int:
        return self.rate

    def continues(self, previous: object) -> bool:
        return previous is not None and previous is self._adopted

    def _restart(self, block: Block) -> None:
        """A new stream, or a gap in this one: the resampler, windows and model state start afresh
        at the block's own time."""
        self._in_rate = block.rate
        self._resampler = StreamResampler(block.rate, self.rate)
        self._windows = Windows(self.samples, self.hop, start=round(block.start * self.rate / block.rate))
        self.classifier.sound.reset()

    def _units(self, found: list[tuple[int, np.ndarray]], block: Block) -> list[Unit]:
        units = []
        for start, window in found:
            item = Block(samples=window, rate=self.rate, start=start, index=self._count, captured=block.captured,
                         wall=block.wall, name=block.name)
            self._count += 1
            units.append(Unit(item, window))
        return units

    def prepare(self, item: Block) -> list[Unit]:
        mono = item.samples.mean(axis=1) if item.samples.ndim == 2 else item.samples
        if item.rate != self._in_rate or item.start != self._expected:
            self._restart(item)
        self._expected = item.start + len(mono)
        self._last = item
        assert self._resampler is not None and self._windows is not None
        return self._units(self._windows.push(self._resampler(mono)), item)

    def flush(self) -> list[Unit]:
        if self._resampler is None or self._windows is None or self._last is None:
            return []
        found = self._windows.push(self._resampler.flush())
        found += self._windows.finish(pad=self.options.partial == "pad")
        return self._units(found, self._last)

    def infer(self, prepared: np.ndarray, item: Block) -> SoundResult:
        dbfs = level_dbfs(prepared)
        gate = self.options.gate_dbfs
        if gate is not None and dbfs < gate:
            return self.classifier.gated(item.t_start, dbfs, item.name)
        return self.classifier.infer(self.classifier.sound.prepare(prepared), item.t_start, dbfs, item.name)

    def probe(self, item: Block) -> SoundResult:
        """One window as this model takes it (resampled and fitted to its length), state untouched."""
        samples = item.samples.mean(axis=1) if item.samples.ndim == 2 else item.samples
        if item.rate != self.rate:
            resampler = StreamResampler(item.rate, self.rate)
            samples = np.concatenate([resampler(samples), resampler.flush()])
        window = np.zeros(self.samples, np.float32)
        window[:min(len(samples), self.samples)] = samples[:self.samples]
        sound = self.classifier.sound.prepare(window)
        return self.classifier.infer(sound, item.t_start, level_dbfs(window), item.name, carry=False)

    def track(self, result: SoundResult, item: Block) -> Tracked:
        scores = {} if result.gated else {label: score for label, score in result.scores().items()
                                          if label in self.events}
        state, changes = self.tracker.update(scores)
        return Tracked(result.limited(self.classifier.threshold, self.options.top_k), state, changes)

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

    def adopt(self, previous: Task) -> None:
        """A swapped-in model with the same rate and windows goes on where the old one was."""
        if not isinstance(previous, SoundTask) or (previous.rate, previous.samples, previous.hop) != (
                self.rate, self.samples, self.hop):
            return
        self._adopted = previous
        self._in_rate, self._resampler, self._windows = previous._in_rate, previous._resampler, previous._windows
        self._expected, self._count, self._last = previous._expected, previous._count, previous._last
        if previous.events == self.events:
            self.tracker = previous.tracker

    def describe(self) -> dict:
        sound = self.classifier.sound
        return {"sound": {"rate": self.rate, "window_samples": self.samples, "hop_samples": self.hop,
                          "input": "log-mel spectrogram" if sound.spectrogram else "samples",
                          "background": [label for label in sound.labels if label not in self.events]}}
