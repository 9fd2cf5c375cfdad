"""Sound sources: files through libsndfile, streams and videos through ffmpeg, microphones through
real PortAudio (an ALSA file device) and, for what no device here can do, a fake at the library
boundary (sounddevice.InputStream)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from edgetm.capture import EndOfStream, SourceState, open_source, parse_source
from edgetm.capture.sound_file import SoundFileOptions
from edgetm.errors import SourceError
from tests.audiokit import tones


def read_all(source, limit_s: float = 20.0) -> list:
    blocks = []
    deadline = time.monotonic() + limit_s
    source.start()
    try:
        while time.monotonic() < deadline:
            try:
                block = source.read(1.0)
            except EndOfStream:
                break
            if block is not None:
                blocks.append(block)
    finally:
        source.stop()
    return blocks


@pytest.mark.parametrize("subtype, tolerance", [("PCM_U8", 1 / 127), ("PCM_16", 1 / 32767), ("PCM_24", 1e-6),
                                                ("PCM_32", 1e-7), ("FLOAT", 1e-7)])
@pytest.mark.parametrize("rate, channels", [(8000, 1), (44100, 2), (48000, 1)])
def test_sound_files_of_every_common_kind(tmp_path: Path, subtype, tolerance, rate, channels):
    path = tones(tmp_path / "tone.wav", [(440, 0.7, 0.5)], rate=rate, subtype=subtype, channels=channels)
    blocks = read_all(open_source(f"wav:{path}"))
    assert all(b.rate == rate and b.samples.shape[1] == channels for b in blocks)
    assert [b.start for b in blocks] == list(np.cumsum([0] + [len(b.samples) for b in blocks[:-1]]))
    samples = np.concatenate([b.samples for b in blocks])
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(round(0.7 * rate)) / rate)
    assert len(samples) == len(expected)
    assert np.abs(samples[:, -1] - expected).max() <= tolerance + 1e-9


def test_a_file_paced_in_real_time_and_looping(tmp_path: Path):
    path = tones(tmp_path / "tone.wav", [(440, 0.5, 0.5)], rate=16000)
    start = time.monotonic()
    blocks = read_all(open_source(SoundFileOptions(path=str(path), realtime=True)))
    assert 0.4 < time.monotonic() - start < 1.5 and sum(len(b.samples) for b in blocks) == 8000
    looping = open_source(SoundFileOptions(path=str(path), loop=True, block_s=0.1))
    starts = [looping.read(1.0).start for _ in range(12)]
    assert starts == [1600 * k for k in range(12)]  # 0.5 s a pass, and the count runs on
    looping.stop()


def test_bad_sound_files_are_one_line_errors(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(f"wav:{tmp_path / 'missing.wav'}")
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wave")
    with pytest.raises(SourceError, match="is not a sound file edgetm can read"):
        open_source(str(tmp_path / "junk.wav"))


def test_the_sound_of_a_video_through_ffmpeg(tmp_path: Path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (scripts/install.sh installs it)")
    video = tmp_path / "clip.mp4"
    sine = "sine=frequency=1000:duration=2:sample_rate=48000"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", sine, "-f", "lavfi", "-i",
                    "color=c=black:s=64x64:d=2", "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(video)],
                   check=True, timeout=60)
    source = open_source(f"audio:{video}")
    source.prefer(rate=16000)  # what the model takes: ffmpeg decodes straight to it
    blocks = read_all(source)
    samples = np.concatenate([b.samples[:, 0] for b in blocks])
    assert all(b.rate == 16000 for b in blocks)
    assert abs(len(samples) - 32000) <= 1024  # two seconds, give or take the encoder's priming
    spectrum = np.abs(np.fft.rfft(samples[4000:20000]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 1000) <= 2


def test_ffmpeg_missing_is_said(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SourceError, match="ffmpeg program, which is not installed"):
        open_source(parse_source("audio:rtsp://camera/stream"))


ALSA = """pcm.!default {{ type asym; playback.pcm "nullsink"; capture.pcm "filein" }}
pcm.nullsink {{ type null }}
pcm.filein {{ type file; slave.pcm "nullsink"; file "/dev/null"; infile "{infile}"; format "raw" }}
"""

PORTAUDIO_READER = """
import sys, time, numpy as np
from edgetm.capture.microphone import MicOptions, input_devices
print([d["name"] for d in input_devices()])
source = MicOptions(device="filein", rate=48000, block_s=0.02).open()
source.start()
blocks, deadline = [], time.monotonic() + 10
while len(blocks) < 20 and time.monotonic() < deadline:
    block = source.read(1.0)
    if block is not None:
        blocks.append(block)
