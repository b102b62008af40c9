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
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CHECKPOINT_FORMAT", "LAST_NAME", "BEST_NAME", "WriteError", "atomic_write",
           "write_json", "write_text", "save_checkpoint", "load_checkpoint", "describe_os_error"]

CHECKPOINT_FORMAT = 1
#: Permissions of written files (before the umask of the folder's file system applies).
FILE_MODE = 0o644
LAST_NAME = "last.pt"
BEST_NAME = "best.safetensors"


class WriteError(OSError):
    """A run file could not be written; the message names it and says what to do."""


def describe_os_error(err: OSError, path: str | Path) -> str:
    """One line for a person: what failed where, and what to do about it."""
    if err.errno == errno.ENOSPC:
        return (f"disk full: could not write {path} (no space left on device); free some space "
                "on that drive and resume the job")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"could not write {path}: permission denied or read-only drive ({err.strerror})"
    return f"could not write {path}: {err.strerror or err}"


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temp_path)`` then move the temp file onto ``path``.

    The temp file lives in the same folder (``os.replace`` is atomic only within one
    file system) and is removed if anything fails.

    Raises
    ------
    WriteError
        Wrapping the ``OSError`` (e.g. disk full) with a readable message.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; run files are ordinary documents
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(err.errno, describe_os_error(err, path)) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    return atomic_write(path, write)


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


def _fsync(path: str) -> None:
    # Data on disk before the rename, so a power cut cannot leave an empty file behind it.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
