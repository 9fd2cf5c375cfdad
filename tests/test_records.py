"""Records: value classes with the methods ``@dataclass(frozen=True)`` would give them."""

from __future__ import annotations

from typing import ClassVar

import pytest

from edgetm.records import Record, as_dict, field, replace


class Point(Record):
    x: int
    y: int = 0
    kind: ClassVar[str] = "point"  # a class variable, no field


class Named(Point, kw_only=True):
    name: str
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", compare=False)


class Counter(Record, frozen=False):
    count: int = 0


def test_fields_are_taken_by_position_or_name_with_defaults_made_afresh():
    assert Point(1) == Point(x=1, y=0) and Point(1, 2).y == 2
    first, second = Named(1, name="a"), Named(1, name="a")
    first.tags.append("t")
    assert second.tags == [] and Named._fields == ("x", "y", "name", "tags", "note")
    assert repr(Named(1, 2, name="a")) == "Named(x=1, y=2, name='a', tags=[], note='')"


@pytest.mark.parametrize(("make", "said"), [
    (lambda: Point(), "missing 1 required argument: 'x'"),
    (lambda: Point(1, 2, 3), "takes 2 positional arguments but 3 were given"),
    (lambda: Point(1, x=2), "got multiple values for argument 'x'"),
    (lambda: Point(1, z=2), "got an unexpected keyword argument 'z'"),
    (lambda: Named(1, 2, "a"), "takes 2 positional arguments but 3 were given"),
    (lambda: Named(1), "missing 1 required argument: 'name'"),
])
def test_wrong_arguments_are_refused_as_python_refuses_them(make, said):
    with pytest.raises(TypeError, match=said):
        make()


def test_records_are_frozen_hashable_and_compared_by_type_and_compared_fields():
    point = Point(1, 2)
    with pytest.raises(AttributeError, match="cannot assign to field 'x'"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y
    assert hash(point) == hash(Point(1, 2)) and len({point, Point(1, 2)}) == 1
    assert Named(1, name="a", note="one") == Named(1, name="a", note="two")
    assert Point(1, 2) != (1, 2) and Point(1) != Named(1, name="a")


def test_a_mutable_record_takes_assignment_and_is_not_hashable():
    counter = Counter()
    counter.count += 1
    assert counter == Counter(1)
    with pytest.raises(TypeError):
        hash(counter)


def test_replace_and_as_dict():
    named = Named(1, name="a", tags=["t"])
    assert replace(named, y=5) == Named(1, 5, name="a", tags=["t"]) and named.y == 0
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        replace(named, z=1)
    assert as_dict([named, (Point(2),)]) == [{"x": 1, "y": 0, "name": "a", "tags": ["t"], "note": ""},
                                             ({"x": 2, "y": 0},)]
