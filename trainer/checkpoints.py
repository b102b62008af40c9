"""Checkpoints and other run files, always written atomically (temp file, then ``os.replace``).

A crash, a kill or a full disk in the middle of a write leaves the previous file as it
was: a reader sees the old checkpoint or the new one, never half of one.

``last.pt`` (everything needed to resume) holds only tensors and plain containers, so
``torch.load(path, weights_only=True)`` opens it; the best weights are a safetensors
file (``best.safetensors``) like any model's.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medview.core.atomic import atomic_path
from medview.core.errors import MedviewError

__all__ = ["CHECKPOINT_FORMAT", "LAST_NAME", "BEST_NAME", "WriteError", "atomic_write",
           "write_json", "write_text", "save_checkpoint", "load_checkpoint", "describe_os_error"]

CHECKPOINT_FORMAT = 1
LAST_NAME = "last.pt"
BEST_NAME = "best.safetensors"


class WriteError(MedviewError, OSError):
    """A run file could not be written; the message names it and says what to do."""

    @property
    def message(self) -> str:
        """The readable description (``str()`` of an ``OSError`` leads with its errno)."""
        return self.strerror or super().message


def describe_os_error(err: OSError, path: str | Path) -> str:
    """One line for a person: what failed where, and what to do about it."""
    if err.errno == errno.ENOSPC:
        return (f"disk full: could not write {path} (no space left on device); free some space "
                "on that drive and resume the job")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"could not write {path}: permission denied or read-only drive ({err.strerror})"
    return f"could not write {path}: {err.strerror or err}"


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temp_path)`` then move the temp file onto ``path``
    (:func:`medview.core.atomic.atomic_path`: same folder, fsync, umask permissions).

    Raises
    ------
    WriteError
        Wrapping the ``OSError`` (e.g. disk full) with a readable message.
    """
    try:
        with atomic_path(path) as tmp:
            write(str(tmp))
    except OSError as err:
        raise WriteError(err.errno, describe_os_error(err, path)) from err
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(text.encode("utf-8")))


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON (indented, UTF-8, NaN refused) atomically."""
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save`` a resume state atomically (tensors and plain containers only)."""
    import torch

    def write(tmp: str) -> None:
        # Through a Python file: a full disk is then OSError(ENOSPC); torch.save(path) would
        # raise a RuntimeError that has lost the reason.
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
    return atomic_write(path, write)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a resume state with the safe unpickler (``weights_only=True``).

    Raises
    ------
    ValueError
        If the file is not a checkpoint of this format.
    """
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a trainer checkpoint (format {CHECKPOINT_FORMAT})")
    return state

