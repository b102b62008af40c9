"""Declared JSON formats: each file format is declared once, as annotated dataclasses.

Model manifests, training / search / pretrain jobs, trainer events and hanging protocols
are hand-editable JSON that must tell the user exactly which field is wrong and why.
Each format is a frozen dataclass whose annotations are the whole declaration: the
type, the default, the limits and the documentation of every field, written with
msgspec's :class:`Meta`. From that one declaration this module

* validates parsed JSON into the dataclass (:func:`parse`), raising the caller's error
  with the field's dotted path and a one-line reason::

      JobError: job field 'optimizer': must be one of adam, adamw, sgd (got 'adm'; did you mean 'adam'?)

* writes the JSON Schema (:func:`json_schema`) and the Markdown field table of the
  docs (:func:`field_table`); ``scripts/gen_schema_docs.py`` regenerates them and a
  test checks the committed copies are current.

msgspec was measured against pydantic v2 in a fresh interpreter: importing it costs
about 18 ms and 4 MB (pydantic: 85 ms and 15 MB, plus ~5 ms per model class), and it
is imported when the window lists its models (``bench/schema_import.py``). msgspec
reads the declarations (``msgspec.inspect``) and writes the JSON Schema; the reader
below words the messages as medview did before the declarations existed (msgspec's own
errors name neither the closest key nor the value given).

Declaring a new format
----------------------
Write a frozen dataclass per JSON object; annotate each field, give it a default
unless it is required::

    @dataclass(frozen=True)
    class Node:
        \"\"\"A PACS node (``nodes.json``).\"\"\"
        name: Annotated[str, Meta(description="shown in the list")]
        port: Annotated[int, Meta(ge=1, le=65535, description="DICOM port")] = 104
        tls: Annotated[bool, Meta(description="encrypt the association")] = False

    node = parse(data, Node, lambda field, reason: NodeError(f"field '{field}': {reason}"))

Rules the reader applies: an unknown key fails with the closest known one; ``null``
counts as absent (the default); strings are stripped and must not be empty unless the
default is ``""``; ``Literal`` choices compare case-insensitively and come back in
lower case; ``tuple[str, ...]`` is a list of unique names; a nested dataclass is a
nested object whose failures carry its path (``"card.date"``). ``Meta(extra=...)``
may carry:

* ``hint``: what a ``pattern`` allows, for the message;
* ``reason``: the failure message for a value of the wrong shape;
* ``check``: ``check(reader, value, path)`` validates a field of a shape of its own
  (DICOM defined terms, a regular expression) and returns its value;
* ``default``: the default as the docs say it, when the dataclass default is a
  placeholder the parser resolves (it is then left out of the JSON Schema);
* ``internal``: an attribute that is not in the file;
* ``key``: the JSON key when it cannot be a Python name (``"or"``).

Rules across fields stay in the parsing module, after :func:`parse`. Add the format's
tables and schema to ``scripts/gen_schema_docs.py``. A format read while the window
starts should be declared in a module without ``from __future__ import annotations``:
string annotations are compiled when first inspected (about 8 ms for a manifest).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import typing
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import msgspec
import msgspec.inspect as mi
from msgspec import Meta

__all__ = ["Meta", "ErrorFactory", "Wording", "EVENT_WORDING", "Reader", "parse", "did_you_mean",
           "is_int", "is_number", "json_schema", "field_table", "file_fields", "key_of", "short",
           "clip", "json_kind"]

#: Builds the exception to raise from ``(field_path, reason)``.
ErrorFactory = Callable[[str, str], Exception]


@dataclasses.dataclass(frozen=True)
class Wording:
    """How a format words its failures and how forgiving it is.

    The defaults suit hand-written files (jobs, manifests); the trainer's event
    protocol is written by programs and uses :data:`EVENT_WORDING`.
    """

    #: Strip strings and compare ``Literal`` choices case-insensitively.
    forgiving: bool = True
    #: Refuse keys the declaration does not know (else ignore them).
    forbid_unknown: bool = True
    #: A non-finite number in an optional number field becomes ``None``.
    nonfinite_as_null: bool = False
    object_reason: str = "must be a JSON object"

    def got(self, value: Any) -> str:
        """What the user wrote, appended to a reason."""
        return f" (got {short(value)})"

    def choices(self, options: Iterable[Any]) -> str:
        return ", ".join(map(str, options))


class _EventWording(Wording):
    def got(self, value: Any) -> str:
        return f", got {json_kind(value)}"

    def choices(self, options: Iterable[Any]) -> str:
        return ", ".join(map(repr, options))


#: The trainer's events: exact strings, unknown fields ignored (forward compatibility).
EVENT_WORDING = _EventWording(forgiving=False, forbid_unknown=False, nonfinite_as_null=True,
                              object_reason="must be an object with string keys")

_INFO: dict[type, tuple] = {}
_HINT_INFO: dict[Any, Any] = {}


def key_of(field: Any) -> str:
    """The JSON key of an inspected field: its name, or ``extra["key"]`` (``"or"``)."""
    return _extra(field.type).get("key") or field.encode_name


def file_fields(cls: type) -> tuple:
    """The ``msgspec.inspect`` fields of a declared dataclass that appear in its file."""
    if cls not in _INFO:
        _remember(mi.type_info(cls))
    return _INFO[cls]


def _remember(node: Any) -> None:
    """Cache the fields of the class ``node`` describes and of every class inside it
    (one inspection of the outermost class serves them all)."""
    for kind in _nodes(node):
        if isinstance(kind, mi.DataclassType) and kind.cls not in _INFO:
            _INFO[kind.cls] = tuple(f for f in kind.fields if not _extra(f.type).get("internal"))
            for f in kind.fields:
                _remember(f.type)


def _nodes(kind: Any) -> list:
    """``kind`` and the types directly inside it (union members, items, values)."""
    kind = _bare(kind)
    parts = getattr(kind, "types", ()) + getattr(kind, "item_types", ())
    for attr in ("item_type", "value_type"):
        if hasattr(kind, attr):
            parts += (getattr(kind, attr),)
    return [kind] + [n for p in parts for n in _nodes(p)]


def parse(data: Any, cls: type, error: ErrorFactory, prefix: str = "",
          wording: Wording = Wording()) -> Any:
    """Validate a parsed JSON object into the declared dataclass ``cls``.

    Parameters
    ----------
    data : dict
        The parsed JSON object.
    cls : type
        A declared dataclass (see the module docstring).
    error : callable
        ``error(field_path, reason)`` returns the exception to raise.
    prefix : str, optional
        Dotted path of this object (``""`` at the top level).
    wording : Wording, optional

    Raises
    ------
    Exception
        From ``error``, for the first missing, unknown or invalid field.
    """
    return Reader(error, wording).object(data, cls, prefix)


class Reader:
    """Checks values against ``msgspec.inspect`` types; failures go through ``error``."""

    def __init__(self, error: ErrorFactory, wording: Wording = Wording()) -> None:
        self.error, self.wording = error, wording

    def fail(self, path: str, reason: str) -> NoReturn:
        """Raise the caller's error for the field at ``path``."""
        raise self.error(path or "(top level)", reason)

    def object(self, data: Any, cls: type, path: str = "") -> Any:
        """``cls`` built from the JSON object ``data`` (absent fields take their defaults)."""
        if not isinstance(data, dict):
            self.fail(path, self.wording.object_reason)
        fields = file_fields(cls)
        if self.wording.forbid_unknown:
            names = [key_of(f) for f in fields]
            for key in data:
                if key not in names:
                    self.fail(_join(path, key), f"unknown field{did_you_mean(key, names)}")
        values = {}
        for f in fields:
            key = key_of(f)
            if data.get(key) is not None:
                values[f.name] = self.value(data[key], f.type, _join(path, key), f.default,
                                            {"owner": (cls, f.name)})
            elif f.required:
                self.fail(_join(path, key), "missing")
        return cls(**values)

    def check(self, value: Any, hint: Any, path: str) -> Any:
        """``value`` checked against a type ``hint`` (e.g. from a field's ``check``)."""
        if hint not in _HINT_INFO:
            _HINT_INFO[hint] = mi.type_info(hint)
        return self.value(value, _HINT_INFO[hint], path)

    def value(self, value: Any, kind: Any, path: str, default: Any = msgspec.NODEFAULT,
              outer: dict | None = None) -> Any:
        """``value`` checked against the inspected type ``kind`` and normalised (``outer``:
        the ``extra`` of the union ``kind`` belongs to)."""
        extra = {**(outer or {}), **_extra(kind)}
        if "check" in extra:  # a field of its own shape checks itself
            return extra["check"](self, value, path)
        kind = _bare(kind)
        if isinstance(kind, mi.UnionType):
            return self._union(value, kind, path, extra, default)
        if isinstance(kind, mi.AnyType):
            return value
        check = _CHECKS.get(type(kind))
        if check is None:
            raise TypeError(f"{path}: no rule for {kind!r}")  # a bug in a declaration
        return check(self, value, kind, path, extra, default)

    def _union(self, value, kind, path, extra, default):
        options = [t for t in kind.types if not isinstance(_bare(t), mi.NoneType)]
        if value is None and len(options) < len(kind.types):
            return None
        if (self.wording.nonfinite_as_null and _is_num(value) and not math.isfinite(value)
                and any(isinstance(_bare(t), mi.FloatType) for t in options)):
            return None  # JSON has no NaN: a measurement that is not finite is null
        if len(options) == 1:
            return self.value(value, options[0], path, default, extra)
        for option in options:  # by JSON kind: a string, a number, an object, a list
            if _accepts(_bare(option), value):
                return self.value(value, option, path, default, extra)
        self.fail(path, extra.get("reason", "has the wrong type") + self.wording.got(value))

    # -- one rule per JSON type ---------------------------------------------------------

    def _text(self, value, kind, path, extra, default):
        if not isinstance(value, str):
            self.fail(path, ("must be a non-empty string" if self.wording.forgiving
                             else "must be a string") + self.wording.got(value))
        text = value.strip() if self.wording.forgiving else value
        if self.wording.forgiving and not text and default != "":
            self.fail(path, "must be a non-empty string" + self.wording.got(value))
        # Match what the caller gets back, so padding alone never fails a field.
        if kind.pattern and text and not _pattern(kind.pattern).match(text):
            self.fail(path, f"'{value}' is not allowed ({extra.get('hint', kind.pattern)})")
        return text

    def _choice(self, value, kind, path, extra, default):
        options = kind.values
        key = value.strip().lower() if self.wording.forgiving and isinstance(value, str) else value
        if all(is_int(o) for o in options) and not is_int(value):
            self.fail(path, "must be an integer" + self.wording.got(value))
        if key not in options or isinstance(value, bool):
            # msgspec sorts the values; the message keeps the declared order
            order = _choice_order(*extra["owner"]) if "owner" in extra else ()
            options = sorted(options, key=lambda v: order.index(v) if v in order else len(order))
            hint = did_you_mean(value, options) if isinstance(value, str) else ""
            got = self.wording.got(value)
            got = got[:-1] + hint + ")" if got.endswith(")") else got + hint
            reason = extra.get("reason", f"must be one of {self.wording.choices(options)}")
            self.fail(path, reason + got)
        return key

    def _boolean(self, value, kind, path, extra, default):
        if not isinstance(value, bool):
            self.fail(path, "must be true or false" + self.wording.got(value))
        return value

    def _integer(self, value, kind, path, extra, default):
        if not is_int(value):
            self.fail(path, extra.get("reason", "must be an integer") + self.wording.got(value))
        self._range(value, kind, path)
        return int(value)

    def _number(self, value, kind, path, extra, default):
        if not is_number(value):
            self.fail(path, "must be a finite number" + self.wording.got(value))
        self._range(value, kind, path)
        return float(value)

    def _range(self, value, kind, path):
        if kind.ge is not None and value < kind.ge:
            self.fail(path, f"must be at least {kind.ge:g} (got {value:g})")
        if kind.le is not None and value > kind.le:
            self.fail(path, f"must be at most {kind.le:g} (got {value:g})")

    def _mapping(self, value, kind, path, extra, default):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            self.fail(path, self.wording.object_reason
                      + ("" if self.wording.forgiving else self.wording.got(value)))
        if isinstance(kind.value_type, mi.AnyType):
            return dict(value)  # free-form: a copy, so the caller's data never changes
        return {k: self.value(v, kind.value_type, _join(path, k)) for k, v in value.items()}

    def _nested(self, value, kind, path, extra, default):
        return self.object(value, kind.cls, path)

    def _fixed_list(self, value, kind, path, extra, default):
        n, item = len(kind.item_types), _bare(kind.item_types[0])
        whole = isinstance(item, mi.IntType)
        reason = extra.get("reason") or ("must be two positive integers" if whole
                                         else f"must be a list of {n} numbers")
        good = is_int if whole else is_number
        if (not isinstance(value, (list, tuple)) or len(value) != n
                or not all(good(v) and (not whole or v > 0) for v in value)):
            self.fail(path, reason)
        return tuple(int(v) if whole else float(v) for v in value)

    def _list(self, value, kind, path, extra, default):
        item = _bare(kind.item_type)
        if isinstance(item, mi.StrType):
            return self._names(value, kind, path)
        if not isinstance(value, (list, tuple)) or len(value) < (kind.min_length or 0):
            self.fail(path, extra.get("reason", "must be a list"))
        return tuple(self.value(v, kind.item_type, f"{path}[{i}]") for i, v in enumerate(value))

    def _names(self, value, kind, path):
        least = kind.min_length or 0
        if not isinstance(value, (list, tuple)) or len(value) < least:
            self.fail(path, f"must be a list of at least {least} names")
        if not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(path, "every entry must be a non-empty string")
        names = tuple(v.strip() for v in value)
        if len(set(names)) != len(names):
            self.fail(path, "names must be unique")
        return names


