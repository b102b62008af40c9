"""Append-only local audit log: who ran which model on which image, and which objects
were sent to which PACS node (:mod:`medview.pacs.send`), when.

One JSON object per line in ``<user data dir>/audit.jsonl``. Records hold
identifiers and the result label only, never pixel data or masks. The file is
opened for appending only and each record goes out in one ``write`` call, so
concurrent analyses (CLI and GUI) never interleave inside a line; it is created
readable by its owner only, as file names and UIDs identify patients.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
from pathlib import Path
from typing import Any

from medview.core.user_dirs import user_data_dir
from medview.inference.results import ClassificationResult, SegmentationResult

AUDIT_NAME = "audit.jsonl"
AUDIT_FORMAT = 1


class AuditLog:
    """The audit log file.

    Parameters
    ----------
    path : str or Path, optional
        Default ``<user data dir>/audit.jsonl``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else user_data_dir() / AUDIT_NAME

    def record(self, result: ClassificationResult | SegmentationResult) -> dict[str, Any]:
        """Append one analysis; returns the record written.

        Raises
        ------
        OSError
            If the log cannot be written (an analysis that cannot be audited
            should not pass silently).
        """
        entry = audit_record(result)
        self.append(entry)
        return entry

    def append(self, entry: dict[str, Any]) -> None:
        """Append one JSON line (never rewrites or truncates earlier lines)."""
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        """Every record, oldest first (an unreadable line is skipped, not fatal)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


def audit_record(result: ClassificationResult | SegmentationResult) -> dict[str, Any]:
    """The fields logged for one analysis: identifiers, model, engine, label; no pixels."""
    return {
        **entry_header(),
        "file": result.file,
        "frame": result.frame,
        "sop_instance_uid": result.sop_instance_uid,
        "task": result.task,
        "model": result.model,
        "version": result.version,
        "weights_sha256": result.weights_sha256,
        "engine": result.engine,
        "device": result.device,
        "precision": result.precision,
        "label": result.label,
        # Inside the model's declared input (None: the model declares none); an
        # out-of-scope run is always a person's "Run anyway", and stays on record.
        "inside_scope": result.scope.inside if result.scope.checked else None,
        "run_anyway": result.scope.overridden,
        "unlike_training": (result.familiarity.unlike_training if result.familiarity
                            else None),
    }


def entry_header() -> dict[str, Any]:
    """The fields every audit record starts with: format, UTC time, user."""
    return {
        "audit_format": AUDIT_FORMAT,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "user": _user(),
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers/services
        return ""
