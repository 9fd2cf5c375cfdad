"""Examples on disk: ``DATASET/<label>/<file>``, one folder per class (also what Teachable
Machine's "download samples" gives). Images, sound clips or pose keypoint files; one kind per
dataset. Every example is identified by the hash of its bytes, so a cache of its features stays
valid when files are renamed and goes stale when they change."""

from __future__ import annotations

import enum
import hashlib
import re
from pathlib import Path

from edgetm.errors import ConfigError
from edgetm.records import Record
from edgetm.vision.image import IMAGE_SUFFIXES

SOUND_SUFFIXES = (".wav", ".flac", ".ogg")
POSE_SUFFIXES = (".json",)
# A label is a folder name: letters, digits, spaces and a little punctuation; never a path.
LABEL_PATTERN = re.compile(r"^[\w][\w .,()'+-]{0,99}$")
MAX_EXAMPLE_BYTES = 64 << 20  # a single example larger than this is not an example


class Kind(enum.Enum):
    IMAGE = "image"
    SOUND = "sound"
    POSE = "pose"


_KINDS = {**dict.fromkeys(IMAGE_SUFFIXES, Kind.IMAGE), **dict.fromkeys(SOUND_SUFFIXES, Kind.SOUND),
          **dict.fromkeys(POSE_SUFFIXES, Kind.POSE)}


def kind_of(path: Path) -> Kind | None:
    """What kind of example a file is, by its suffix; None for anything else."""
    return _KINDS.get(path.suffix.lower())


def check_label(name: str) -> str:
    """A label usable as a folder name: no separators, no leading dot, at most 100 characters."""
    if not LABEL_PATTERN.match(name) or name != name.strip():
        raise ConfigError(f"{name!r} cannot be a label", "use letters, digits, spaces and - _ . , ( ) ' + "
                          "(at most 100 characters, not starting with a dot or a space)")
    return name


class Example(Record):
    path: Path
    label: int
    digest: str  # sha256 of the file's bytes


class Dataset(Record, frozen=False):
    root: Path
    kind: Kind
    labels: list[str]
    examples: list[Example]

    def counts(self) -> dict[str, int]:
        return {label: sum(e.label == n for e in self.examples) for n, label in enumerate(self.labels)}


def digest(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_EXAMPLE_BYTES:
        raise ConfigError(f"{path} is {size} bytes, more than an example can be", "remove it from the dataset")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_dataset(root: str | Path) -> Dataset:
    """The examples under ``root``, classes in name order. Hidden files and folders (the feature
    cache) are skipped; anything else that is not an example is an error naming it."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder", "give a folder with one sub-folder of examples per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise ConfigError(f"{root} has no class folders", "lay it out as DATASET/<label>/<examples>")
    kinds: dict[Kind, Path] = {}
    examples: list[Example] = []
    labels = [check_label(folder.name) for folder in folders]
    for index, folder in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        if not files:
            raise ConfigError(f"class {folder.name!r} has no examples ({folder} is empty)",
                              "collect some, or remove the folder")
        for path in files:
            kind = kind_of(path)
            if kind is None or not path.is_file():
                raise ConfigError(f"{path} is not an example edgetm can read",
                                  "examples are images, .wav/.flac/.ogg sound or pose .json files")
            kinds.setdefault(kind, path)
            examples.append(Example(path, index, digest(path)))
    if len(kinds) > 1:
        found = ", ".join(f"{kind.value} ({path})" for kind, path in kinds.items())
        raise ConfigError(f"{root} mixes kinds of examples: {found}", "keep one kind of example per dataset")
    return Dataset(root, next(iter(kinds)), labels, examples)
