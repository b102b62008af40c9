"""A DICOM header as rows of (tag, keyword, VR, value), sequences nested.

Shared by ``medview info`` and anything else that lists tags, so binary and
long values are summarised the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from medview.core.errors import one_line

_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
MAX_VALUE_CHARS = 200
# Sequences nested deeper than this are summarised, not listed: real objects nest a
# few levels; a hostile file can nest thousands (and would exhaust the stack).
MAX_SEQUENCE_DEPTH = 16


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
            rows.append(TagRow(_tag_text(tag), _keyword(tag), vr, f"<unreadable: {one_line(exc, 120)}>"))
    return rows


def _row(el: DataElement, depth: int) -> TagRow:
    tag = _tag_text(el.tag)
    keyword = el.keyword or el.name
    vr = str(el.VR)
    if vr == "SQ":
        seq = el.value or []
        if depth >= MAX_SEQUENCE_DEPTH:
            return TagRow(tag, keyword, vr, f"<{len(seq)} item(s), nested deeper than "
                                            f"{MAX_SEQUENCE_DEPTH} levels: not listed>")
        items = [_rows(item, depth + 1) for item in seq]
        return TagRow(tag, keyword, vr, f"<{len(items)} item(s)>", items)
    return TagRow(tag, keyword, vr, value_text(el))


def _tag_text(tag) -> str:
    tag = int(tag)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _keyword(tag) -> str:
    return keyword_for_tag(int(tag)) or "Unknown"


def value_text(el: DataElement) -> str:
    """An element's value as one line of text (binary and long values summarised)."""
    vr = str(el.VR)
    try:
        value = el.value
        if value is None or value == "":
            return ""
        if vr in _BINARY_VRS or isinstance(value, (bytes, bytearray)):
            return f"<{vr}, {len(value)} bytes>"
        text = "\\".join(map(str, value)) if el.VM > 1 else str(value)
    except Exception as exc:  # deferred or damaged values
        return f"<unreadable: {one_line(exc, 120)}>"
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
