"""The calls the CLI and the GUI make, whatever kind of node (DIMSE or DICOMweb) it is."""

from __future__ import annotations

import threading
from pathlib import Path

from medview.pacs import dicomweb, dimse
from medview.pacs.errors import PacsError
from medview.pacs.nodes import LocalAE, Node
from medview.pacs.query import StudyQuery
from medview.pacs.storage import valid_uid
from medview.pacs.transfer import ProgressFn, RetrieveResult


def echo(node: Node, local: LocalAE) -> float:
    """C-ECHO, or a QIDO-RS ping for a DICOMweb node; the round trip in seconds."""
    return dicomweb.echo(node) if node.is_dicomweb else dimse.echo(node, local)


def find_studies(node: Node, local: LocalAE, query: StudyQuery,
                 limit: int = 1000) -> tuple[list[dict], bool]:
    """Studies matching ``query``: (results, whether there were more than ``limit``)."""
    if node.is_dicomweb:
        return dicomweb.find_studies(node, query, limit)
    return dimse.find_studies(node, local, query, limit)


def find_series(node: Node, local: LocalAE, study_uid: str) -> list[dict]:
    """The series of one study."""
    if node.is_dicomweb:
        return dicomweb.find_series(node, study_uid)
    return dimse.find_series(node, local, study_uid)


def retrieve(node: Node, local: LocalAE, study_uid: str, root: Path, *, move: bool = False,
             progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> RetrieveResult:
    """Bring a study into ``root/<study UID>``; instances already there are not asked for.

    Parameters
    ----------
    move : bool
        C-MOVE to medview's own storage SCP instead of C-GET (DIMSE nodes only).
    progress : callable, optional
        ``progress(done, total, path)`` after each object arrives.
    cancel : threading.Event, optional
        Set to stop between objects (raises
        :class:`~medview.pacs.errors.RetrieveCancelled`; the objects that arrived stay).
    """
    if valid_uid(study_uid) is None:
        raise PacsError(node.name, f"{study_uid!r} is not a StudyInstanceUID")
    if node.is_dicomweb:
        if move:
            raise PacsError(node.name, "is a DICOMweb node: C-MOVE is for DIMSE nodes")
        return dicomweb.get_study(node, study_uid, root, progress, cancel)
    fetch = dimse.move_study if move else dimse.get_study
    return fetch(node, local, study_uid, root, progress, cancel)
