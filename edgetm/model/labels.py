"""Class labels: Teachable Machine's labels.txt, plain lists, and labels embedded in models."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

from edgetm.errors import LabelsError
from edgetm.model.packed import packed_files

# Teachable Machine writes "{index} {name}"; the name may itself contain spaces and digits.
_INDEXED = re.compile(r"^\s*(\d+)[ \t:]\s*(.*?)\s*$")
MAX_LABELS_BYTES = 16 * 1024 * 1024
# The most classes a labels file or a model's metadata may name: ImageNet-21k, the largest label set
# in common use, has 21,843. Gaps in sparse indices are filled, so an index alone could ask for billions.
MAX_CLASSES = 100_000

log = logging.getLogger(__name__)


def unique_labels(labels: list[str], source: str = "the labels") -> list[str]:
    """Labels with a repeated name told apart ("Class 1", "Class 1 (2)"), said once: scores,
    smoothing, counts and Home Assistant's options are keyed by label, so two classes of one name
    would be taken for one."""
    seen: set[str] = set(labels)
    unique: list[str] = []
    taken: set[str] = set()
    for label in labels:
        name, n = label, 1
        while name in taken or (name != label and name in seen):  # a new name must not be another's
            n += 1
            name = f"{label} ({n})"
        taken.add(name)
        unique.append(name)
    renamed = [f"{a!r} -> {b!r}" for a, b in zip(labels, unique, strict=True) if a != b]
    if renamed:
        log.warning("%s names a class more than once; told apart as %s", source, ", ".join(renamed[:10])
                    + (f" and {len(renamed) - 10} more" if len(renamed) > 10 else ""))
    return unique


def class_name(index: int) -> str:
    """What class ``index`` of a model without labels is called: "class 5" reads as a name in counts,
    topics and tables, where a bare "5" reads as a number."""
    return f"class {index}"


def parse_labels(text: str, source: str = "labels") -> list[str]:
    """Labels from the text of a labels file, index order.

    Accepts "{index} {name}" lines (split on the first space, any number of digits) and plain
    one-name-per-line lists. CRLF, a byte-order mark and trailing blank lines are fine.
    """
    lines = text.lstrip("\ufeff").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise LabelsError(f"{source} is empty", "write one label per line")
    matches = [_INDEXED.match(line) for line in lines]
    if all(m is not None and m.group(2) for m in matches):
        indexed = {}
        for m in matches:
            assert m is not None
            digits = m.group(1)
            index = int(digits) if len(digits) <= len(str(MAX_CLASSES)) else MAX_CLASSES
            if index >= MAX_CLASSES:
                raise LabelsError(f"{source} gives the index {digits[:12]}{'...' if len(digits) > 12 else ''}, more "
                                  f"than the {MAX_CLASSES} classes edgetm takes")
            if index in indexed:
                raise LabelsError(f"{source} lists index {index} twice")
            indexed[index] = m.group(2)
        # Indices are usually 0..n-1 in order; a file starting at 1 (some tools) is taken in order.
        ordered = sorted(indexed)
        if ordered == list(range(len(ordered))) or ordered == list(range(1, len(ordered) + 1)):
            return [indexed[i] for i in ordered]
        # Sparse ids (COCO's 91-id files): keep positions, fill gaps so indices stay meaningful.
        return [indexed.get(i, f"class_{i}") for i in range(ordered[-1] + 1)]
    labels = [line.strip() for line in lines]
    blank = next((n for n, label in enumerate(labels, 1) if not label), None)
    if blank is not None:
        raise LabelsError(f"{source} has an empty line {blank}", "remove it or name the class")
    return labels


def read_labels(path: Path) -> list[str]:
    """Read and parse a labels file."""
    if not path.exists():
        raise LabelsError(f"labels file {path} does not exist")
    if path.is_dir():
        raise LabelsError(f"{path} is a folder, not a labels file")
    if not path.is_file():  # a pipe or a device would block or never end
        raise LabelsError(f"{path} is not a regular file", "give the path to a labels file")
    if path.stat().st_size > MAX_LABELS_BYTES:
        raise LabelsError(f"{path} is too large to be a labels file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LabelsError(f"{path} is not a UTF-8 text file", "a labels file has one class name per line") from None
    if "\x00" in text:
        raise LabelsError(f"{path} is a binary file, not a labels file")
    return parse_labels(text, str(path))


def names_from_mapping(names: object) -> list[str] | None:
    """Ultralytics' ``names``: a {index: name} dict or a list."""
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return list(names)
    if isinstance(names, dict) and names:
        try:
            indexed = {int(k): str(v) for k, v in names.items() if isinstance(v, str | int | float)}
        except (TypeError, ValueError):
            return None
        if len(indexed) != len(names) or not 0 <= min(indexed) <= max(indexed) < MAX_CLASSES:
            return None  # not names (a nested value's text could be enormous), or not indices of classes
        return [indexed.get(i, f"class_{i}") for i in range(max(indexed) + 1)]
    return None


def parse_literal(text: str, want: type = object) -> object | None:
    """A metadata value: YAML, or the Python literal Ultralytics writes into its exports.

    ``ast.literal_eval`` only builds literals; nothing is executed.
    """
    import yaml  # here, not at the top: most models have no metadata to parse

    for parse in (yaml.safe_load, ast.literal_eval):
        try:
            value = parse(text)
        except (yaml.YAMLError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, want):
            return value
    return None


def tflite_associated_files(content: bytes) -> dict[str, bytes]:
    """Files packed into a TFLite model by its metadata writer.

    The metadata tools append associated files (labels, Ultralytics' metadata) as a zip archive
    after the flatbuffer, so the model file is also a readable zip.
    """
    return packed_files(content, MAX_LABELS_BYTES)  # the budget is for all of them: a model could pack a thousand


def _may_name_classes(text: str) -> bool:
    """Whether ``text`` could parse to a mapping with a ``names`` key: only if it says ``names``, or
    quotes a string that could spell it (YAML and Python escapes, Python's ``'na' 'mes'``). A
    Teachable Machine labels.txt does neither, and skips the YAML parser (whose import alone takes
    longer than opening the model)."""
    return "names" in text or '"' in text or "'" in text


def embedded_tflite_labels(files: dict[str, bytes]) -> tuple[list[str] | None, dict]:
    """Labels and Ultralytics metadata from a TFLite model's associated files."""
    metadata: dict = {}
    labels = None
    for name, data in files.items():
        text = data.decode("utf-8", errors="replace")
        mapping = parse_literal(text, dict) if name.endswith((".txt", ".yaml", ".yml")) and _may_name_classes(text) \
            else None
        if isinstance(mapping, dict) and "names" in mapping:
            metadata = mapping
            labels = names_from_mapping(mapping["names"])
    if labels is None:
        for name, data in files.items():
            if "label" in name.lower():
                try:
                    labels = parse_labels(data.decode("utf-8"), name)
                except (LabelsError, UnicodeDecodeError):
                    continue
                break
    return labels, metadata
