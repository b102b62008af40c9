"""Follow a job's ``events.jsonl`` as the trainer appends to it; emit parsed events.

Why a file and not the trainer's stdout (``QProcess``)
------------------------------------------------------
The queue (:mod:`trainer.jobs`) starts trainers itself with ``subprocess.Popen`` (their
stdout goes to ``trainer.log``), and a finished job starts the next queued one on its
own; a trainer also outlives the app. Every trainer appends each event to its job's
``events.jsonl`` as it emits it. Reading that file is therefore the one way that works
for a job this app started, one the queue started, one started from the command line,
and a job still running after the app was closed and opened again — and reading it
from the start rebuilds the charts of any past job.

How
---
A ``QTimer`` polls the file's size (one ``stat`` every ``interval_ms``; cheaper and
more dependable than ``QFileSystemWatcher``, which coalesces and drops appends on some
Windows and network drives). New bytes are read from the last offset, complete lines
only (a line being written is kept for the next poll), and parsed with
:func:`trainer.events.parse_line` under a time budget per turn of the event loop: a long
backlog (opening a finished job with thousands of batch events) is parsed in slices of
``budget_ms`` so the GUI never stalls on it. A file that shrinks or is replaced starts
over (:attr:`EventTail.reset` is emitted).
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from medview.core.imports import load

__all__ = ["EventTail"]

_READ_CHUNK = 1 << 20  # bytes read per poll at most


class EventTail(QObject):
    """Tail one events file.

    Parameters
    ----------
    interval_ms : int
        Poll interval.
    budget_ms : float
        Parsing time per turn of the event loop before yielding to it.

    Signals
    -------
    events(list)
        Parsed events in file order (a batch per slice).
    bad_line(str)
        A line that is not a valid event (its error message).
    reset()
        Following started over (another file, or the file was truncated/replaced).
    """

    events = Signal(list)
    bad_line = Signal(str)
    reset = Signal()

    def __init__(self, interval_ms: int = 250, budget_ms: float = 8.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.budget_s = budget_ms / 1000.0
        self._pos = 0
        self._ident: tuple | None = None
        self._partial = b""
        self._pending: deque[bytes] = deque()
        self._drain_scheduled = False
        self.lines_read = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)

    # ------------------------------------------------------------------ control

    def follow(self, path: str | os.PathLike | None) -> None:
        """Start following ``path`` from its beginning (None: stop)."""
        self._timer.stop()
        self._start_over()
        self.path = Path(path) if path is not None else None
        self.reset.emit()
        if self.path is not None:
            self._timer.start()
            self.poll()

    def stop(self) -> None:
        self._timer.stop()
        self.path = None
        self._start_over()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    @property
    def backlog(self) -> int:
        """Lines read but not parsed yet."""
        return len(self._pending)

    # ------------------------------------------------------------------ reading

    def poll(self) -> None:
        """Read what was appended since the last poll and parse it (within the budget)."""
        if self.path is None:
            return
        try:
            st = os.stat(self.path)
        except OSError:
            return  # not written yet (a queued job), or being replaced
        ident = (getattr(st, "st_ino", 0), getattr(st, "st_dev", 0))
        if (self._ident is not None and ident != self._ident and ident != (0, 0)) or st.st_size < self._pos:
            self._start_over()
            self.reset.emit()
        self._ident = ident
        if st.st_size > self._pos:
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(self._pos)
                    data = fh.read(min(st.st_size - self._pos, _READ_CHUNK))
            except OSError:
                return
            self._pos += len(data)
            data = self._partial + data
            lines = data.split(b"\n")
            self._partial = lines.pop()  # incomplete last line (b"" after a newline)
            self._pending.extend(line for line in lines if line.strip())
            if st.st_size > self._pos:
                self._schedule_drain()  # more than one chunk behind: read on soon
        self._drain()

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            QTimer.singleShot(0, self._scheduled)

    def _scheduled(self) -> None:
        self._drain_scheduled = False
        self.poll()

    def _drain(self) -> None:
        parse_line = load("trainer.events").parse_line

        if not self._pending:
            return
        deadline = time.perf_counter() + self.budget_s
        out = []
        while self._pending:
            line = self._pending.popleft()
            self.lines_read += 1
            try:
                out.append(parse_line(line))
            except ValueError as err:  # EventError, or bytes that are not UTF-8
                self.bad_line.emit(str(err))
            if time.perf_counter() > deadline:
                break
        if self._pending:
            self._schedule_drain()
        if out:
            self.events.emit(out)

    def _start_over(self) -> None:
        self._pos = 0
        self._ident = None
        self._partial = b""
        self._pending.clear()
        self.lines_read = 0
