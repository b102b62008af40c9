"""Hanging protocols as data: which layout a study opens in and which series go where.

The defaults ship as ``hanging_protocols.json`` beside this module; a user file,
``<user data dir>/hanging_protocols.json`` in the same format, comes first, and a
protocol there with a default's name replaces it. :func:`medview.core.hanging.choose_layout`
applies them. No Qt.

Format (``"version": 1``)::

    {"format": "medview-hanging-protocols", "version": 1, "protocols": [
      {"name": "Radiograph: current beside prior",
       "match": {"modality": ["CR", "DX"], "body_part": "CHEST", "description": "PA"},
       "layout": [1, 2],
       "min_viewports": 1,
       "viewports": [
         {"series": {"modality": ["CR", "DX"]}, "required": true},
         {"study": "prior", "series": {"like": 1}, "or": {"series": {}}}]}]}

``match`` (all optional) tests the study being opened: one of its modalities, a
BodyPartExamined, its or a series' description (regular expressions, case-insensitive,
searched anywhere). A viewport takes a series not shown yet from the current study or,
with ``"study": "prior"``, from the patient's most recent earlier study that has one;
``series`` narrows the choice: ``modality``, ``description`` / ``exclude`` /
``body_part`` (regular expressions), ``volume`` (MPR is possible,
:func:`medview.core.volume.refusal`), ``pick`` (``first`` in display order or
``most_images``), ``like: N`` (the series most like viewport N's: same modality, then
body part, view position, laterality, description) or ``same_as: N`` (viewport N's series
again, e.g. in another ``plane``: ``axial``, ``coronal``, ``sagittal``). ``or`` is tried
when a viewport finds nothing. A protocol applies when its ``required`` viewports and at
least ``min_viewports`` are filled; the layout then shrinks to what was filled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from medview.core.errors import MedviewError
from medview.core.schema import Meta, Reader, is_int
from medview.core.user_dirs import user_data_dir

FORMAT, VERSION = "medview-hanging-protocols", 1
DEFAULTS_FILE = USER_FILE = "hanging_protocols.json"
MAX_SIDE = 4  # rows and columns of a layout


class ProtocolError(MedviewError):
    """A hanging-protocol file that cannot be used; the message is one line naming
    the file and the field."""


def _pattern(reader: Reader, value: Any, path: str) -> re.Pattern:
    """A regular expression, case-insensitive (a declared field's ``check``)."""
    if not isinstance(value, str) or not value.strip():
        reader.fail(path, "must be a non-empty string" + reader.wording.got(value))
    try:
        return re.compile(value.strip(), re.IGNORECASE)
    except re.error as err:
        reader.fail(path, f"not a regular expression ({err})")


def _modalities(reader: Reader, value: Any, path: str) -> tuple[str, ...]:
    """Modality codes, upper-cased (a declared field's ``check``)."""
    return tuple(n.upper() for n in reader.check(value, Annotated[tuple[str, ...], Meta(min_length=1)],
                                                 path))


_RegEx = Annotated[str | None, Meta(extra={"check": _pattern})]


@dataclass(frozen=True)
class SeriesRule:
    """Which series a viewport may take (see the module docstring)."""

    modality: Annotated[tuple[str, ...], Meta(extra={"check": _modalities})] = ()
    description: _RegEx = None
    exclude: _RegEx = None
    body_part: _RegEx = None
    volume: bool | None = None
    pick: Literal["first", "most_images"] = "first"
    like: Annotated[int, Meta(ge=1)] | None = None
    same_as: Annotated[int, Meta(ge=1)] | None = None


@dataclass(frozen=True)
class ViewportRule:
    """One viewport of a protocol: a series rule, the study it draws from, the plane."""

    series: SeriesRule = SeriesRule()
    study: Literal["current", "prior"] = "current"
    plane: Literal["axial", "coronal", "sagittal"] | None = None
    required: bool = False
    otherwise: Annotated[ViewportRule | None, Meta(extra={"key": "or"})] = None
    comment: str = ""


@dataclass(frozen=True)
class Match:
    """When a protocol applies to a study."""

    modality: Annotated[tuple[str, ...], Meta(extra={"check": _modalities})] = ()
    body_part: _RegEx = None
    description: _RegEx = None


@dataclass(frozen=True)
class Protocol:
    """A named rule: when it applies to a study, and the layout it gives."""

    name: str
    layout: Annotated[tuple[int, int], Meta(
        extra={"reason": f"must be [rows, columns], each 1 to {MAX_SIDE}"})]
    viewports: tuple[ViewportRule, ...]
    match: Match = Match()
    min_viewports: Annotated[int, Meta(ge=1)] = 1
    comment: str = ""

    @property
    def rows(self) -> int:
        return self.layout[0]

    @property
    def cols(self) -> int:
        return self.layout[1]

    @property
    def modality(self) -> tuple[str, ...]:
        return self.match.modality

    @property
    def body_part(self) -> re.Pattern | None:
        return self.match.body_part

    @property
    def description(self) -> re.Pattern | None:
        return self.match.description


@dataclass(frozen=True)
class ProtocolFile:
    """A hanging-protocol file."""

    format: Literal["medview-hanging-protocols"]
    version: Annotated[int, Meta(ge=1)]
    protocols: Annotated[tuple[Protocol, ...], Meta(min_length=1,
                                                    extra={"reason": "must be a non-empty list"})]
    comment: str = ""


def default_protocols() -> list[Protocol]:
    """The protocols shipped with medview."""
    text = resources.files("medview.core").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    return parse_protocols(json.loads(text), f"{DEFAULTS_FILE} (shipped)")


def user_protocols_path(root: str | Path | None = None) -> Path:
    """The user's own protocol file (``root``: the user data folder by default)."""
    return (Path(root) if root is not None else user_data_dir()) / USER_FILE


def load_protocols(root: str | Path | None = None) -> tuple[list[Protocol], list[str]]:
    """The user's protocols, then the defaults they do not replace (by name).

    Returns the list and notes: a user file that cannot be used is reported in one
    line and the defaults apply.
    """
    defaults = default_protocols()
    path = user_protocols_path(root)
    if not path.exists():
        return defaults, []
    try:
        mine = read_protocols(path)
    except ProtocolError as err:
        return defaults, [f"{err}; using the default hanging protocols"]
    names = {p.name for p in mine}
    return mine + [p for p in defaults if p.name not in names], []


def read_protocols(path: str | Path) -> list[Protocol]:
    """Read and check a protocol file; ProtocolError (one line) when it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ProtocolError(f"{path}: cannot be read ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise ProtocolError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise ProtocolError(f"{path}: not valid JSON at line {err.lineno}, column {err.colno}"
                            ) from None
    return parse_protocols(data, str(path))


def parse_protocols(data, source: str) -> list[Protocol]:
    """Protocols from parsed JSON; ``source`` names the file in error messages."""
    def error(field: str, reason: str) -> ProtocolError:
        return ProtocolError(f"{source}: {field}: {reason}")

    reader = Reader(error)
    if isinstance(data, dict) and is_int(data.get("version")) and data["version"] > VERSION:
        reader.fail("version", f"{data['version']} is newer than this medview reads ({VERSION})")
    if isinstance(data, dict) and data.get("format") != FORMAT:
        reader.fail("format", f"must be {FORMAT!r}")
    protocols = reader.object(data, ProtocolFile).protocols
    for i, protocol in enumerate(protocols):
        _check(reader, protocol, f"protocols[{i}]")
    return list(protocols)


def _check(reader: Reader, protocol: Protocol, path: str) -> None:
    """What one field cannot say: the layout's size, references to earlier viewports."""
    rows, cols = protocol.layout
    if rows > MAX_SIDE or cols > MAX_SIDE:
        reader.fail(f"{path}.layout", f"must be [rows, columns], each 1 to {MAX_SIDE}")
    if not 1 <= len(protocol.viewports) <= rows * cols:
        reader.fail(f"{path}.viewports", f"must be a list of 1 to {rows * cols} viewports (the "
                                         "layout's cells)")
    if protocol.min_viewports > len(protocol.viewports):
        reader.fail(f"{path}.min_viewports", f"must be at most {len(protocol.viewports)} (got "
                                             f"{protocol.min_viewports})")
    for number, viewport in enumerate(protocol.viewports, start=1):
        where = f"{path}.viewports[{number - 1}]"
        if viewport.otherwise is not None and viewport.otherwise.otherwise is not None:
            reader.fail(f"{where}.or", "an 'or' cannot hold another 'or'")
        for rule, at in ((viewport, where), (viewport.otherwise, f"{where}.or")):
            for key in ("like", "same_as"):
                ref = getattr(rule.series, key) if rule is not None else None
                if ref is not None and ref >= number:
                    reader.fail(f"{at}.series.{key}",
                                f"must name an earlier viewport (1 to {number - 1})" if number > 1
                                else "the first viewport has no earlier one to refer to")
