"""Errors that carry a one-line, user-facing reason naming the file."""

from __future__ import annotations

from pathlib import Path


class MedviewError(Exception):
    """Base class of medview's expected (user-facing) errors."""


class ReadError(MedviewError):
    """A file could not be read or shown.

    Parameters
    ----------
    path : str or Path
        The offending file.
    reason : str
        One line saying why, in words a radiographer understands.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())  # always one line
        super().__init__(f"{self.path}: {self.reason}")