_CHECKS = {
    mi.StrType: Reader._text, mi.LiteralType: Reader._choice, mi.BoolType: Reader._boolean,
    mi.IntType: Reader._integer, mi.FloatType: Reader._number, mi.DictType: Reader._mapping,
    mi.DataclassType: Reader._nested, mi.TupleType: Reader._fixed_list,
    mi.VarTupleType: Reader._list, mi.ListType: Reader._list,
}


_ORDER: dict[type, dict[str, tuple]] = {}


def _choice_order(cls: type, name: str) -> tuple:
    """The values of the ``Literal`` choices of field ``name`` in declared order."""
    if cls not in _ORDER:
        hints = typing.get_type_hints(cls, include_extras=True)
        _ORDER[cls] = {key: tuple(_literals(hint)) for key, hint in hints.items()}
    return _ORDER[cls][name]


def _literals(hint: Any) -> list:
    if typing.get_origin(hint) is typing.Literal:
        return list(typing.get_args(hint))
    return [v for arg in typing.get_args(hint) for v in _literals(arg)]


def _accepts(kind: Any, value: Any) -> bool:
    """Whether ``value``'s JSON kind is the kind of the union member ``kind``."""
    if isinstance(kind, mi.LiteralType):
        return any(type(v) is type(value) for v in kind.values)
    if isinstance(kind, mi.BoolType):
        return isinstance(value, bool)
    if isinstance(kind, (mi.IntType, mi.FloatType)):
        return _is_num(value)
    if isinstance(kind, mi.StrType):
        return isinstance(value, str)
    if isinstance(kind, (mi.DataclassType, mi.DictType)):
        return isinstance(value, dict)
    return isinstance(value, list) and isinstance(kind, (mi.TupleType, mi.VarTupleType,
                                                         mi.ListType))


