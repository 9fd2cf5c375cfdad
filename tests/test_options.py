"""Options, the settings base: what it takes, what it refuses and how it says so."""

from __future__ import annotations

import ast
import enum
import math
from typing import Annotated, Literal

import pytest

from edgetm.options import (
    Field,
    Later,
    OneOf,
    Options,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from tests.conftest import ROOT


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(Options):
    type: Literal["inner"] = "inner"
    size: int = Field(3, ge=1, le=10, description="how many")


class Other(Options):
    type: Literal["other"] = "other"
    name: str = Field("x", max_length=4)


class Outer(Options):
    rate: float = Field(1.0, gt=0, le=100)
    flag: bool = False
    colour: Colour = Colour.RED
    mode: Literal["a", "b", "c"] = "a"
    name: str = Field("n", pattern=r"^[a-z]+$")
    pair: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] | None = None
    names: tuple[str, ...] = ()
    inner: Inner = Field(default_factory=Inner)
    parts: list[Inner | Other] = Field(default_factory=list)


def messages(error: ValidationError) -> dict[str, str]:
    return {".".join(map(str, item["loc"])): item["msg"] for item in error.errors()}


def test_values_are_converted_as_a_configuration_file_means_them():
    made = Outer.model_validate({"rate": 2, "colour": "blue", "pair": [3, 4], "names": ["p", "q"],
                                 "inner": {"size": 5}, "parts": [{"type": "other", "name": "ab"}, {"type": "inner"}]})
    assert made.rate == 2.0 and isinstance(made.rate, float)
    assert made.colour is Colour.BLUE and made.pair == (3, 4) and made.names == ("p", "q")
    assert made.inner == Inner(size=5)
    assert [type(p) for p in made.parts] == [Other, Inner]
    assert Outer(rate="0.5").rate == 0.5  # a flag's text


def test_every_bad_value_is_reported_at_once_with_its_key_path():
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate({"rate": 0, "flag": "maybe", "mode": "d", "name": "Bad", "pair": [1, -1],
                              "inner": {"size": 11, "extra": 1}, "parts": [{"type": "nope"}], "unknown": 1})
    found = messages(caught.value)
    assert found == {
        "rate": "Input should be greater than 0",
        "flag": "Input should be a valid boolean, unable to interpret input",
        "mode": "Input should be 'a', 'b' or 'c'",
        "name": "String should match pattern '^[a-z]+$'",
        "pair.1": "Input should be greater than or equal to 0",
        "inner.extra": "Extra inputs are not permitted",
        "inner.size": "Input should be less than or equal to 10",
        "parts.0": "Input tag 'nope' found using 'type' does not match any of the expected tags: 'inner', 'other'",
        "unknown": "Extra inputs are not permitted",
    }


@pytest.mark.parametrize("value", [math.nan, math.inf, "nan", "-inf", 10**400])
def test_no_setting_takes_nan_or_infinity(value):
    with pytest.raises(ValidationError, match="finite number"):
        Outer(rate=value)


def test_a_boolean_is_not_a_number_and_a_fraction_is_not_an_integer():
    with pytest.raises(ValidationError, match="valid number"):
        Outer(rate=True)
    with pytest.raises(ValidationError, match="fractional part"):
        Inner(size=2.5)
    assert Inner(size=4.0).size == 4


def test_a_pattern_is_matched_to_the_end_of_the_value():
    """Python's $ also matches before a final newline: a name with one must still be refused."""
    with pytest.raises(ValidationError, match="should match pattern"):
        Outer(name="abc\n")


def test_strict_options_take_only_values_of_their_own_type():
    class Command(Options, strict=True):
        level: float | None = Field(None, ge=0, le=1)
        on: bool | None = None

    assert Command(level=1).level == 1.0  # an integer is a number
    for bad in ({"level": "0.5"}, {"on": 1}, {"on": "true"}):
        with pytest.raises(ValidationError):
            Command.model_validate(bad)


def test_options_are_immutable_and_copies_record_what_was_given():
    made = Outer(rate=3)
    assert made.model_fields_set == {"rate"}
    with pytest.raises(AttributeError, match="immutable"):
        made.rate = 4  # type: ignore[misc]
    copy = made.model_copy(update={"flag": True})
    assert copy.flag and not made.flag and copy.model_fields_set == {"rate", "flag"}
    assert copy != made and made == Outer(rate=3.0) and hash(made) == hash(Outer(rate=3.0))
    with pytest.raises(TypeError, match="no field"):
        made.model_copy(update={"nope": 1})


