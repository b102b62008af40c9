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

from medview.core.errors import MedviewError
from medview.core.json_fields import Fields
from medview.core.user_dirs import user_data_dir

FORMAT, VERSION = "medview-hanging-protocols", 1
DEFAULTS_FILE = USER_FILE = "hanging_protocols.json"
PLANES = ("axial", "coronal", "sagittal")
PICKS = ("first", "most_images")
STUDIES = ("current", "prior")
MAX_SIDE = 4  # rows and columns of a layout


class ProtocolError(MedviewError):
    """A hanging-protocol file that cannot be used; the message is one line naming
    the file and the field."""


@dataclass(frozen=True)
class SeriesRule:
    """Which series a viewport may take (see the module docstring)."""

    modality: tuple[str, ...] = ()
    description: re.Pattern | None = None
    exclude: re.Pattern | None = None
    body_part: re.Pattern | None = None
    volume: bool | None = None
    pick: str = "first"
    like: int | None = None
    same_as: int | None = None


@dataclass(frozen=True)
class ViewportRule:
    """One viewport of a protocol: a series rule, the study it draws from, the plane."""

    series: SeriesRule
    study: str = "current"
    plane: str | None = None
    required: bool = False
    otherwise: ViewportRule | None = None


@dataclass(frozen=True)
class Protocol:
    """A named rule: when it applies to a study, and the layout it gives."""

    name: str
    rows: int
    cols: int
    viewports: tuple[ViewportRule, ...]
    modality: tuple[str, ...] = ()
    body_part: re.Pattern | None = None
    description: re.Pattern | None = None
    min_viewports: int = 1


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

    top = Fields(data, error)
    top.only(("format", "version", "protocols", "comment"))
    if top.get("format", None) != FORMAT:
        top.fail("format", f"must be {FORMAT!r}")
    version = top.integer("version", minimum=1)
    if version > VERSION:
        top.fail("version", f"{version} is newer than this medview reads ({VERSION})")
    items = top.get("protocols")
    if not isinstance(items, list) or not items:
        top.fail("protocols", "must be a non-empty list")
    return [_protocol(Fields(p, error, f"protocols[{i}].")) for i, p in enumerate(items)]


def _protocol(f: Fields) -> Protocol:
    f.only(("name", "match", "layout", "viewports", "min_viewports", "comment"))
    match = f.section("match", optional=True)
    match.only(("modality", "body_part", "description"))
    rows, cols = f.int_pair("layout", reason=f"must be [rows, columns], each 1 to {MAX_SIDE}")
    if rows > MAX_SIDE or cols > MAX_SIDE:
        f.fail("layout", f"must be [rows, columns], each 1 to {MAX_SIDE}")
    items = f.get("viewports")
    if not isinstance(items, list) or not 1 <= len(items) <= rows * cols:
        f.fail("viewports", f"must be a list of 1 to {rows * cols} viewports (the layout's cells)")
    viewports = tuple(_viewport(Fields(v, f.error, f.path(f"viewports[{i}]") + "."), i + 1)
                      for i, v in enumerate(items))
    return Protocol(
        name=f.text("name"), rows=rows, cols=cols, viewports=viewports,
        modality=_modalities(match), body_part=_pattern(match, "body_part"),
        description=_pattern(match, "description"),
        min_viewports=f.integer("min_viewports", default=1, minimum=1, maximum=len(viewports)))


def _viewport(f: Fields, number: int, nested: bool = False) -> ViewportRule:
    f.only(("series", "study", "plane", "required", "or", "comment"))
    otherwise = f.section("or", nullable=True)
    if otherwise is not None and nested:
        f.fail("or", "an 'or' cannot hold another 'or'")
    return ViewportRule(
        series=_series(f.section("series", optional=True), number),
        study=f.choice("study", STUDIES, default="current"),
        plane=f.choice("plane", PLANES, default=None),
        required=f.boolean("required", default=False),
        otherwise=_viewport(otherwise, number, nested=True) if otherwise is not None else None)


def _series(f: Fields, number: int) -> SeriesRule:
    f.only(("modality", "description", "exclude", "body_part", "volume", "pick", "like",
            "same_as"))
    refs = {}
    for key in ("like", "same_as"):
        refs[key] = f.integer(key, default=None, minimum=1)
        if refs[key] is not None and refs[key] >= number:
            f.fail(key, f"must name an earlier viewport (1 to {number - 1})" if number > 1
                   else "the first viewport has no earlier one to refer to")
    return SeriesRule(
        modality=_modalities(f), description=_pattern(f, "description"),
        exclude=_pattern(f, "exclude"), body_part=_pattern(f, "body_part"),
        volume=f.boolean("volume", default=None), pick=f.choice("pick", PICKS, default="first"),
        like=refs["like"], same_as=refs["same_as"])


def _modalities(f: Fields) -> tuple[str, ...]:
    names = f.string_list("modality", min_length=1, default=None)
    return tuple(n.upper() for n in names) if names else ()


def _pattern(f: Fields, key: str) -> re.Pattern | None:
    text = f.text(key, default=None)
    if text is None:
        return None
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as err:
        f.fail(key, f"not a regular expression ({err})")