def _bare(kind: Any) -> Any:
    return kind.type if isinstance(kind, mi.Metadata) else kind


def _extra(kind: Any) -> dict:
    return (kind.extra or {}) if isinstance(kind, mi.Metadata) else {}


_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(text: str) -> re.Pattern:
    if text not in _PATTERNS:
        _PATTERNS[text] = re.compile(text)
    return _PATTERNS[text]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ----------------------------------------------------------------------- helpers

def did_you_mean(value: str, options: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix naming the option closest to ``value``, or ``""``.

    Parameters
    ----------
    value : str
        What the user wrote (compared in lower case).
    options : iterable of str
        The valid spellings.
    """
    close = difflib.get_close_matches(str(value).lower(), [str(o) for o in options], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def is_int(value: Any) -> bool:
    """True for a JSON integer: an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a finite JSON number: ``int`` or ``float``, not ``bool``, not NaN or ±inf."""
    return _is_num(value) and math.isfinite(value)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def short(value: Any) -> str:
    """``value`` as the user wrote it in JSON (``true``, ``null``, ``[1, 2]``), cut to one line."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:39] + "…"


def json_kind(value: Any) -> str:
    """What a JSON value is, for a message: ``"null"``, ``"number 1.0"``, ``"an array"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {clip(repr(value))}"
    return {"dict": "an object", "list": "an array"}.get(type(value).__name__, type(value).__name__)


def clip(text: str, limit: int = 80) -> str:
    """``text`` stripped and cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ----------------------------------------------------------------------- documents

def json_schema(cls: type | tuple[type, ...], title: str, description: str = "") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the file format declared by ``cls`` (or by any
    one of several classes: ``oneOf``).

    Objects refuse unknown keys; ``internal`` attributes are left out.
    """
    roots = cls if isinstance(cls, tuple) else (cls,)
    if isinstance(cls, tuple):
        parts, defs = msgspec.json.schema_components(cls, ref_template="#/$defs/{name}")
        schema = {"oneOf": list(parts), "$defs": defs}
    else:
        schema = msgspec.json.schema(cls)
    for name, sub in schema.get("$defs", {}).items():
        declared = next(filter(None, (_declared(root, name) for root in roots)), None)
        if declared is not None:
            fields = {f.encode_name: f for f in file_fields(declared)}
            sub["properties"] = {key_of(fields[k]): v for k, v in sub["properties"].items()
                                 if k in fields}
            sub["required"] = [key_of(fields[k]) for k in sub.get("required", []) if k in fields]
            for f in fields.values():  # a placeholder default, resolved by the parser, is no default
                if _extra(f.type).get("default"):
                    sub["properties"][key_of(f)].pop("default", None)
            sub["additionalProperties"] = False
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title}
    if description:
        head["description"] = description
    return head | schema


def _declared(root: type, name: str) -> type | None:
    """The dataclass named ``name`` reachable from ``root``."""
    seen, todo = set(), [root]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ == name:
            return cls
        for f in mi.type_info(cls).fields:
            todo.extend(_classes(f.type))
    return None


def _classes(kind: Any) -> list[type]:
    return [n.cls for n in _nodes(kind) if isinstance(n, mi.DataclassType)]


def field_table(cls: type, prefix: str = "", default: bool = True, skip: tuple = ()) -> str:
    """The Markdown table of ``cls``'s fields: field, (default), meaning.

    Parameters
    ----------
    cls : type
        A declared dataclass.
    prefix : str
        Prepended to each field name (``"input."``).
    default : bool
        A default column; else a type column (formats written by programs).
    skip : tuple of str
        Fields left out (e.g. those every event shares).
    """
    rows = ["| field | default | meaning |", "|---|---|---|"] if default else \
        ["| field | type | meaning |", "|---|---|---|"]
    for f in file_fields(cls):
        if f.name in skip:
            continue
        extra = _extra(f.type)
        meaning = (f.type.extra_json_schema or {}).get("description", "") \
            if isinstance(f.type, mi.Metadata) else ""
        second = extra.get("default") or _default_text(f) if default else _type_text(f.type)
        rows.append(f"| `{prefix}{key_of(f)}` | {second} | {meaning} |")
    return "\n".join(rows) + "\n"


def _default_text(f: Any) -> str:
    if f.required:
        return "—"
    value = f.default
    if value is msgspec.NODEFAULT and f.default_factory is not msgspec.NODEFAULT:
        value = f.default_factory()
    if value is None:
        return "none"
    if dataclasses.is_dataclass(value):
        return "see below"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"


def _type_text(kind: Any) -> str:
    kind = _bare(kind)
    if isinstance(kind, mi.UnionType):
        return " or ".join(dict.fromkeys(_type_text(t) for t in kind.types))
    if isinstance(kind, mi.LiteralType):
        return "string"
    return {mi.StrType: "string", mi.IntType: "integer", mi.FloatType: "number",
            mi.BoolType: "boolean", mi.NoneType: "null", mi.DictType: "object",
            mi.DataclassType: "object", mi.AnyType: "any"}.get(type(kind), "array")
