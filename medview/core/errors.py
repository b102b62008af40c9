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
    """Why handling a file failed, in one line a radiographer can read, for any exception.

    medview's own errors give their reason; anything else its message, never the name
    of an exception class. Covers what native code raises outside ``Exception`` (pyo3's
    ``PanicException`` from the Rust decoders) and resource failures, so an error
    boundary (CLI, folder reader, paint, pool threads) can report any exception without
    a traceback.
    """
    if isinstance(exc, MedviewError) and getattr(exc, "reason", None):
        return exc.reason
    if isinstance(exc, MemoryError):
        return "not enough memory to read this file (damaged or too large)"
    if isinstance(exc, RecursionError):
        return "its data is nested too deeply to read (damaged file)"
    if type(exc).__name__ == "PanicException":
        return "a native decoder failed on this file's data (damaged file)"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot read or write{where} ({exc.strerror or one_line(exc)})"
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError):
        return f"a required value is missing ({text})" if text else "a required value is missing"
    if not text:
        return "the file is damaged or in a form medview cannot read"
    if isinstance(exc, MedviewError):
        return one_line(exc)
    return f"a value in the file cannot be used ({one_line(exc)})"


def is_fatal(exc: BaseException) -> bool:
    """True for exceptions a boundary must let through (Ctrl+C, exit)."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's message as one line of at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