source.stop()
np.save(sys.argv[1], np.stack([b.samples[:, 0] for b in blocks]))
"""


def test_a_microphone_through_real_portaudio(tmp_path: Path):
    """No sound card here: ALSA's file plugin is a capture device that plays a raw file into
    PortAudio (faster than real time, so the ring loses whole stretches, each counted). Every block
    that arrives is a run of the file's own samples, bit for bit."""
    pytest.importorskip("sounddevice", reason="sounddevice not installed")
    pattern = ((np.arange(48000 * 10) % 4801) / 4801 - 0.5).astype("<f4")  # no run repeats within a block
    pattern.tofile(tmp_path / "in.raw")
    (tmp_path / "asound.conf").write_text(ALSA.format(infile=tmp_path / "in.raw"))
    out = subprocess.run([sys.executable, "-c", PORTAUDIO_READER, str(tmp_path / "blocks.npy")], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "ALSA_CONFIG_PATH": str(tmp_path / "asound.conf")})
    assert out.returncode == 0, out.stderr
    assert "filein" in out.stdout
    blocks = np.load(tmp_path / "blocks.npy")
    assert blocks.shape == (20, 960)
    for block in blocks[:10]:
        where = np.flatnonzero(pattern[:4801] == block[0])
        assert len(where) == 1
        offset = where[0]
        assert np.array_equal(block, pattern[offset:offset + len(block)])


class FakeStream:
    """sounddevice.InputStream driven by a thread: blocks of a level that changes, overflow flags,
    zeros, or a stream that stops, as the test says."""

    instances: ClassVar[list[FakeStream]] = []

    def __init__(self, device=None, channels=1, samplerate=None, blocksize=None, dtype=None, callback=None):
        self.callback, self.frames, self.channels = callback, blocksize, channels
        self.active = False
        self.overflow_every = 0
        self.zeros = False
        self.dies_after = None
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        n = 0
        while self.active:
            n += 1
            data = np.zeros((self.frames, self.channels), np.float32) if self.zeros else np.full(
                (self.frames, self.channels), 0.1 * (n % 5 + 1), np.float32)
            status = types.SimpleNamespace(input_overflow=bool(self.overflow_every and n % self.overflow_every == 0))
            self.callback(data, self.frames, None, status)
            if self.dies_after and n >= self.dies_after:
                self.active = False  # unplugged
            time.sleep(self.frames / 16000)

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        self.active = False


@pytest.fixture
def fake_sounddevice(monkeypatch):
    import sounddevice

    FakeStream.instances = []
    monkeypatch.setattr(sounddevice, "InputStream", FakeStream)
    monkeypatch.setattr(sounddevice, "query_devices", lambda: [
        {"name": "USB Audio Device", "default_samplerate": 16000.0, "max_input_channels": 1},
        {"name": "HDMI", "default_samplerate": 48000.0, "max_input_channels": 0}])
    monkeypatch.setattr(sounddevice, "default", types.SimpleNamespace(device=[0, 1]))
    return FakeStream


def test_microphone_overflows_silence_and_unplugging(fake_sounddevice):
    from edgetm.capture.microphone import MicOptions

    with pytest.raises(SourceError, match=r"no audio input matches 'webcam'.*0: USB Audio Device"):
        MicOptions(device="webcam").open()
    source = MicOptions(device="usb", block_s=0.01, silent_after_s=0.2, reconnect_initial_s=0.05).open()
    states: list[SourceState] = []
    source.on_state(states.append)
    source.start()
    try:
        assert source.read(2.0).rate == 16000
        stream = fake_sounddevice.instances[-1]
        stream.overflow_every = 3
        deadline = time.monotonic() + 5
        while source.overflows < 3 and time.monotonic() < deadline:
            source.read(0.5)
        assert source.overflows >= 3  # counted from the callback's status flags
        stream.zeros = True
        while SourceState.SILENT not in states and time.monotonic() < deadline:
            source.read(0.5)
        assert states[-1] is SourceState.SILENT
        stream.zeros = False
        while states[-1] is not SourceState.ONLINE and time.monotonic() < deadline:
            source.read(0.5)
        stream.dies_after = 1  # unplugged: the stream stops; the source reopens it
        while len(fake_sounddevice.instances) < 2 and time.monotonic() + 4 > deadline:
            source.read(0.5)
        while states.count(SourceState.ONLINE) < 3 and time.monotonic() < deadline + 5:
            source.read(0.5)
        assert SourceState.OFFLINE in states and len(fake_sounddevice.instances) >= 2
    finally:
        source.stop()
    assert states[:3] == [SourceState.ONLINE, SourceState.SILENT, SourceState.ONLINE]
