from pathlib import Path

import pytest

from edgetm.errors import LabelsError
from edgetm.model.labels import names_from_mapping, parse_labels, read_labels


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0 Unripe\n1 Ripe\n", ["Unripe", "Ripe"]),
        ("0 No banana\n1 Very ripe banana\n", ["No banana", "Very ripe banana"]),  # split on the first space only
        ("0 Class 1\r\n1 Class 2\r\n", ["Class 1", "Class 2"]),  # CRLF
        ("0 a\n1 b", ["a", "b"]),  # no trailing newline
        ("0 a\n1 b\n\n\n", ["a", "b"]),  # trailing blank lines
        ("\ufeff0 a\n1 b\n", ["a", "b"]),  # byte-order mark
        ("person\nbicycle\ntraffic light\n", ["person", "bicycle", "traffic light"]),  # plain list
        ("background\ntench, Tinca tinca\n", ["background", "tench, Tinca tinca"]),
        ("0 2 for 1\n1 7 up\n", ["2 for 1", "7 up"]),  # names starting with digits
        ("0: cat\n1: dog\n", ["cat", "dog"]),
        ("1 cat\n0 dog\n", ["dog", "cat"]),  # ordered by index, not by line
        ("0 a\n2 c\n", ["a", "class_1", "c"]),  # sparse ids keep their positions
    ],
)
def test_parse_labels(text, expected):
    assert parse_labels(text) == expected


def test_many_classes_with_multi_digit_indices():
    text = "".join(f"{i} name {i}\n" for i in range(12))
    labels = parse_labels(text)
    assert len(labels) == 12
    assert labels[10] == "name 10"
    assert labels[11] == "name 11"


def test_duplicate_index_is_an_error():
    with pytest.raises(LabelsError, match="index 1 twice"):
        parse_labels("0 a\n1 b\n1 c\n")


def test_empty_and_blank_lines_are_errors():
    with pytest.raises(LabelsError, match="empty"):
        parse_labels("\n\n")
    with pytest.raises(LabelsError, match="empty line 2"):
        parse_labels("cat\n\ndog\n")


def test_read_labels_rejects_binary_and_missing_files(tmp_path: Path):
    with pytest.raises(LabelsError, match="does not exist"):
        read_labels(tmp_path / "nope.txt")
    binary = tmp_path / "labels.txt"
    binary.write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(LabelsError):
        read_labels(binary)
    with pytest.raises(LabelsError, match="folder"):
        read_labels(tmp_path)


def test_ultralytics_names():
    assert names_from_mapping({0: "person", 1: "bus"}) == ["person", "bus"]
    assert names_from_mapping(["a", "b"]) == ["a", "b"]
    assert names_from_mapping({"0": "a", "2": "c"}) == ["a", "class_1", "c"]
    assert names_from_mapping("nonsense") is None
