"""Progress, cancel and the outcome of one retrieve, whatever the protocol."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# progress(done, total, path): done counts instances already on disk plus those arrived.
ProgressFn = Callable[[int, int, "Path | None"], None]


@dataclass(frozen=True)
class RetrieveResult:
    """What a retrieve left on disk.

    Attributes
    ----------
    study_uid : str
    folder : Path
        The study's folder (``ROOT/<study UID>``).
    total : int
        Instances the node lists for the study.
    skipped : int
        Instances already on disk before this retrieve (a resumed study).
    received : int
        Instances that arrived now.
    """

    study_uid: str
    folder: Path
    total: int
    skipped: int
    received: int


class Tracker:
    """Counts arrivals from any thread and reports them; knows whether to stop.

    Parameters
    ----------
    total, skipped : int
        Instances listed by the node, and of those already on disk.
    progress : callable or None
        ``progress(done, total, path)`` after each arrival (called on the receiving
        thread).
    cancel : threading.Event or None
        Set by the user to stop the retrieve between two objects.
    """

    def __init__(self, total: int, skipped: int, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.total, self.skipped = total, skipped
        self.received = 0
        self._progress = progress
        self._cancel = cancel
        self._lock = threading.Lock()

    def arrived(self, path: Path | None) -> None:
        with self._lock:
            self.received += 1
            done = self.skipped + self.received
        if self._progress is not None:
            self._progress(done, self.total, path)

    @property
    def cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def result(self, study_uid: str, folder: Path) -> RetrieveResult:
        return RetrieveResult(study_uid, folder, self.total, self.skipped, self.received)
