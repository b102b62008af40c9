"""Where retrieved and received objects go: ``ROOT/<study UID>/<series UID>/<SOP UID>.dcm``.

Every object is written atomically, so a file on disk is a whole object: a retrieve that
stopped half-way is resumed by asking only for the SOP instances that have no file yet.
UIDs from the network are checked before they become file names (a node cannot write
outside the folder).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medview.core.atomic import write_bytes

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SUFFIX = ".dcm"


def valid_uid(value: object) -> str | None:
    """``value`` as a UID string if it is one (digits and dots, at most 64), else None."""
    text = str(value or "").strip().rstrip("\x00")
    return text if len(text) <= 64 and _UID.match(text) else None


@dataclass(frozen=True)
class InstanceRef:
    """One SOP instance of a study, as a query lists it."""

    series_uid: str
    sop_uid: str
    sop_class_uid: str = ""


def study_folder(root: Path, study_uid: str) -> Path:
    return Path(root) / study_uid


def instance_path(root: Path, study_uid: str, series_uid: str, sop_uid: str) -> Path:
    """The file of one instance under ``root`` (UIDs checked by the caller)."""
    return Path(root) / study_uid / series_uid / f"{sop_uid}{SUFFIX}"


def instances_on_disk(root: Path, study_uid: str) -> set[str]:
    """SOP Instance UIDs of the study's objects already stored under ``root``."""
    folder = study_folder(root, study_uid)
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.rglob(f"*{SUFFIX}") if valid_uid(p.stem)}


def write_instance(root: Path, study_uid: str, series_uid: str, sop_uid: str,
                   data: bytes) -> Path:
    """Atomically write one encoded DICOM file (preamble, meta and data set)."""
    uids = [valid_uid(u) for u in (study_uid, series_uid, sop_uid)]
    if None in uids:
        raise ValueError(f"not a valid UID among {study_uid!r}, {series_uid!r}, {sop_uid!r}")
    path = instance_path(root, *uids)
    write_bytes(path, data)
    return path


def missing_requests(study_uid: str, listed: list[InstanceRef],
                     present: set[str]) -> list[tuple[str, ...]]:
    """What to ask a node for so that the instances in ``listed`` not in ``present`` arrive.

    Returns
    -------
    list of tuple
        ``(study,)`` when nothing is present yet, ``(study, series)`` for a series with
        nothing present, ``(study, series, sop)`` for each missing instance of a series
        that is partly there; empty when all are present.
    """
    if not present:
        return [(study_uid,)] if listed else []
    by_series: dict[str, list[InstanceRef]] = {}
    for ref in listed:
        by_series.setdefault(ref.series_uid, []).append(ref)
    requests: list[tuple[str, ...]] = []
    for series, refs in by_series.items():
        missing = [r for r in refs if r.sop_uid not in present]
        if len(missing) == len(refs):
            requests.append((study_uid, series))
        else:
            requests.extend((study_uid, series, r.sop_uid) for r in missing)
    return requests
