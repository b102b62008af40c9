"""One error model: every expected error of medview and the trainer is a MedviewError."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

from medview.core.errors import MedviewError, ReadError, one_line, plain_reason

ROOT = Path(__file__).resolve().parents[2]
# Not expected errors: a cancel is asked for, an undeclared setting is a bug in medview
# (an internal error), and private classes never leave their module.
NOT_ERRORS = {"JobCancelled", "SearchCancelled", "MeasureCancelled", "UnknownSetting"}
BUILT_IN = {name for name, value in vars(builtins).items()
            if isinstance(value, type) and issubclass(value, BaseException)}


def _exception_classes() -> dict[str, tuple[list[str], str]]:
    """Every class of medview and trainer: name -> (base names, file)."""
    classes = {}
    for package in ("medview", "trainer"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                             for b in node.bases]
                    classes[node.name] = (bases, str(path.relative_to(ROOT)))
    return classes


def _ancestors(name: str, classes) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for base in classes.get(todo.pop(), ([], ""))[0]:
            if base not in seen:
                seen.add(base)
                todo.append(base)
    return seen


def test_every_public_exception_class_is_a_medview_error():
    classes = _exception_classes()
    exceptions = {n for n in classes if _ancestors(n, classes) & BUILT_IN}
    assert len(exceptions) > 25  # the walk found them
    strays = sorted(f"{classes[n][1]}: {n}" for n in exceptions - NOT_ERRORS
                    if not n.startswith("_") and n != "MedviewError"
                    and "MedviewError" not in _ancestors(n, classes))
    assert strays == []


def test_expected_errors_keep_the_built_in_parent_callers_catch():
    from medview.inference.preprocess import PreprocessError
    from trainer.checkpoints import WriteError

    assert issubclass(PreprocessError, ValueError) and issubclass(PreprocessError, MedviewError)
    err = WriteError(28, "disk full: could not write x; free some space")
    assert isinstance(err, OSError) and err.errno == 28
    assert err.message == "disk full: could not write x; free some space"


@pytest.mark.parametrize("exc, line", [
    (MedviewError("two\n  lines"), "two lines"),
    (ReadError("/a/b.dcm", "truncated\nfile"), "truncated file"),
    (ValueError("bad"), "a value in the file cannot be used (bad)"),
    (KeyError(), "a required value is missing"),
])
def test_plain_reason_is_one_line(exc, line):
    assert plain_reason(exc) == line


def test_one_line_cuts_long_text_and_names_a_silent_exception():
    assert one_line("a " * 200, limit=10) == "a a a a a…"
    assert one_line(RuntimeError()) == "RuntimeError"
    assert one_line("") == ""
    assert len(one_line("x" * 500, None)) == 500
