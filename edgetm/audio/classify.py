"""Sound classification: how a sound model takes a window, and what it says of it.

A sound model's first input is the sound, either raw samples ([N] or [1, N]: Teachable Machine's
44032 samples at 44.1 kHz with the spectrogram inside the model, YAMNet-style 15600 at 16 kHz) or
a log-mel spectrogram ([1, frames, mels], optionally with a trailing 1) made here by ``LogMel``.
Its rate comes from ``ModelOptions.sample_rate``, else the model's TFLite metadata
(AudioProperties), else its input length, else 16 kHz.

Streaming models keep state between calls (Silero VAD): every further input is either a scalar
rate (filled in) or a state, fed with the output that pairs with it, by name (``stateN``,
``state_out``, ...) or by shape, or as ``state: {input: output}`` says. The scores are the first
other output: [classes], or per frame ([frames, classes]) and then averaged over the window.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from edgetm.audio.features import LogMel, LogMelOptions, LogMelStatistics
from edgetm.errors import ConfigError
from edgetm.model.labels import class_name
from edgetm.model.load import DEFAULT_SAMPLE_RATE, RATE_INPUTS
from edgetm.model.metadata import BuiltinFeatures
from edgetm.model.model import Family, Model
from edgetm.model.options import MAX_SAMPLES, ModelOptions
from edgetm.model.spec import TensorSpec
from edgetm.options import Field, field_validator, model_validator
from edgetm.plugins import Options
from edgetm.results import Prediction, SoundResult
from edgetm.scores import ranking, to_probabilities

# Input lengths that tell the rate when nothing else does: Teachable Machine's 44032 samples (one
# second at 44.1 kHz in whole 1024-sample frames) and YAMNet's 15600 (0.975 s at 16 kHz).
RATE_BY_LENGTH = {44032: 44100, 15600: 16000}
# The longest window a head on the built-in sound features may ask for: a minute at 16 kHz.
MAX_WINDOW_SAMPLES = 60 * 16000
# What a model with a single score is taken to detect, when it has no labels.
SINGLE_LABEL = "event"
# Teachable Machine's sound projects report a class from a probability of 0.75.
TEACHABLE_MACHINE_THRESHOLD = 0.75


class GateOptions(Options):
    """A second, small model that decides when the main one runs (a voice activity detector such as
    Silero VAD: classify only while there is speech or sound)."""

    model: ModelOptions = Field(description="the gating model (path, and input_samples for models of open length)")
    hop_samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="samples between its windows "
                                    "(default: its input length: no overlap)")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="its first score must reach this in a window for "
                             "the main model to run on the windows that overlap it")

    @field_validator("model", mode="before")
    @classmethod
    def _path_shorthand(cls, value):
        return {"path": value} if isinstance(value, str) else value


class SoundOptions(Options):
    """How a sound model listens, and what it reports of each window."""

    type: Literal["sound"] = "sound"
    overlap: float = Field(0.5, ge=0.0, le=0.95, description="how much each window shares with the one before "
                           "(a new window every window x (1 - overlap))")
    hop_samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="samples between windows, at the "
                                    "model's rate (instead of overlap; a streaming model's chunk)")
    partial: Literal["drop", "pad"] = Field("drop", description="at the end of a file: drop the last, partial "
                                            "window, or pad it with silence")
    top_k: int = Field(3, ge=1, le=1000, description="predictions to report, best first")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="hide predictions scoring below this; when "
                                    "the best one does, there is no label (default: 0.75 for Teachable Machine's "
                                    "sound models, as there, else 0)")
    gate_dbfs: float | None = Field(None, ge=-120.0, le=0.0, description="skip windows quieter than this")
    gate: GateOptions | None = Field(None, description="skip windows in which a gating model (a voice activity "
                                     "detector) hears nothing")
    background: tuple[str, ...] = Field(("Background Noise",), description="labels that mean no event: never the "
                                        "published label (Teachable Machine's background class)")
    state: dict[str, str] | None = Field(None, description="streaming models: which output feeds which input "
                                         "(default: paired by name or shape)")
    spectrogram: LogMelOptions = Field(default_factory=LogMelOptions, description="models that take a log-mel "
                                       "spectrogram: how to make it (bands and frames come from the model)")

    @model_validator(mode="after")
    def _one_hop(self) -> SoundOptions:
        if {"overlap", "hop_samples"} <= self.model_fields_set and self.hop_samples is not None:
            raise ValueError("give overlap or hop_samples, not both")
        return self


def _is_rate_input(spec: TensorSpec) -> bool:
    return not spec.shape and np.issubdtype(spec.dtype, np.integer) and spec.name.lower() in RATE_INPUTS


def _names_pair(state: str, output: str) -> bool:
    state, output = state.lower(), output.lower()
    candidates = {state + "n", state + "_out", state + "out", "out_" + state, "next_" + state, "new_" + state,
                  state.replace("in", "out", 1)}
    return output in candidates - {state}


class SoundModel:
    """A sound model's inputs, outputs and rate, and one call of it with its state carried."""

    def __init__(self, model: Model, options: SoundOptions) -> None:
        self.model = model
        spec = model.input
        if not np.issubdtype(spec.dtype, np.floating):
            raise ConfigError(f"{model.source}: input '{spec.name}' is {np.dtype(spec.dtype).name}, not sound",
                              "sound models take float samples or a float spectrogram")
        audio = model.metadata.get("audio") or {}
        if len(spec.shape) > 4 or (len(spec.shape) == 4 and spec.shape[-1] != 1):
            raise ConfigError(f"{model.source} takes {list(spec.shape)}, an image or other tensor, not sound",
                              "sound models take [1, samples] or a [1, frames, bands] spectrogram")
        self.spectrogram = len(spec.shape) >= 3
        features = model.metadata.get("features")
        if features is not None:  # a head trained on edgetm's built-in sound features
            if features["features"] != BuiltinFeatures.SOUND or not isinstance(features.get("samples"), int) \
                    or not 0 < features["samples"] <= MAX_WINDOW_SAMPLES:
                raise ConfigError(f"{model.source} takes {features['features']} features, not sound",
                                  "edgetm listen runs sound models")
            statistics = LogMelStatistics()
            self.features: LogMel | LogMelStatistics | None = statistics
            self.rate, self.samples = statistics.rate, features["samples"]
        elif self.spectrogram:
            frames, mels = spec.shape[1], spec.shape[2]
            self.rate = int(model.metadata.get("sample_rate") or audio.get("sample_rate") or DEFAULT_SAMPLE_RATE)
            self.features = LogMel(self.rate, options.spectrogram.model_copy(update={"mels": mels}))
            self.samples = self.features.samples_for(frames)
        else:
            self.samples = spec.shape[-1]
            self.rate = int(model.metadata.get("sample_rate") or audio.get("sample_rate")
                            or RATE_BY_LENGTH.get(self.samples, DEFAULT_SAMPLE_RATE))
            self.features = None
        if not self.spectrogram and "spectrogram" in options.model_fields_set:
            raise ConfigError(f"{model.source} takes samples, not a spectrogram: spectrogram options do not apply")
        names = {spec.name for spec in model.inputs[1:]}
        unknown = sorted(set(options.state or {}) - names)
        if unknown:
            raise ConfigError(f"{model.source} has no state input named {', '.join(repr(n) for n in unknown)}",
                              f"its other inputs: {', '.join(sorted(names)) or 'none'}")
        self._pairs = self._pair_states(options.state)
        used = set(self._pairs.values())
        self._scores = next((i for i, _ in enumerate(model.outputs) if i not in used), None)
        if self._scores is None:
            raise ConfigError(f"{model.source} has no output left for scores once its states are fed back")
        self.states = self._zero_states()
        self.labels = list(model.labels or [])
        classes = model.outputs[self._scores].shape[-1] if model.outputs[self._scores].shape else 1
        if not self.labels:
            self.labels = [SINGLE_LABEL] if classes == 1 else [class_name(i) for i in range(classes)]
        if "background" in options.model_fields_set:
            known = {label.lower() for label in self.labels}
            missing = [b for b in options.background if b.lower() not in known]
            if missing:
                raise ConfigError(f"{model.source} has no label {', '.join(repr(m) for m in missing)}",
                                  f"its labels: {', '.join(self.labels[:12])}")

    def _pair_states(self, named: dict[str, str] | None) -> dict[int, int]:
        """Input index -> output index for every input after the sound that is not a rate."""
        inputs, outputs = self.model.inputs, self.model.outputs
        by_name = {o.name: i for i, o in enumerate(outputs)}
        pairs: dict[int, int] = {}
        for i, spec in enumerate(inputs[1:], start=1):
            if _is_rate_input(spec):
                continue
            if named and spec.name in named:
                if named[spec.name] not in by_name:
                    raise ConfigError(f"{self.model.source} has no output '{named[spec.name]}' for input '{spec.name}'")
                pairs[i] = by_name[named[spec.name]]
                continue
            taken = set(pairs.values())
            match = next((j for j, o in enumerate(outputs) if j not in taken and _names_pair(spec.name, o.name)), None)
            if match is None:
                match = next((j for j, o in enumerate(outputs) if j not in taken and j != 0 and o.shape == spec.shape),
                             None)
            if match is None:
                raise ConfigError(f"{self.model.source}: input '{spec.name}' has no output to feed it",
                                  f"name the pair: state: {{{spec.name}: OUTPUT}}")
            pairs[i] = match
        return pairs

    def _zero_states(self) -> dict[int, np.ndarray]:
        return {i: np.zeros(self.model.inputs[i].shape, self.model.inputs[i].dtype) for i in self._pairs}

    def reset(self) -> None:
        """Forget what the model carried from earlier calls (a new stream, or a gap in this one)."""
        self.states = self._zero_states()

    def prepare(self, window: np.ndarray) -> np.ndarray:
        """One window of samples at ``rate`` as the model's sound input."""
        spec = self.model.input
        data = self.features(window) if self.features is not None else np.asarray(window, np.float32)
        return data.reshape(spec.shape).astype(spec.dtype, copy=False)

    def run(self, sound: np.ndarray, carry: bool = True) -> np.ndarray:
        """Scores for one prepared input: probabilities per class, averaged over frames; the state
        outputs are kept for the next call (unless ``carry`` is false)."""
        inputs = []
        for i, spec in enumerate(self.model.inputs):
            if i == 0:
                inputs.append(sound)
            elif _is_rate_input(spec):
                inputs.append(np.array(self.rate, spec.dtype))
            else:
                inputs.append(self.states[i])
        outputs = self.model.run(*inputs)
        if carry:
            for i, j in self._pairs.items():
                self.states[i] = outputs[j].reshape(self.model.inputs[i].shape).astype(self.model.inputs[i].dtype)
        spec = self.model.outputs[self._scores]
        raw = spec.dequantize(outputs[self._scores])
        classes = raw.shape[-1] if raw.ndim else 1
        scores = raw.reshape(-1, classes).mean(axis=0) if raw.size > classes else raw.reshape(-1)
        if scores.size == 1:  # one score: a probability, or a logit to squash
            value = float(scores[0])
            return np.array([value if 0.0 <= value <= 1.0 else 1.0 / (1.0 + np.exp(-value))], np.float32)
        return to_probabilities(scores.astype(np.float32))


