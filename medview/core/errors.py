"""Errors that carry a one-line, user-facing reason naming the file.

Every expected error of medview and the trainer derives from :class:`MedviewError`, so a
boundary (CLI, GUI action, pool job, trainer event) tells an expected error from a bug by
its class alone, and :attr:`MedviewError.message` is where the one line it shows is made.
"""

from __future__ import annotations

from pathlib import Path


class MedviewError(Exception):
    """Base class of medview's and the trainer's expected (user-facing) errors.

    Subclasses keep the built-in parent that callers catch (``ValueError``,
    ``OSError``, ...) beside this one. Their message is written for the person at the
    screen; boundaries show :attr:`message` as it is, never a class name or a traceback.
    """

    @property
    def message(self) -> str:
        """This error's message on one line."""
        return one_line(self, limit=None)


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
        self.reason = one_line(reason, limit=None)
        super().__init__(f"{self.path}: {self.reason}")


def plain_reason(exc: BaseException) -> str:
    """Why handling a file failed, in one line a radiographer can read, for any exception.

    medview's own errors give their reason; anything else its message, never the name
    of an exception class. Covers what native code raises outside ``Exception`` (pyo3's
    ``PanicException`` from the Rust decoders) and resource failures, so an error
    boundary (CLI, folder reader, paint, pool threads) can report any exception without
    a traceback.
    """
    if isinstance(exc, MedviewError):
        return getattr(exc, "reason", None) or exc.message
    if isinstance(exc, MemoryError):
        return "not enough memory to read this file (damaged or too large)"
    if isinstance(exc, RecursionError):
        return "its data is nested too deeply to read (damaged file)"
    if type(exc).__name__ == "PanicException":  # pyo3's; no Python module to import it from
        return "a native decoder failed on this file's data (damaged file)"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot read or write{where} ({exc.strerror or one_line(exc)})"
    if not str(exc).strip():
        return ("a required value is missing" if isinstance(exc, KeyError)
                else "the file is damaged or in a form medview cannot read")
    if isinstance(exc, KeyError):
        return f"a required value is missing ({one_line(exc, limit=None)})"
    return f"a value in the file cannot be used ({one_line(exc)})"


def is_fatal(exc: BaseException) -> bool:
    """True for exceptions a boundary must let through (Ctrl+C, exit)."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))


def one_line(exc: BaseException | str, limit: int | None = 160) -> str:
    """An exception's message (or a text) as one line of at most ``limit`` characters.

    Parameters
    ----------
    exc : BaseException or str
        What to shorten.
    limit : int or None
        Longer text is cut and ends with "…"; None keeps it whole. An exception with
        no message gives its class name.
    """
    text = " ".join(str(exc).split())
    if not text and not isinstance(exc, str):
        text = type(exc).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
