"""How a run stops early: :class:`JobFailed` and :class:`JobCancelled`.

Every step of a run raises these; :func:`trainer.loop.run_job` turns them into the
``failed`` / ``cancelled`` events and the exit status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medview.core.errors import MedviewError
from trainer.checkpoints import WriteError, describe_os_error

__all__ = ["JobFailed", "JobCancelled", "write_or_fail"]


class JobFailed(MedviewError):
    """The job cannot go on; ``reason`` is one line for a person."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(reason)


class JobCancelled(Exception):
    """Someone asked the job to stop (signal or cancel file); what could be saved was."""


def write_or_fail(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(path)``; a failed write (disk full, read-only drive, …) fails the job.

    Raises
    ------
    JobFailed
        Naming ``path`` and what to do about it.
    """
    try:
        write(path)
    except WriteError as err:
        raise JobFailed(err.message) from None
    except OSError as err:
        raise JobFailed(describe_os_error(err, path)) from None