# Results rank at least this many classes, so that smoothing sees the current label's score while it
# holds above the hysteresis line, even when fewer are shown.
RANKED = 5


class SoundClassifier:
    """Windows of sound in, ``SoundResult``s out: every ranked class (``limited`` applies
    ``threshold`` and ``top_k`` for showing them)."""

    def __init__(self, model: Model, options: SoundOptions | None = None) -> None:
        self.options = options = options or SoundOptions()
        self.model = model
        self.sound = SoundModel(model, options)
        self.rate, self.samples = self.sound.rate, self.sound.samples
        self.hop = options.hop_samples or max(1, round(self.samples * (1.0 - options.overlap)))
        self.threshold = options.threshold if options.threshold is not None else (
            TEACHABLE_MACHINE_THRESHOLD if model.family is Family.TEACHABLE_MACHINE else 0.0)

    def infer(self, sound: np.ndarray, t_start: float, dbfs: float, source: str | None = None,
              carry: bool = True) -> SoundResult:
        start = time.perf_counter()
        scores = self.sound.run(sound, carry)
        middle = time.perf_counter()
        order = ranking(scores, max(self.options.top_k, RANKED))
        labels = self.sound.labels
        top = [Prediction(labels[i] if i < len(labels) else class_name(i), i, float(scores[i])) for i in order]
        best = top[0] if top else None
        return SoundResult(t_start, t_start + self.samples / self.rate, best.label if best else None,
                           best.index if best else None, float(scores[order[0]]), top, dbfs,
                           {"inference": (middle - start) * 1e3, "postprocess": (time.perf_counter() - middle) * 1e3},
                           source)

    def gated(self, t_start: float, dbfs: float, source: str | None = None) -> SoundResult:
        """The result for a window quieter than the gate: the model did not run."""
        return SoundResult(t_start, t_start + self.samples / self.rate, None, None, 0.0, [], dbfs, {}, source, True)
