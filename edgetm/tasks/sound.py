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
from edgetm.audio.features import LogMelStatistics
from edgetm.audio.resample import StreamResampler
from edgetm.audio.windows import Windows, level_dbfs
from edgetm.capture.base import Block
from edgetm.model.model import Family, Model, TaskKind
from edgetm.results import SoundResult
from edgetm.tasks.base import StageOptions, Task, Tracked, Unit
from edgetm.tasks.labels import LabelTask, LabelTracker


def _mono(samples: np.ndarray) -> np.ndarray:
    """Channels mixed to one (their mean)."""
    if samples.ndim == 1:
        return samples
    return samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)


class _Stream:
    """One model's view of the sound: resampled to its rate and cut into its windows."""

    def __init__(self, classifier: SoundClassifier) -> None:
        self.classifier = classifier
        self.resampler: StreamResampler | None = None
        self.windows: Windows | None = None

    def restart(self, block: Block) -> None:
        self.resampler = StreamResampler(block.rate, self.classifier.rate)
        self.windows = Windows(self.classifier.samples, self.classifier.hop,
                               start=round(block.start * self.classifier.rate / block.rate))
        self.classifier.sound.reset()

    def push(self, mono: np.ndarray) -> list[tuple[int, np.ndarray]]:
        assert self.resampler is not None and self.windows is not None
        return self.windows.push(self.resampler(mono))

    def flush(self, pad: bool) -> list[tuple[int, np.ndarray]]:
        if self.resampler is None or self.windows is None:
            return []
        return self.windows.push(self.resampler.flush()) + self.windows.finish(pad)


class _Gate:
    """A voice activity detector run on the same sound: the stretches of stream time it heard
    something in, for the main model to run on the windows that overlap them."""

    def __init__(self, options) -> None:
        from edgetm.model.load import load_model

        model = load_model(options.model)
        hop = options.hop_samples
        gate_options = SoundOptions(hop_samples=hop) if hop else SoundOptions(overlap=0.0)
        self.stream = _Stream(SoundClassifier(model, gate_options))
        self.threshold = options.threshold
        self.heard: list[tuple[float, float]] = []  # (start s, end s) of windows at or above the threshold

    def push(self, mono: np.ndarray) -> None:
        classifier = self.stream.classifier
        for start, window in self.stream.push(mono):
            scores = classifier.sound.run(classifier.sound.prepare(window))
            if float(scores[0]) >= self.threshold:
                self.heard.append((start / classifier.rate, (start + len(window)) / classifier.rate))
        self.heard = self.heard[-1000:]

    def open_during(self, t_start: float, t_end: float) -> bool:
        return any(start < t_end and end > t_start for start, end in self.heard)


class SoundTask(LabelTask):
    Options = SoundOptions
    kinds = (TaskKind.SOUND,)
    accepts = Block
    wrong_source_hint = "for the sound of a video or a stream, give audio:SOURCE"

    def __init__(self, model: Model, options: SoundOptions, stages: StageOptions) -> None:
        super().__init__(model, options, stages)
        self.classifier = SoundClassifier(model, options)
        self.rate, self.samples, self.hop = self.classifier.rate, self.classifier.samples, self.classifier.hop
        background = {b.lower() for b in options.background}
        self.events = [label for label in self.classifier.sound.labels if label.lower() not in background]
        default = TEACHABLE_MACHINE_THRESHOLD if model.family is Family.TEACHABLE_MACHINE else None
        self.tracker = LabelTracker(self.events, stages.smoothing, default, icon="mdi:ear-hearing")
        self._in_rate: int | None = None
        self._stream = _Stream(self.classifier)
        self._gate = _Gate(options.gate) if options.gate is not None else None
        self._expected: int | None = None  # the sample the next block should start at
        self._count = 0
        self._last: Block | None = None
        self._adopted: Task | None = None
        self.last_dbfs: float | None = None
        self.windows_seen = 0
        self.windows_gated = 0

    @property
    def input_rate(self) -> int:
        return self.rate

    def continues(self, previous: object) -> bool:
        return previous is not None and previous is self._adopted

    def _restart(self, block: Block) -> None:
        """A new stream, or a gap in this one: the resampler, windows and model state start afresh
        at the block's own time."""
        self._in_rate = block.rate
        self._stream.restart(block)
        if self._gate is not None:
            self._gate.stream.restart(block)

    def _units(self, found: list[tuple[int, np.ndarray]], block: Block) -> list[Unit]:
        units = []
        for start, window in found:
            item = Block(samples=window, rate=self.rate, start=start, index=self._count, captured=block.captured,
                         wall=block.wall, name=block.name)
            self._count += 1
            units.append(Unit(item, window))
        return units

    def prepare(self, item: Block) -> list[Unit]:
        mono = _mono(item.samples)
        if item.rate != self._in_rate or item.start != self._expected:
            self._restart(item)
        self._expected = item.start + len(mono)
        self._last = item
        if self._gate is not None:  # before the main windows, so that it has heard their whole span
            self._gate.push(mono)
        return self._units(self._stream.push(mono), item)

    def flush(self) -> list[Unit]:
        if self._last is None:
            return []
        if self._gate is not None:
            self._gate.stream.flush(pad=True)
        return self._units(self._stream.flush(pad=self.options.partial == "pad"), self._last)

    def infer(self, prepared: np.ndarray, item: Block) -> SoundResult:
        dbfs = level_dbfs(prepared)
        self.windows_seen += 1
        quiet = self.options.gate_dbfs is not None and dbfs < self.options.gate_dbfs
        unheard = self._gate is not None and not self._gate.open_during(item.t_start, item.t_end)
        self.last_dbfs = dbfs
        if quiet or unheard:
            self.windows_gated += 1
            return self.classifier.gated(item.t_start, dbfs, item.name)
        return self.classifier.infer(self.classifier.sound.prepare(prepared), item.t_start, dbfs, item.name)

    def probe(self, item: Block) -> SoundResult:
        """One window as this model takes it (resampled and fitted to its length), state untouched."""
        samples = _mono(item.samples)
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
        # What the result shows is cut where the label is decided, unless sound.threshold says otherwise.
        shown = self.options.threshold if self.options.threshold is not None else self.tracker.threshold
        return Tracked(result.limited(shown, self.options.top_k), state, changes)

    def adopt(self, previous: Task) -> None:
        """A swapped-in model with the same rate and windows goes on where the old one was."""
        if not isinstance(previous, SoundTask) or (previous.rate, previous.samples, previous.hop) != (
                self.rate, self.samples, self.hop):
            return
        self._adopted = previous
        self._in_rate, self._stream, self._gate = previous._in_rate, previous._stream, previous._gate
        self._stream.classifier = self.classifier
        self._expected, self._count, self._last = previous._expected, previous._count, previous._last
        if previous.events == self.events:
            self.tracker = previous.tracker

    def status(self) -> dict:
        level = None if self.last_dbfs is None else round(self.last_dbfs, 1)
        return {"dbfs": level, "windows": self.windows_seen, "gated": self.windows_gated}

    def describe(self) -> dict:
        sound = self.classifier.sound
        return {"sound": {"rate": self.rate, "window_samples": self.samples, "hop_samples": self.hop,
                          "input": "log-mel statistics (built in)" if isinstance(sound.features, LogMelStatistics)
                          else "log-mel spectrogram" if sound.spectrogram else "samples",
                          "background": [label for label in sound.labels if label not in self.events]}}
