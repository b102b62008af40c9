"""The schema reader: types, ranges, defaults, hints and dotted field paths.

The cases of the former ``json_fields`` accessor, each asserting the same field and
message, now read through declared dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pytest

from medview.core.schema import Meta, did_you_mean, field_table, is_int, is_number, json_schema, parse


class FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def fails(cls, data, field: str, *words: str) -> FieldError:
    with pytest.raises(FieldError) as info:
        parse(data, cls, FieldError)
    assert info.value.field == field, str(info.value)
    for w in words:
        assert w in info.value.reason, str(info.value)
    return info.value


@dataclass(frozen=True)
class Inner:
    c: int | None = None


@dataclass(frozen=True)
class Section:
    b: Inner = Inner()
    n: Inner | None = None


@dataclass(frozen=True)
class Top:
    a: Section = Section()


@dataclass(frozen=True)
class Types:
    v: str | None = None
    s: float | None = None
    nan: float | None = None
    t: int | None = None
    half: int | None = None
    flag: bool | None = None
    mapping: dict[str, Any] | None = None
    section: Inner | None = None
    choice: Literal["a", "b"] | None = None


@dataclass(frozen=True)
class Ranges:
    n: Annotated[int, Meta(ge=6)] = 6
    x: Annotated[float, Meta(le=0.25)] = 0.0


@dataclass(frozen=True)
class Texts:
    name: Annotated[str, Meta(pattern=r"^[a-z]+$", extra={"hint": "a-z"})] = "x"
    empty: str = "x"
    optional: str = ""


@dataclass(frozen=True)
class Choice:
    opt: Literal["adam", "sgd"] = "adam"


@dataclass(frozen=True)
class Job:
    batch_size: int = 1
    epochs: int = 1


@dataclass(frozen=True)
class Lists:
    size: tuple[int, int] = (8, 8)
    custom: Annotated[tuple[int, int], Meta(extra={"reason": "custom"})] = (8, 8)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    names: Annotated[tuple[str, ...], Meta(min_length=3)] = ("x", "y", "z")
    more: Annotated[tuple[str, ...], Meta(min_length=1)] = ("x",)


def test_error_factory_builds_every_failure():
    made = []

    def factory(field, reason):
        made.append((field, reason))
        return KeyError(f"{field}|{reason}")

    with pytest.raises(KeyError, match=r"a\.b\.c\|must be an integer"):
        parse({"a": {"b": {"c": "x"}}}, Top, factory)
    assert made == [("a.b.c", "must be an integer (got 'x')")]


def test_top_level_must_be_an_object():
    fails(Top, [1, 2], "(top level)", "must be a JSON object")


def test_missing_and_null_fields():
    @dataclass(frozen=True)
    class Required:
        a: str
        b: int = 3

    fails(Required, {"a": None}, "a", "missing")
    assert parse({"a": "x", "b": None}, Required, FieldError).b == 3  # null: the default
    assert parse({}, Types, FieldError) == Types()


@pytest.mark.parametrize("data, field, words", [
    ({"v": 1}, "v", ["non-empty string", "got 1"]),
    ({"flag": 1}, "flag", ["true or false", "got 1"]),
    ({"s": "x"}, "s", ["finite number", "got 'x'"]),
    ({"nan": float("nan")}, "nan", ["finite number", "got NaN"]),
    ({"t": True}, "t", ["must be an integer", "got true"]),
    ({"half": 2.5}, "half", ["must be an integer", "got 2.5"]),
    ({"mapping": 1}, "mapping", ["must be a JSON object"]),
    ({"section": 1}, "section", ["must be a JSON object"]),
    ({"choice": True}, "choice", ["must be one of a, b", "got true"]),
])
def test_wrong_type_names_field_and_value(data, field, words):
    fails(Types, data, field, *words)


def test_long_values_are_shortened_in_messages():
    err = fails(Types, {"v": list(range(100))}, "v", "non-empty string")
    assert err.reason.endswith("…)") and len(err.reason) < 80


def test_ranges():
    assert parse({"n": 6, "x": 0.25}, Ranges, FieldError) == Ranges(6, 0.25)
    fails(Ranges, {"n": 5}, "n", "must be at least 6 (got 5)")
    fails(Ranges, {"x": 0.5}, "x", "must be at most 0.25 (got 0.5)")
    assert isinstance(parse({"x": 0}, Ranges, FieldError).x, float)


def test_text_strips_checks_pattern_and_empty():
    assert parse({"name": " ok "}, Texts, FieldError).name == "ok"
    fails(Texts, {"name": "Not OK"}, "name", "'Not OK' is not allowed (a-z)")
    fails(Texts, {"empty": " "}, "empty", "non-empty string")
    assert parse({"optional": " "}, Texts, FieldError).optional == ""  # default "": may be empty


def test_choice_is_case_insensitive_and_hints():
    assert parse({"opt": "ADAM"}, Choice, FieldError).opt == "adam"
    fails(Choice, {"opt": "adm"}, "opt", "must be one of adam, sgd (got 'adm'; did you mean 'adam'?)")


def test_unknown_field_suggests_closest():
    fails(Job, {"batchsize": 1}, "batchsize", "unknown field; did you mean 'batch_size'?")
    err = fails(Job, {"zzz": 1}, "zzz")
    assert err.reason == "unknown field"
    assert parse({"epochs": 1}, Job, FieldError).epochs == 1


def test_nested_sections_prefix_their_paths():
    fails(Top, {"a": {"b": {"c": "x"}}}, "a.b.c", "must be an integer")
    assert parse({"a": {"n": None}}, Top, FieldError).a.n is None
    assert parse({"a": {}}, Top, FieldError).a.b == Inner()
    with pytest.raises(FieldError) as info:
        parse({"c": "x"}, Inner, FieldError, prefix="search")
    assert info.value.field == "search.c"


def test_lists():
    assert parse({"size": [64, 32]}, Lists, FieldError).size == (64, 32)
    fails(Lists, {"size": [0, 8]}, "size", "must be two positive integers")
    fails(Lists, {"custom": [0.5, 1]}, "custom", "custom")
    assert parse({"mean": [0.5, 1, 2]}, Lists, FieldError).mean == (0.5, 1.0, 2.0)
    fails(Lists, {"mean": [0.5, 1]}, "mean", "must be a list of 3 numbers")
    assert parse({"names": [" a", "b", "c"]}, Lists, FieldError).names == ("a", "b", "c")
    fails(Lists, {"names": ["a", "b"]}, "names", "at least 3 names")
    fails(Lists, {"more": ["a", "a"]}, "more", "unique")
    fails(Lists, {"more": ["a", ""]}, "more", "non-empty string")


def test_mapping_is_a_copy():
    data = {"mapping": {"x": 1}}
    copy = parse(data, Types, FieldError).mapping
    copy["y"] = 2
    assert data["mapping"] == {"x": 1}


def test_documents_come_from_the_declaration():
    @dataclass(frozen=True)
    class Node:
        name: Annotated[str, Meta(description="shown in the list")]
        port: Annotated[int, Meta(ge=1, le=65535, description="DICOM port")] = 104
        secret: Annotated[str, Meta(extra={"internal": True})] = ""

    assert field_table(Node).splitlines()[2:] == ["| `name` | — | shown in the list |",
                                                  "| `port` | `104` | DICOM port |"]
    schema = json_schema(Node, "node")["$defs"]["Node"]
    assert schema["properties"]["port"] == {"description": "DICOM port", "type": "integer",
                                            "minimum": 1, "maximum": 65535, "default": 104}
    assert schema["required"] == ["name"] and schema["additionalProperties"] is False
    assert "secret" not in schema["properties"]


def test_helpers():
    assert did_you_mean("Normalization", ("normalisation", "input")) == "; did you mean 'normalisation'?"
    assert did_you_mean("qqq", ("normalisation",)) == ""
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert is_number(2.5) and not is_number(False) and not is_number(float("inf"))
