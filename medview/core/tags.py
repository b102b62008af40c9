"""A DICOM header as rows of (tag, keyword, VR, value), sequences nested.

Shared by ``medview info`` and anything else that lists tags, so binary and
long values are summarised the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
MAX_VALUE_CHARS = 200


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
        rows.extend(_row(el) for el in meta)
    rows.extend(_row(el) for el in ds)
    return rows


def _row(el: DataElement) -> TagRow:
    tag = f"({el.tag.group:04X},{el.tag.element:04X})"
    keyword = el.keyword or el.name
    vr = str(el.VR)
    if vr == "SQ":
        items = [[_row(sub) for sub in item] for item in (el.value or [])]
        return TagRow(tag, keyword, vr, f"<{len(items)} item(s)>", items)
    return TagRow(tag, keyword, vr, value_text(el))


def value_text(el: DataElement) -> str:
    """An element's value as one line of text (binary and long values summarised)."""
    vr = str(el.VR)
    try:
        value = el.value
    except Exception as exc:  # deferred or damaged values
        return f"<unreadable: {exc}>"
    if value is None or value == "":
        return ""
    if vr in _BINARY_VRS or isinstance(value, (bytes, bytearray)):
        return f"<{vr}, {len(value)} bytes>"
    text = "\\".join(map(str, value)) if el.VM > 1 else str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
