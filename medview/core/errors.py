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


def plain_reason(exc: BaseException) -> str:
    """Why something failed, in one line a radiographer can read, for any exception.

    medview's own errors give their reason; anything else its message, never the name
    of an exception class. Works for ``BaseException`` subclasses that are not
    ``Exception`` too (a Rust decoder's ``PanicException``).
    """
    if isinstance(exc, ReadError):
        return exc.reason
    if isinstance(exc, MemoryError):
        return "not enough memory for this image"
    if isinstance(exc, RecursionError):
        return "its data is nested too deeply to read"
    if isinstance(exc, OSError):
        return f"cannot read the file ({exc.strerror or exc})"
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError):
        return f"a required value is missing ({text})" if text else "a required value is missing"
    if not text:
        return "the file is damaged or in a form medview cannot read"
    if isinstance(exc, MedviewError):
        return text
    text = text if len(text) <= 160 else text[:159] + "…"
    return f"a value in the file cannot be used ({text})"
