"""The job queue as a table: name, state, progress, when queued.

The queue lives on disk (:mod:`trainer.jobs`); :class:`JobQueueModel` shows the last
listing it was given (the tab lists the queue in a pool thread every couple of
seconds) merged with what the events of a followed job said more recently: a
``failed`` / ``cancelled`` / ``finished`` event shows at once, before the trainer has
rewritten ``state.json`` and before the next listing.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from medview.qt import theme

__all__ = ["JobQueueModel", "Row", "STATE_COLOURS", "STATE_LABELS"]

STATE_COLOURS = {"queued": theme.TEXT_DIM, "running": theme.ACCENT, "finished": theme.ROI,
                 "failed": theme.ERROR, "cancelled": theme.WARNING}
STATE_LABELS = {"queued": "queued", "running": "running", "finished": "finished", "failed": "failed",
                "cancelled": "cancelled"}
COLUMNS = ("Job", "State", "Progress", "Queued")


class Row:
    """One job as shown (a :class:`trainer.jobs.JobInfo` plus what the tab knows)."""

    __slots__ = ("id", "name", "disk_state", "event_state", "disk_reason", "event_reason", "created", "progress",
                 "busy", "folder", "has_checkpoint", "info", "host")

    def __init__(self, info) -> None:
        self.id = info.id
        self.event_state: str | None = None
        self.event_reason: str | None = None
        self.progress = ""
        self.busy = ""  # "cancelling…", "starting…"
        self.update(info)

    def update(self, info) -> None:
        self.info = info
        self.name = (info.job.get("name") or info.id) + {"search": " (search)", "pretrain": " (pre-training)"}.get(
            info.kind, "")
        self.disk_state = info.state
        self.disk_reason = info.reason
        self.created = info.status.get("created", "")
        self.folder = info.folder
        self.has_checkpoint = info.checkpoint is not None
        # another computer sharing the user folder runs it: only that one can tell if it lives
        self.host = info.host if info.elsewhere else None

    @property
    def state(self) -> str:
        """What to show: a terminal event outranks a ``running`` that state.json still says."""
        if self.event_state in ("finished", "failed", "cancelled") and self.disk_state == "running":
            return self.event_state
        return self.disk_state

    @property
    def label(self) -> str:
        """The state as shown, e.g. ``running on RADIOLOGY-2`` for another computer's job."""
        text = STATE_LABELS.get(self.state, self.state)
        return f"{text} on {self.host}" if self.host and self.state == "running" else text

    @property
    def reason(self) -> str | None:
        if self.state == self.event_state and self.event_reason:
            return self.event_reason
        return self.disk_reason


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%d %b %H:%M")
    except ValueError:
        return ""


class JobQueueModel(QAbstractTableModel):
    """Rows in queue order (oldest first), keyed by job id."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.name
            if col == 1:
                return row.busy or row.label
            if col == 2:
                return row.progress if row.state == "running" else ""
            if col == 3:
                return _when(row.created)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return QColor(STATE_COLOURS.get(row.state, theme.TEXT))
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{row.id}\n{row.folder}"
            if row.reason:
                tip += f"\n{row.reason}"
            return tip
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    # ------------------------------------------------------------------ updates

    def set_jobs(self, infos) -> None:
        """Merge a fresh listing (:func:`trainer.jobs.list_jobs`)."""
        by_id = {r.id: r for r in self.rows}
        new_ids = [i.id for i in infos]
        if new_ids != [r.id for r in self.rows]:
            self.beginResetModel()
            rows = []
            for info in infos:
                row = by_id.get(info.id)
                if row is None:
                    row = Row(info)
                else:
                    row.update(info)
                rows.append(row)
            self.rows = rows
            self._settle()
            self.endResetModel()
            return
        for r, info in enumerate(infos):
            self.rows[r].update(info)
        self._settle()
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))

    def _settle(self) -> None:
        for r in self.rows:
            if r.busy == "cancelling…" and r.disk_state != "running":
                r.busy = ""

    def row(self, job_id: str | None) -> Row | None:
        for r in self.rows:
            if r.id == job_id:
                return r
        return None

    def row_index(self, job_id: str) -> int:
        for i, r in enumerate(self.rows):
            if r.id == job_id:
                return i
        return -1

    def _changed(self, job_id: str) -> None:
        i = self.row_index(job_id)
        if i >= 0:
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def set_event_state(self, job_id: str, state: str | None, reason: str | None = None) -> None:
        """What the job's events say (None forgets it, e.g. when the tab resumes the job)."""
        row = self.row(job_id)
        if row is None:
            return
        row.event_state = state
        row.event_reason = reason
        if state in ("finished", "failed", "cancelled"):
            row.busy = ""
        self._changed(job_id)

    def set_progress(self, job_id: str, text: str) -> None:
        row = self.row(job_id)
        if row is not None and row.progress != text:
            row.progress = text
            self._changed(job_id)

    def set_busy(self, job_id: str, text: str) -> None:
        row = self.row(job_id)
        if row is not None:
            row.busy = text
            self._changed(job_id)

    def states(self) -> dict[str, str]:
        return {r.id: r.state for r in self.rows}
