"""Typed, validated access to the fields of a parsed JSON object.

Model manifests (``model.json``) and training jobs are both hand-editable JSON, and
both must tell the user exactly which field is wrong and why. :class:`Fields` reads
one JSON object; every failure is raised through a caller-supplied error factory
with the field's dotted path (``"preprocessing.crop.fraction"``) and a one-line
reason, so each caller keeps its own exception type and message prefix::

    top = Fields(data, JobError)
    lr = top.number("lr", default=1e-3, minimum=1e-8)   # JobError("lr", "must be ...")

Standard library only: the model registry, the trainer tab and the job queue
validate files without loading torch or Qt.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

__all__ = ["Fields", "ErrorFactory", "did_you_mean", "is_int", "is_number"]

#: Builds the exception to raise from ``(field_path, reason)``.
ErrorFactory = Callable[[str, str], Exception]

_MISSING: Any = object()


class Fields:
    """Typed access to one JSON object; every failure names its dotted field path.

    A key whose value is ``null`` counts as absent. Accessors that take a
    ``default`` use it when the key is absent; without one, an absent key fails
    with ``"missing"``. A ``default`` of ``None`` makes the accessor return
    ``None`` for an absent key (an optional field with no value).

    Parameters
    ----------
    data : dict
        The parsed JSON object.
    error : callable
        ``error(field_path, reason)`` returns the exception to raise, e.g.
        ``JobError`` or ``functools.partial(ManifestError, model_name)``.
    prefix : str, optional
        Dotted path of this object followed by ``"."`` (``""`` at the top level);
        prepended to every key in messages.

    Raises
    ------
    Exception
        From ``error`` when ``data`` is not a JSON object (field ``"(top level)"``
        when ``prefix`` is empty).
    """

    def __init__(self, data: Any, error: ErrorFactory, prefix: str = "") -> None:
        self.data, self.error, self.prefix = data, error, prefix
        if not isinstance(data, dict):
            raise error(prefix.rstrip(".") or "(top level)", "must be a JSON object")

    def path(self, key: str) -> str:
        """Dotted path of ``key`` in this object, e.g. ``"input.size"``."""
        return f"{self.prefix}{key}"

    def fail(self, key: str, reason: str) -> NoReturn:
        """Raise the caller's error for ``key`` of this object."""
        raise self.error(self.path(key), reason)

    def top_fail(self, field_path: str, reason: str) -> NoReturn:
        """Raise the caller's error for ``field_path`` taken as a full path (no prefix)."""
        raise self.error(field_path, reason)

    def keys(self) -> list[str]:
        """The keys of this object, in file order."""
        return list(self.data)

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse keys not in ``allowed``, suggesting the closest allowed one.

        A misspelt optional field would otherwise be ignored silently.
        """
        allowed = tuple(allowed)
        for key in self.data:
            if key not in allowed:
                self.fail(key, f"unknown field{did_you_mean(key, allowed)}")

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The raw value of ``key``; ``default`` if absent or null, else fail ``"missing"``."""
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            self.fail(key, "missing")
        return default

    def section(self, key: str, optional: bool = False, nullable: bool = False) -> Fields | None:
        """The nested object at ``key``, whose failures carry the path ``"key.…"``.

        Parameters
        ----------
        key : str
        optional : bool
            An absent key gives an empty section (so its fields take their defaults).
        nullable : bool
            An absent or null key gives ``None`` (a step that is switched off).

        Returns
        -------
        Fields or None
            ``None`` only when ``nullable`` and the key is absent or null.
        """
        if nullable and self.data.get(key) is None:
            return None
        value = self.get(key, {} if optional else _MISSING)
        if not isinstance(value, dict):
            self.fail(key, "must be a JSON object")
        return Fields(value, self.error, self.path(key) + ".")

    def mapping(self, key: str, default: Any = _MISSING) -> dict[str, Any] | None:
        """A shallow copy of the free-form object at ``key`` (``None`` if defaulted to None)."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, "must be a JSON object")
        return dict(value)

    def text(self, key: str, default: Any = _MISSING, pattern: re.Pattern | None = None,
             hint: str = "", allow_empty: bool = False) -> str | None:
        """A string with surrounding white space removed.

        Parameters
        ----------
        key : str
        default : str or None, optional
        pattern : re.Pattern, optional
            The stripped value must match it (``pattern.match``).
        hint : str
            What ``pattern`` allows, shown when it does not match.
        allow_empty : bool
            Accept an empty or blank string (returned as ``""``).
        """
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or (not value.strip() and not allow_empty):
            self.fail(key, f"must be a non-empty string (got {_short(value)})")
        # Match what the caller gets back, so padding alone never fails a field.
        if pattern is not None and not pattern.match(value.strip()):
            self.fail(key, f"'{value}' is not allowed ({hint})")
        return value.strip()

    def choice(self, key: str, options: tuple[str, ...], default: Any = _MISSING) -> str | None:
        """One of ``options`` (compared case-insensitively), returned in lower case."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or value.lower() not in options:
            hint = did_you_mean(value, options) if isinstance(value, str) else ""
            self.fail(key, f"must be one of {', '.join(options)} (got {_short(value)}{hint})")
        return value.lower()

    def boolean(self, key: str, default: Any = _MISSING) -> bool | None:
        """JSON ``true`` or ``false`` (no 0/1 or strings)."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false (got {_short(value)})")
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        """An integer (not a boolean, not ``2.0``) within ``[minimum, maximum]``."""
        value = self.get(key, default)
        if value is None:
            return None
        if not is_int(value):
            self.fail(key, f"must be an integer (got {_short(value)})")
        self._check_range(key, value, minimum, maximum)
        return int(value)

    def number(self, key: str, default: Any = _MISSING, minimum: float | None = None,
               maximum: float | None = None) -> float | None:
        """A finite number within ``[minimum, maximum]``, as a float."""
        value = self.get(key, default)
        if value is None:
            return None
        if not is_number(value):
            self.fail(key, f"must be a finite number (got {_short(value)})")
        self._check_range(key, value, minimum, maximum)
        return float(value)

    def int_pair(self, key: str, default: Any = _MISSING,
                 reason: str = "must be two positive integers") -> tuple[int, int]:
        """Two positive integers, e.g. a (height, width); ``reason`` is the failure message."""
        value = self.get(key, default)
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(is_int(v) and v > 0 for v in value)):
            self.fail(key, reason)
        return int(value[0]), int(value[1])

    def float_list(self, key: str, length: int, default: Any = _MISSING,
                   reason: str | None = None) -> tuple[float, ...]:
        """Exactly ``length`` finite numbers; ``reason`` overrides the failure message."""
        value = self.get(key, default)
        if (not isinstance(value, (list, tuple)) or len(value) != length
                or not all(is_number(v) for v in value)):
            self.fail(key, reason or f"must be a list of {length} numbers")
        return tuple(float(v) for v in value)

    def string_list(self, key: str, min_length: int,
                    default: Any = _MISSING) -> tuple[str, ...] | None:
        """At least ``min_length`` unique non-empty names, stripped."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or len(value) < min_length:
            self.fail(key, f"must be a list of at least {min_length} names")
        if not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(key, "every entry must be a non-empty string")
        names = tuple(v.strip() for v in value)
        if len(set(names)) != len(names):
            self.fail(key, "names must be unique")
        return names

    def _check_range(self, key: str, value: float, minimum: float | None,
                     maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            self.fail(key, f"must be at least {minimum:g} (got {value:g})")
        if maximum is not None and value > maximum:
            self.fail(key, f"must be at most {maximum:g} (got {value:g})")


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix naming the option closest to ``value``, or ``""``.

    Parameters
    ----------
    value : str
        What the user wrote (compared in lower case).
    options : iterable of str
        The valid spellings.
    """
    close = difflib.get_close_matches(str(value).lower(), list(options), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def is_int(value: Any) -> bool:
    """True for a JSON integer: an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a finite JSON number: ``int`` or ``float``, not ``bool``, not NaN or ±inf."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _short(value: Any) -> str:
    # As the user wrote it in JSON (true, null, [1, 2]); long values cut so the message stays one line.
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:39] + "…"