def test_dumps_keep_python_types_or_give_json_ones():
    made = Outer(pair=(1, 2), colour="blue")
    assert made.model_dump()["colour"] is Colour.BLUE and made.model_dump()["pair"] == (1, 2)
    assert made.model_dump(mode="json")["colour"] == "blue" and made.model_dump(mode="json")["pair"] == [1, 2]
    assert Outer.model_validate_json(made.model_dump_json()) == made
    assert "pair" not in Outer().model_dump(exclude_none=True)


def test_validators_run_before_and_after_and_see_the_context():
    class Shorthand(Options):
        path: str
        inner: Inner | None = None

        @field_validator("path", mode="before")
        @classmethod
        def _folder(cls, value, info: ValidationInfo):
            return f"{(info.context or {}).get('folder', '.')}/{value}"

        @field_validator("inner", mode="before")
        @classmethod
        def _size(cls, value):
            return {"size": value} if isinstance(value, int) else value

        @model_validator(mode="after")
        def _not_root(self):
            if self.path.startswith("/"):
                raise ValueError("no absolute paths")
            return self

    made = Shorthand.model_validate({"path": "m", "inner": 2}, context={"folder": "here"})
    assert made.path == "here/m" and made.inner == Inner(size=2)
    with pytest.raises(ValidationError) as caught:
        Shorthand.model_validate({"path": "m"}, context={"folder": ""})
    assert caught.value.errors()[0]["msg"] == "Value error, no absolute paths"
    with pytest.raises(ValidationError, match="Field required"):
        Shorthand()


def test_the_json_schema_describes_fields_limits_and_kinds():
    schema = Outer.model_json_schema()
    properties = schema["properties"]
    assert schema["additionalProperties"] is False and "required" not in schema
    assert properties["rate"] == {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "default": 1.0}
    assert properties["colour"]["enum"] == ["red", "blue"] and properties["mode"]["enum"] == ["a", "b", "c"]
    assert properties["parts"]["items"]["discriminator"]["propertyName"] == "type"
    assert schema["$defs"]["Inner"]["properties"]["size"]["description"] == "how many"


class Family:
    """A family of options by tag that records which classes were asked for, as a plugin registry
    imports them."""

    def __init__(self, *classes: type[Options]) -> None:
        self.classes = {c.model_fields["type"].default: c for c in classes}
        self.asked: list[str] = []

    def __contains__(self, tag: object) -> bool:
        return tag in self.classes

    def __iter__(self):
        return iter(self.classes)

    def __getitem__(self, tag: str) -> type[Options]:
        self.asked.append(tag)
        return self.classes[tag]


ASKED_LATER: list[str] = []


def other_later() -> type[Options]:
    ASKED_LATER.append("other")
    return Other


def test_a_one_of_field_looks_up_only_the_class_its_value_names():
    family = Family(Inner, Other)
    asked_later = ASKED_LATER
    asked_later.clear()

    class Holder(Options):
        part: Annotated[Options, OneOf(family)]
        maybe: Annotated[Options | None, Later(other_later)] = None

    made = Holder(part={"type": "other", "name": "ab"})
    assert made.part == Other(name="ab") and family.asked == ["other"] and asked_later == []
    assert Holder(part=Inner(size=2)).part.size == 2
    with pytest.raises(ValidationError) as caught:
        Holder(part={"type": "nope"})
    assert "does not match any of the expected tags: 'inner', 'other'" in messages(caught.value)["part"]
    with pytest.raises(ValidationError) as caught:
        Holder(part={"type": "inner", "size": 11}, maybe={"name": "toolong"})
    assert set(messages(caught.value)) == {"part.inner.size", "maybe.name"} and asked_later == ["other"]
    assert Holder(part={"type": "inner"}, maybe=None).maybe is None


def test_the_schema_of_a_one_of_field_lists_the_whole_family():
    class Holder(Options):
        part: Annotated[Options, OneOf(Family(Inner, Other))]
        maybe: Annotated[Options | None, Later(lambda: Inner)] = None

    properties = Holder.model_json_schema()["properties"]
    assert properties["part"]["discriminator"]["mapping"] == {"inner": "#/$defs/Inner", "other": "#/$defs/Other"}
    assert properties["maybe"]["anyOf"] == [{"$ref": "#/$defs/Inner"}, {"type": "null"}]


def test_edgetm_does_not_import_pydantic():
    """Options replaced it; a stray import would fail where it is not installed."""
    found = []
    for path in (ROOT / "edgetm").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0].startswith("pydantic")]
    assert found == []
