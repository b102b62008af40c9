"""Reading and writing a labelling project's small JSON files, with one-line errors.

Every write is atomic (:mod:`medview.core.atomic`), so a crash or a full disk leaves the
previous file whole; a failed write raises :class:`LabelsError` naming the folder that
could not be written, and the caller keeps what it was saving.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

from medview.core.atomic import write_bytes, write_text
from medview.core.errors import MedviewError

__all__ = ["LabelsError", "SaveError", "write_json", "read_json", "write_file", "save_failure"]


class LabelsError(MedviewError, ValueError):
    """A project or label that cannot be used or saved; the message names the file or folder."""


class SaveError(LabelsError):
    """The label folder (or an export folder) cannot be written: nothing more can be saved."""


def write_json(path: Path, data: dict) -> None:
    """Atomically write ``data`` as indented UTF-8 JSON to ``path``.

    Raises
    ------
    LabelsError
        If the folder cannot be written (read-only, full, missing rights), naming it.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        write_text(path, text)
    except OSError as exc:
        raise save_failure(path, exc) from None


def write_file(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path``; :class:`LabelsError` as :func:`write_json`."""
    try:
        write_bytes(path, data)
    except OSError as exc:
        raise save_failure(path, exc) from None


def read_json(path: Path) -> dict:
    """A JSON object from ``path``.

    Raises
    ------
    LabelsError
        If the file is missing, unreadable, not JSON or not an object.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelsError(f"{path}: file not found") from None
    except OSError as exc:
        raise LabelsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelsError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise LabelsError(f"{path}: not a JSON object")
    return data


def save_failure(path: Path, exc: OSError) -> SaveError:
    """The one-line error for a failed write of ``path`` (names its folder and why)."""
    folder = Path(path).parent
    if exc.errno == errno.ENOSPC:
        why = "the disk is full"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "the folder is read-only or you may not write there"
    else:
        why = exc.strerror or str(exc)
    return SaveError(f"{folder}: cannot save here ({why}); nothing was changed")
