"""Failures that are medview's fault, not the file's: a plain message, the traceback logged.

A user who meets a bug must read what to do, never a Python exception; the details go
to ``<user data folder>/logs/medview.log`` (:func:`install_log_file`, called when the
application starts) for whoever supports the installation.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from medview.core.errors import MedviewError, ReadError
from medview.core.imports import load

log = logging.getLogger("medview")


def log_file() -> Path:
    """Where the GUI writes its log (next to the user's models)."""
    return load("medview.core.user_dirs").user_data_dir() / "logs" / "medview.log"


def install_log_file() -> Path | None:
    """Send medview's warnings and errors to :func:`log_file` (1 MB, 3 kept); None if
    the folder cannot be written (then they go to stderr only)."""
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    log.addHandler(handler)
    return path


def internal_error_hint() -> str:
    """What to do after an internal error, in one line."""
    return ("medview hit an internal problem. Try again; if it keeps happening, restart "
            f"medview and send the log file {log_file()} to your support contact.")


def log_internal_error(doing: str, exc: BaseException) -> None:
    """Log ``exc`` with its traceback: ``doing`` says what medview was doing."""
    log.error("internal error while %s", doing, exc_info=(type(exc), exc, exc.__traceback__))


def user_reason(exc: BaseException, doing: str) -> str:
    """One plain line for the user: medview's own reasons as they are, anything
    else logged and replaced by :func:`internal_error_hint`."""
    if isinstance(exc, ReadError):
        return exc.reason
    if isinstance(exc, MedviewError):
        return exc.message
    if isinstance(exc, MemoryError):
        return "not enough memory; close other studies or programs and try again"
    if isinstance(exc, OSError):  # the file system said no: its words are plain
        return f"cannot read ({exc.strerror or exc})"
    log_internal_error(doing, exc)
    return internal_error_hint()
