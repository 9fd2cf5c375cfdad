"""``edgetm collect``: examples for a class, from any source, saved where ``edgetm train`` reads
them (``DATASET/<label>/``): frames as JPEG or PNG, sound as WAV windows, poses as keypoint JSON.

Saving stops cleanly: what was written stays, and a disk that fills up or refuses the file ends
the run with one line saying how many were saved.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from edgetm.errors import ConfigError
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.records import Record, field
from edgetm.results import to_json
from edgetm.train.dataset import Kind, check_label

READ_TIMEOUT_S = 0.5


class CollectOptions(Options):
    count: int = Field(30, ge=1, le=100000, description="examples to save")
    interval_s: float = Field(0.0, ge=0, le=3600, description="at least this long between two examples (a camera "
                              "at 30 fps gives near-identical neighbours)")
    format: Literal["jpg", "png"] = Field("jpg", description="how frames are saved")
    window_s: float = Field(1.0, gt=0, le=30, description="sound: the length of each saved window (Teachable "
                            "Machine's models take about a second)")
    sound_model: str | None = Field(None, description="sound: save windows as long as this sound model takes "
                                    "(instead of window_s)")
    pose_model: str | None = Field(None, description="save the poses this estimator finds (keypoint JSON) instead "
                                   "of the frames")
    wait_s: float = Field(10.0, gt=0, le=600, description="a source that gives nothing for this long is an error")


class Collected(Record, frozen=False):
    folder: Path
    saved: list[Path] = field(default_factory=list)
    skipped: int = 0  # frames without a person, for poses
    ended: bool = False  # the source ran out first


def collect(source: str, label: str, out: str | Path, options: CollectOptions | None = None,
            progress: Callable[[int, int], None] | None = None) -> Collected:
    from edgetm.capture import Block, EndOfStream, open_source

    options = options or CollectOptions()
    folder = Path(out).expanduser() / check_label(label)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create {folder}: {error.strerror or error}", "choose another --out") from None
    given = set(options.model_fields_set)
    poses = _pose_task(options.pose_model) if options.pose_model else None
    if options.sound_model:
        if "window_s" in options.model_fields_set:
            raise ConfigError("give a window length or a sound model to take it from, not both")
        options = options.model_copy(update={"window_s": _window_of(options.sound_model)})
    result = Collected(folder)
    numbered = len(list(folder.iterdir()))  # names continue after the examples already there
    reader = open_source(source)
    reader.start()
    pending: list[np.ndarray] = []
    last_saved = -float("inf")
    waited_since = time.monotonic()
    checked = False
    try:
        while len(result.saved) < options.count:
            try:
                item = reader.read(READ_TIMEOUT_S)
            except EndOfStream:
                result.ended = True
                break
            if item is None:
                if time.monotonic() - waited_since > options.wait_s:
                    why = f": {reader.problem}" if reader.problem else ""  # a camera that cannot be opened says why
                    raise ConfigError(f"{reader.name} gave nothing for {options.wait_s:.0f} s{why}",
                                      "check the source (edgetm devices lists cameras and microphones)")
                continue
            waited_since = time.monotonic()
            if not checked:  # the first item tells what the source gives
                _check_applies(given, isinstance(item, Block), folder, reader.name)
                checked = True
            if isinstance(item, Block):
                content = _window(pending, item, options)
                suffix = "wav"
            elif item.captured - last_saved < options.interval_s:
                continue
            elif poses is not None:
                content, suffix = _pose(poses, item), "json"
                if content is None:
                    result.skipped += 1
                    continue
            else:
                content, suffix = _encode(item.image, options.format), options.format
            if content is None or (isinstance(item, Block) and item.captured - last_saved < options.interval_s):
                continue
            path = folder / f"{label}-{numbered + len(result.saved):05d}.{suffix}"
            try:
                path.write_bytes(content)
            except OSError as error:
                path.unlink(missing_ok=True)  # a half-written example would poison training
                raise ConfigError(f"cannot write {path}: {error.strerror or error}",
                                  f"{len(result.saved)} examples were saved; free some space or choose another "
                                  "--out") from None
            last_saved = item.captured
            result.saved.append(path)
            if progress is not None:
                progress(len(result.saved), options.count)
    finally:
        reader.stop()
    return result


def _check_applies(given: set[str], sound: bool, folder: Path, source: str) -> None:
    """Options for the other kind of source are errors, not ignored; one label folder holds one
    kind of example (as training needs)."""
    from edgetm.train.dataset import kind_of

    foreign = given & ({"format", "pose_model"} if sound else {"window_s", "sound_model"})
    if foreign:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in sorted(foreign))
        raise ConfigError(f"{flags} {'does' if len(foreign) == 1 else 'do'} not apply to {source}, which gives "
                          f"{'sound' if sound else 'frames'}", "leave them out")
    kinds = {kind_of(path) for path in folder.iterdir()} - {None}
    wanted = Kind.SOUND if sound else (Kind.POSE if "pose_model" in given else Kind.IMAGE)
    if kinds - {wanted}:
        raise ConfigError(f"{folder} holds {', '.join(sorted(k.value for k in kinds))} examples; these would be "
                          f"{wanted.value}s", "collect them under another label or into another --out")


def _encode(image: np.ndarray, format: str) -> bytes:
    import cv2

    ok, data = cv2.imencode(f".{format}", image, [cv2.IMWRITE_JPEG_QUALITY, 95] if format == "jpg" else [])
    if not ok:
        raise ConfigError(f"a frame could not be encoded as {format}")
    return data.tobytes()


def _window(pending: list[np.ndarray], block, options: CollectOptions) -> bytes | None:
    """Sound blocks gathered into a window of ``window_s``; its WAV bytes once full."""
    import soundfile

    pending.append(block.samples.mean(axis=1) if block.samples.ndim == 2 else block.samples)
    wanted = round(options.window_s * block.rate)
    if sum(len(p) for p in pending) < wanted:
        return None
    joined = np.concatenate(pending)
    pending.clear()
    pending.append(joined[wanted:])
    buffer = io.BytesIO()
    soundfile.write(buffer, joined[:wanted], block.rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _window_of(model: str) -> float:
    """How long the windows a sound model takes are, in seconds."""
    from edgetm.audio.classify import SoundModel, SoundOptions
    from edgetm.model import load_model
    from edgetm.model.model import TaskKind

    loaded = load_model(model)
    if loaded.task is not TaskKind.SOUND:
        raise ConfigError(f"{loaded.source} is a {loaded.task.value} model, not a sound model",
                          "give --sound-model a model edgetm listen runs")
    sound = SoundModel(loaded, SoundOptions())
    return sound.samples / sound.rate


def _pose_task(model: str):
    from edgetm.model import load_model
    from edgetm.pose.base import PoseOptions
    from edgetm.tasks import build_task

    return build_task(load_model(model), PoseOptions(tracking=False))


def _pose(task, item) -> bytes | None:
    persons = task.probe(item).persons
    if not persons:
        return None
    height, width = item.image.shape[:2]
    return to_json({"image_size": [width, height], **persons[0].to_dict()}, "the pose estimator").encode()


__all__ = ["CollectOptions", "Collected", "collect"]
