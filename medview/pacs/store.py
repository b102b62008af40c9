"""The local study store: retrieved studies under one folder, kept within a size limit by
removing the studies retrieved least recently (never one that is open or just arrived)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from medview.pacs.storage import valid_uid


@dataclass(frozen=True)
class StoredStudy:
    folder: Path
    size: int        # bytes
    last_used: float  # newest modification time of its files (a retrieve touches them)


def stored_studies(root: Path) -> list[StoredStudy]:
    """The studies under ``root``, least recently used first."""
    root = Path(root)
    if not root.is_dir():
        return []
    studies = []
    for folder in root.iterdir():
        if not (folder.is_dir() and valid_uid(folder.name)):
            continue
        stats = [p.stat() for p in folder.rglob("*") if p.is_file()]
        studies.append(StoredStudy(folder, sum(s.st_size for s in stats),
                                   max((s.st_mtime for s in stats), default=0.0)))
    return sorted(studies, key=lambda s: s.last_used)


def prune(root: Path, limit_bytes: int, keep: set[str] = frozenset()) -> list[Path]:
    """Remove the least recently used studies until the store holds at most ``limit_bytes``.

    Parameters
    ----------
    keep : set of str
        StudyInstanceUIDs never removed (open in the viewer, just retrieved); the store
        may stay above the limit because of them.

    Returns
    -------
    list of Path
        The study folders removed.
    """
    studies = stored_studies(root)
    total = sum(s.size for s in studies)
    removed = []
    for study in studies:
        if total <= limit_bytes:
            break
        if study.folder.name in keep:
            continue
        shutil.rmtree(study.folder, ignore_errors=True)
        total -= study.size
        removed.append(study.folder)
    return removed
