"""Real sound: Teachable Machine's own recordings streamed into a 44.1 kHz model, and Silero VAD."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import edgetm
from edgetm.audio.classify import GateOptions, SoundClassifier, SoundOptions
from edgetm.audio.resample import StreamResampler
from edgetm.capture import EndOfStream, open_source
from edgetm.model import ModelOptions, load_model
from tests.audiokit import tm_sound_tflite

HOP_S = 22016 / 44100


def test_teachable_machines_recordings_stream_into_its_windows(zoo: Path, tmp_path: Path):
    """class_2's 48 kHz recording through wav: into a 44.1 kHz model: every window where it should be,
    to the sample, and every sample accounted for."""
    folder = zoo / "tm-audio-samples" / "class_2"
    model = tm_sound_tflite(tmp_path / "model").parent
    seen = list(edgetm.Pipeline(model, f"wav:{folder / 'recording_48000.wav'}", SoundOptions(partial="pad")))
    samples_in = 518400  # 10.8 s at 48 kHz (soundfile says so; asserted below from the source itself)
    samples_out = round(samples_in * 44100 / 48000)
    full = (samples_out - 44032) // 22016 + 1
    starts = [s.result.t_start for s in seen]
    assert len(seen) == full + 1  # and one padded window for the tail
    assert starts == pytest.approx([k * HOP_S for k in range(full + 1)], abs=1e-9)
    assert [s.frame for s in seen] == list(range(full + 1))
    examples = json.loads((folder / "samples.json").read_text())
    for example in examples:  # Teachable Machine's own examples begin within half a hop of a window
        assert min(abs(start - example["startTime"]) for start in starts) <= HOP_S / 2

    source = open_source(f"wav:{folder / 'recording_48000.wav'}")
    resampler = StreamResampler(48000, 44100)
    read = written = 0
    while True:
        try:
            block = source.read(1.0)
        except EndOfStream:
            break
        assert block.start == read
        read += len(block.samples)
        written += len(resampler(block.samples[:, 0]))
    written += len(resampler.flush())
    assert (read, written) == (samples_in, samples_out)  # nothing lost, nothing doubled


def vad(zoo: Path):
    return load_model(ModelOptions(path=str(zoo / "silero-vad" / "silero_vad.onnx"), input_samples=576))


def chunks(zoo: Path) -> list[np.ndarray]:
    """The zoo's background noise at 16 kHz, as Silero takes it: 512 new samples after the last 64."""
    import soundfile

    noise, rate = soundfile.read(str(zoo / "tm-audio-samples" / "background_noise" / "recording_48000.wav"),
                                 dtype="float32")
    resampler = StreamResampler(rate, 16000)
    signal = np.concatenate([resampler(noise), resampler.flush()])
    return [signal[start:start + 576] for start in range(0, len(signal) - 576, 512)]


def test_silero_vad_hears_no_speech_in_noise_and_carries_its_state(zoo: Path):
    classifier = SoundClassifier(vad(zoo), SoundOptions(hop_samples=512))
    assert classifier.rate == 16000 and (classifier.samples, classifier.hop) == (576, 512)
    windows = chunks(zoo)
    carried = np.array([classifier.sound.run(classifier.sound.prepare(w))[0] for w in windows])
    assert len(carried) > 600 and np.median(carried) < 0.05 and carried.max() < 0.5

    fresh = []
    for window in windows:
        classifier.sound.reset()
        fresh.append(classifier.sound.run(classifier.sound.prepare(window))[0])
    assert np.abs(np.array(fresh) - carried)[5:].max() > 1e-3  # the state matters


def test_a_vad_gates_a_sound_model(zoo: Path, tmp_path: Path):
    """Classify only while Silero hears speech: over background noise, nothing runs."""
    noise = zoo / "tm-audio-samples" / "background_noise" / "recording_48000.wav"
    gate = GateOptions(model=ModelOptions(path=str(zoo / "silero-vad" / "silero_vad.onnx"), input_samples=576),
                       hop_samples=512, threshold=0.5)
    model = tm_sound_tflite(tmp_path / "model").parent
    gated = list(edgetm.Pipeline(model, f"wav:{noise}", SoundOptions(gate=gate)))
    assert len(gated) == (round(1071360 * 44100 / 48000) - 44032) // 22016 + 1
    assert all(s.result.gated for s in gated)
    open_gate = list(edgetm.Pipeline(model, f"wav:{noise}", SoundOptions(gate=gate.model_copy(
        update={"threshold": 0.0}))))
    assert not any(s.result.gated for s in open_gate)
