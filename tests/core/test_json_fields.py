"""The shared JSON field accessor: types, ranges, defaults, hints and dotted field paths."""

from __future__ import annotations

import re

import pytest

from medview.core.json_fields import Fields, did_you_mean, is_int, is_number


class FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def fields(data) -> Fields:
    return Fields(data, FieldError)


def fails(call, field: str, *words: str) -> FieldError:
    with pytest.raises(FieldError) as info:
        call()
    assert info.value.field == field, str(info.value)
    for w in words:
        assert w in info.value.reason, str(info.value)
    return info.value


def test_error_factory_builds_every_failure():
    made = []

    def factory(field, reason):
        made.append((field, reason))
        return KeyError(f"{field}|{reason}")

    top = Fields({"a": {"b": "x"}}, factory)
    with pytest.raises(KeyError, match=r"a\.b\|must be an integer"):
        top.section("a").integer("b")
    with pytest.raises(KeyError):
        top.fail("c", "custom")
    assert made == [("a.b", "must be an integer (got 'x')"), ("c", "custom")]


def test_top_level_must_be_an_object():
    fails(lambda: fields([1, 2]), "(top level)", "must be a JSON object")


def test_missing_and_null_fields():
    top = fields({"a": None})
    fails(lambda: top.text("a"), "a", "missing")
    fails(lambda: top.integer("b"), "b", "missing")
    assert top.integer("a", default=3) == 3
    # A None default marks an optional field with no value.
    assert top.choice("b", ("x",), default=None) is None
    assert top.string_list("b", 1, default=None) is None
    for accessor in (top.text, top.boolean, top.integer, top.number, top.mapping):
        assert accessor("b", default=None) is None


@pytest.mark.parametrize("call, field, words", [
    (lambda f: f.text("v"), "v", ["non-empty string", "got 1"]),
    (lambda f: f.boolean("v"), "v", ["true or false", "got 1"]),
    (lambda f: f.number("s"), "s", ["finite number", "got 'x'"]),
    (lambda f: f.number("nan"), "nan", ["finite number", "got NaN"]),
    (lambda f: f.integer("t"), "t", ["must be an integer", "got true"]),
    (lambda f: f.integer("half"), "half", ["must be an integer", "got 2.5"]),
    (lambda f: f.mapping("v"), "v", ["must be a JSON object"]),
    (lambda f: f.section("v"), "v", ["must be a JSON object"]),
    (lambda f: f.choice("t", ("a", "b")), "t", ["must be one of a, b", "got true"]),
])
def test_wrong_type_names_field_and_value(call, field, words):
    top = fields({"v": 1, "s": "x", "nan": float("nan"), "t": True, "half": 2.5})
    fails(lambda: call(top), field, *words)


def test_long_values_are_shortened_in_messages():
    err = fails(lambda: fields({"v": list(range(100))}).text("v"), "v", "non-empty string")
    assert err.reason.endswith("…)") and len(err.reason) < 80


def test_ranges():
    top = fields({"n": 5, "x": 0.5})
    assert top.integer("n", minimum=5, maximum=5) == 5
    fails(lambda: top.integer("n", minimum=6), "n", "must be at least 6 (got 5)")
    fails(lambda: top.number("x", maximum=0.25), "x", "must be at most 0.25 (got 0.5)")
    assert isinstance(top.number("n"), float)


def test_text_strips_checks_pattern_and_empty():
    top = fields({"name": " ok ", "bad": "Not OK", "empty": " "})
    assert top.text("name", pattern=re.compile(r"^[a-z]+$"), hint="a-z") == "ok"
    fails(lambda: top.text("bad", pattern=re.compile(r"^[a-z]+$"), hint="a-z"), "bad",
          "'Not OK' is not allowed (a-z)")
    fails(lambda: top.text("empty"), "empty", "non-empty string")
    assert top.text("empty", allow_empty=True) == ""
    assert top.text("absent", default="", allow_empty=True) == ""


def test_choice_is_case_insensitive_and_hints():
    top = fields({"opt": "ADAM", "typo": "adm"})
    assert top.choice("opt", ("adam", "sgd")) == "adam"
    fails(lambda: top.choice("typo", ("adam", "sgd")), "typo",
          "must be one of adam, sgd (got 'adm'; did you mean 'adam'?)")


def test_unknown_field_suggests_closest():
    fails(lambda: fields({"batchsize": 1}).only(("batch_size", "epochs")), "batchsize",
          "unknown field; did you mean 'batch_size'?")
    err = fails(lambda: fields({"zzz": 1}).only(("batch_size",)), "zzz")
    assert err.reason == "unknown field"
    fields({"epochs": 1}).only(("epochs",))


def test_nested_sections_prefix_their_paths():
    top = fields({"a": {"b": {"c": "x"}, "n": None}})
    inner = top.section("a").section("b")
    assert inner.path("c") == "a.b.c"
    fails(lambda: inner.integer("c"), "a.b.c", "must be an integer")
    fails(lambda: inner.top_fail("task", "whole path"), "task", "whole path")
    fails(lambda: top.section("missing"), "missing", "missing")
    assert top.section("missing", optional=True).data == {}
    assert top.section("a").section("n", optional=True, nullable=True) is None
    assert top.section("a").section("absent", nullable=True) is None


def test_lists():
    top = fields({"size": [64, 32], "zero": [0, 8], "mean": [0.5, 1], "names": [" a", "b"],
                  "dupes": ["a", "a"], "blank": ["a", ""]})
    assert top.int_pair("size") == (64, 32)
    assert top.int_pair("absent", default=(8, 8)) == (8, 8)
    fails(lambda: top.int_pair("zero"), "zero", "must be two positive integers")
    fails(lambda: top.int_pair("mean", reason="custom"), "mean", "custom")
    assert top.float_list("mean", 2) == (0.5, 1.0)
    fails(lambda: top.float_list("mean", 3), "mean", "must be a list of 3 numbers")
    assert top.string_list("names", 2) == ("a", "b")
    assert top.string_list("absent", 1, default=("x",)) == ("x",)
    fails(lambda: top.string_list("names", 3), "names", "at least 3 names")
    fails(lambda: top.string_list("dupes", 1), "dupes", "unique")
    fails(lambda: top.string_list("blank", 1), "blank", "non-empty string")


def test_keys_and_mapping_copy():
    data = {"b": {"x": 1}, "a": 2}
    top = fields(data)
    assert top.keys() == ["b", "a"]
    copy = top.mapping("b")
    copy["y"] = 2
    assert data["b"] == {"x": 1}


def test_helpers():
    assert did_you_mean("Normalization", ("normalisation", "input")) == "; did you mean 'normalisation'?"
    assert did_you_mean("qqq", ("normalisation",)) == ""
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert is_number(2.5) and not is_number(False) and not is_number(float("inf"))
