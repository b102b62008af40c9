"""A DICOM header as text: one formatter of tags, names and values, and the header as
rows of (tag, keyword, VR, value) with sequences nested.

``medview info`` and the Tags panel (:mod:`medview.qt.widgets.tag_browser`) both format
with these functions, so the same header reads the same in the terminal and the window:
binary values as hex or ``<VR, N bytes>``, long and multi-valued ones summarised alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import UID

from medview.core.errors import one_line

MAX_SHOWN_BYTES = 16  # binary values up to this size are shown as hex
MAX_DISPLAY_CHARS = 160  # longer values are cut where shown (full text kept for copy)
MAX_FULL_CHARS = 65_536  # what is kept of a value's text at most
MAX_VALUES = 64  # of a multi-valued element, joined with "\"
# Sequences nested deeper than this are summarised, not listed: real objects nest a
# few levels; a hostile file can nest thousands (and would exhaust the stack).
MAX_SEQUENCE_DEPTH = 16

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def tag_text(tag: int) -> str:
    """``(gggg,eeee)`` in upper-case hex, as in the standard."""
    tag = int(tag)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _binary_text(value: bytes, vr: str, encapsulated: bool) -> str:
    n = len(value)
    if n <= MAX_SHOWN_BYTES and not encapsulated:
        return " ".join(f"{b:02X}" for b in value)
    extra = ", encapsulated" if encapsulated else ""
    return f"<{vr}, {n} bytes{extra}>"


def _scalar_text(value: object) -> str:
    return tag_text(value) if isinstance(value, BaseTag) else str(value)


def unreadable_text(exc: BaseException) -> str:
    """The value shown for an element pydicom cannot convert."""
    return f"<unreadable: {one_line(exc, 120)}>"


def value_text(elem: DataElement) -> str:
    """The full (possibly long) text of a non-sequence element's value.

    Binary values (OB, OW, UN, ...) longer than :data:`MAX_SHOWN_BYTES` are
    summarised as ``<VR, N bytes>``, shorter ones shown as hex; at most
    :data:`MAX_VALUES` values of a multi-valued element are listed, followed by
    the total count. A value that cannot be converted gives :func:`unreadable_text`.
    """
    try:
        value = elem.value
        if value is None or (isinstance(value, (str, bytes, list)) and len(value) == 0):
            return ""
        if isinstance(value, (bytes, bytearray)):
            return _binary_text(value, str(elem.VR), bool(elem.is_undefined_length))
        if isinstance(value, (MultiValue, list, tuple)):
            shown = "\\".join(_scalar_text(v) for v in list(value[:MAX_VALUES]))
            if len(value) > MAX_VALUES:
                shown += f"\\… ({len(value)} values)"
            return shown[:MAX_FULL_CHARS]
        return _scalar_text(value)[:MAX_FULL_CHARS]
    except Exception as exc:  # deferred or damaged values
        return unreadable_text(exc)


def display_text(full: str, limit: int | None = MAX_DISPLAY_CHARS) -> str:
    """``full`` as shown in one row: control characters as spaces, cut after ``limit``
    characters (None: never) with the full length named."""
    line = _CONTROL.sub(" ", full) if _CONTROL.search(full) else full
    if limit is not None and len(line) > limit:
        return line[:limit] + f"… ({len(full)} chars)"
    return line


def uid_name(elem: DataElement) -> str:
    """The registered name of a single UID value (e.g. a transfer syntax), else ""."""
    value = elem.value
    if isinstance(value, UID) and value.is_valid and value.name != str(value):
        return value.name
    return ""


def element_name(elem: DataElement) -> str:
    """Dictionary name; private tags get their creator, e.g. ``Suite id (GEMS_IDEN_01)``."""
    tag = elem.tag
    if not tag.is_private:
        return elem.name
    if tag.is_private_creator:
        return "Private Creator"
    name = elem.name.strip("[]") if elem.name.startswith("[") else elem.name
    creator = getattr(elem, "private_creator", None)
    return f"{name} ({creator})" if creator else name


@dataclass
class TagRow:
    """One element; ``items`` holds one list of rows per sequence item."""

    tag: str          # "(0010,0010)"
    keyword: str      # "PatientName", or the name of a private/unknown tag
    vr: str
    value: str        # display text, summarised for binary or long values
    items: list[list[TagRow]] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {"tag": self.tag, "keyword": self.keyword, "vr": self.vr, "value": self.value}
        if self.vr == "SQ":
            d["items"] = [[r.to_dict() for r in item] for item in self.items]
        return d


def tag_rows(ds: Dataset, include_meta: bool = True) -> list[TagRow]:
    """Every element of ``ds`` (file meta first when present) as TagRows."""
    rows = []
    meta = getattr(ds, "file_meta", None)
    if include_meta and meta is not None:
        rows.extend(_rows(meta, 0))
    rows.extend(_rows(ds, 0))
    return rows


def _rows(ds: Dataset, depth: int) -> list[TagRow]:
    """Rows of one dataset; an element pydicom cannot convert becomes an 'unreadable' row."""
    rows = []
    for tag in list(ds.keys()):
        try:
            rows.append(_row(ds[tag], depth))
        except Exception as exc:  # damaged value or VR: list it, keep going
            raw = ds.get_item(tag)
            vr = str(getattr(raw, "VR", "") or "??")
            rows.append(TagRow(tag_text(tag), _keyword(tag), vr, unreadable_text(exc)))
    return rows


def _row(el: DataElement, depth: int) -> TagRow:
    tag = tag_text(el.tag)
    keyword = el.keyword or el.name
    vr = str(el.VR)
    if vr == "SQ":
        seq = el.value or []
        if depth >= MAX_SEQUENCE_DEPTH:
            return TagRow(tag, keyword, vr, f"<{len(seq)} item(s), nested deeper than "
                                            f"{MAX_SEQUENCE_DEPTH} levels: not listed>")
        items = [_rows(item, depth + 1) for item in seq]
        return TagRow(tag, keyword, vr, f"<{len(items)} item(s)>", items)
    return TagRow(tag, keyword, vr, display_text(value_text(el)))


def _keyword(tag) -> str:
    return keyword_for_tag(int(tag)) or "Unknown"
