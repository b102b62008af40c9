"""Reading files in a pool thread so that good files show as soon as they are read.

:func:`load_job` reads the headers under some paths (``medview.core.io.folder``); each
file read goes into a :class:`PendingFiles`, which the main window drains on a timer
in the GUI thread. A folder with one slow file (a network share, a damaged file that
takes long to refuse) shows its other files at once, not after the slowest one. No Qt
widgets here.
"""

from __future__ import annotations

import threading
import time

from medview.core.imports import load


class PendingFiles:
    """Files read by the pool thread and not shown yet (thread-safe).

    The reading thread merges each one-file Library in, unsorted (cheap: the pending
    library only holds what was read since the last :meth:`take`); the GUI thread
    takes them all at once and merges them into what is shown with one sort.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._library = None

    def add(self, library) -> None:
        """Pool thread: one more file (a Library, possibly holding only a skip)."""
        with self._lock:
            if self._library is None:
                self._library = library
            else:
                self._library.merge(library, finish=False)  # sorted once, when shown

    def take(self):
        """GUI thread: everything read since the last call (a Library), or None."""
        with self._lock:
            library, self._library = self._library, None
        return library


def load_job(worker, paths: list[str], pending: PendingFiles):
    """Pool thread: read the headers under ``paths`` into ``pending`` (progress
    throttled to ~20 Hz); returns the Library of what could not be delivered."""
    load_paths = load("medview.core.io.folder").load_paths
    last = [0.0]

    def progress(done: int, total: int, path) -> None:
        now = time.monotonic()
        if done == total or now - last[0] > 0.05:
            last[0] = now
            worker.signals.progress.emit((done, total))

    return load_paths(paths, progress=progress, cancelled=worker.is_cancelled,
                      deliver=pending.add)
