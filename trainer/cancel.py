"""Graceful cancel: a signal or a file asks the trainer to stop after the current batch.

Three ways to ask, all equivalent (the trainer finishes the batch, saves a checkpoint,
emits ``cancelled`` and exits with status 3):

* **SIGTERM or SIGINT** (Ctrl-C) on Linux and macOS;
* **CTRL_BREAK_EVENT** on Windows, sent to a trainer started in its own process group
  (``CREATE_NEW_PROCESS_GROUP``; :func:`trainer.jobs.start` does so). Windows has no
  SIGTERM between processes: ``Popen.terminate()`` kills outright;
* **the cancel file**: create an empty file named ``cancel`` in the run folder. This works
  everywhere, also where signals cannot reach the process (another user's session, a
  service); the trainer looks for it at most every half second.

A second SIGINT while a cancel is pending stops at once (``KeyboardInterrupt``).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

__all__ = ["CANCEL_FILE", "CancelToken"]

#: Name of the file in the run folder that asks a running trainer to stop.
CANCEL_FILE = "cancel"


class CancelToken:
    """Whether someone asked the job to stop.

    Parameters
    ----------
    cancel_file : Path, optional
        The cancel file to watch (see the module docstring).
    poll_s : float
        Least time between two looks at the file.
    """

    def __init__(self, cancel_file: Path | None = None, poll_s: float = 0.5) -> None:
        self.cancel_file = cancel_file
        self.poll_s = poll_s
        self._requested = threading.Event()
        self._reason = ""
        self._last_poll = 0.0
        self._previous: dict[int, object] = {}

    @property
    def reason(self) -> str:
        """What asked for the stop, e.g. ``"SIGTERM"`` or ``"cancel file"``."""
        return self._reason

    def request(self, reason: str = "requested") -> None:
        """Ask for a stop (idempotent)."""
        if not self._requested.is_set():
            self._reason = reason
            self._requested.set()

    def requested(self) -> bool:
        """True once a stop was asked for; looks at the cancel file now and then."""
        if self._requested.is_set():
            return True
        now = time.monotonic()
        if self.cancel_file is not None and now - self._last_poll >= self.poll_s:
            self._last_poll = now
            if self.cancel_file.exists():
                self.request("cancel file")
        return self._requested.is_set()

    def install(self) -> CancelToken:
        """Handle SIGINT, SIGTERM and (Windows) SIGBREAK; only possible in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not allowed here (e.g. embedded interpreter)
                pass
        return self

    def uninstall(self) -> None:
        """Put the previous signal handlers back."""
        for sig, handler in self._previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
        self._previous.clear()

    def clear_file(self) -> None:
        """Remove a stale cancel file (before a resumed run starts)."""
        if self.cancel_file is not None:
            self.cancel_file.unlink(missing_ok=True)

    def _handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._requested.is_set() and name == "SIGINT":
            raise KeyboardInterrupt  # second Ctrl-C: the person means it
        self.request(name)
