"""A hyper-parameter search job: its trials as they finish, the best settings, and the
button that trains a model with them.

The search (:mod:`trainer.search.run`) rewrites ``trials.json`` after every trial and makes
``runs/trial-NNN/fold-K`` as each fold run starts; :class:`SearchView` reads both in a
pool thread (:func:`trainer.search.results.read_status`) every ``POLL_MS`` while the
job runs, and once more when an event says something happened. A damaged file is shown
as one line, never raised.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QTableView,
                               QVBoxLayout, QWidget)

from medview.core.imports import load
from medview.qt import theme
from medview.app.job_progress import format_duration, now, parse_time
from medview.qt.trainer_tab.trials_model import OPTIMIZER_NAMES, TrialsModel
from medview.qt.widgets.needs_trainer import TrainerButton

__all__ = ["SearchView", "search_progress", "spec_of"]

POLL_MS = 2000


def spec_of(job: dict):
    """The :class:`~trainer.search_spec.SearchSpec` of a queued search's ``job.json`` (defaults if damaged)."""
    JobError = load("trainer.config").JobError
    SearchSpec = load("trainer.search_spec").SearchSpec
    parse_search = load("trainer.search_spec").parse_search

    try:
        return parse_search(job.get("search") or {})
    except JobError:
        return SearchSpec()


def search_progress(status, spec, state: str | None, started: float | None = None, reason: str | None = None,
                    at: float | None = None) -> tuple[str, float, str]:
    """``(line for a person, fraction done 0…1, short text for the queue table)``.

    Fold runs are the unit of work: ``trials × folds`` of them, each about as long as
    the next, so the time left is the time per fold run so far times those left.
    """
    n, k, done = spec.trials, spec.folds, len(status.trials)
    if state == "finished":
        return f"Finished: {done} trial{'s' * (done != 1)} compared.", 1.0, ""
    if state == "failed":
        return f"Failed: {reason or 'see the log'}", done / n, ""
    if state == "cancelled":
        kept = " The best settings so far can still be trained." if status.has_best_job else ""
        return f"Cancelled after {done} of {n} trials.{kept}", done / n, ""
    pos = status.position
    trial, fold = (pos if pos is not None and pos[0] > done else (min(done + 1, n), None))
    units = done * k + (fold - 1 if fold else 0)
    if pos is None and not done:
        return "Preparing: reading the images and dividing the patients into folds…", 0.0, "preparing"
    parts = [f"Trial {trial} of {n}"] + ([f"fold {fold} of {k}"] if fold else []) + [f"{done} finished"]
    at = now() if at is None else at
    if units and started is not None:
        left = (at - started) / units * (n * k - units)
        parts.append(f"about {format_duration(left)} left")
    else:
        parts.append("estimating time left…")
    return " · ".join(parts), units / (n * k), f"trial {trial}/{n}"


def _read_status(folder: str):
    read_status = load("trainer.search.results").read_status

    return read_status(folder)


class SearchView(QWidget):
    """The trials table, the best settings and "Train with these settings".

    Signals
    -------
    trainRequested()
        The button was pressed (the tab queues the training job).
    statusChanged()
        A fresh read of the search folder was applied (:attr:`status`).
    """

    trainRequested = Signal()
    statusChanged = Signal()

    def __init__(self, workers, parent: QWidget | None = None) -> None:
        SearchStatus = load("trainer.search.results").SearchStatus
        SearchSpec = load("trainer.search_spec").SearchSpec

        super().__init__(parent)
        self.workers = workers
        self.folder: Path | None = None
        self.spec = SearchSpec()
        self.state: str | None = None
        self.started: float | None = None
        self.status = SearchStatus()
        self._reading = False
        self._again = False
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.refresh)
        self._build()

    def _build(self) -> None:
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.train_button = TrainerButton("Train with these settings")
        self.train_button.setToolTip("Queue a training job with the best learning rate, batch size and optimizer "
                                     "and every other setting of this job (its full number of epochs)")
        self.train_button.clicked.connect(self.trainRequested)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.model = TrialsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        head = QHBoxLayout()
        head.addWidget(self.summary, 1)
        head.addWidget(self.train_button, 0, Qt.AlignmentFlag.AlignTop)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.note)
        lay.addWidget(self.table, 1)
        self._show()

    # ------------------------------------------------------------------ following

    def follow(self, info) -> None:
        """Show the search job ``info`` (a :class:`trainer.jobs.JobInfo`); None shows nothing."""
        SearchStatus = load("trainer.search.results").SearchStatus

        self.folder = info.folder if info is not None else None
        self.spec = spec_of(info.job) if info is not None else self.spec
        self.status = SearchStatus()
        self.state = None
        self.model.set_trials([], None, None)
        self.show_note("")
        self.update_info(info, force=True)

    def update_info(self, info, state: str | None = None, force: bool = False) -> None:
        """A fresh listing of the job; ``state`` overrides ``info.state`` (the events may know better)."""
        if info is None or self.folder is None or info.folder != self.folder:
            self._timer.stop()
            self._show()
            return
        started = info.status.get("started")
        self.started = parse_time(started) if started else None
        self.set_state(state or info.state, force)

    def set_state(self, state: str | None, force: bool = False) -> None:
        """The job's state (from ``state.json`` or the events); reads the folder when it changed."""
        changed = state != self.state
        self.state = state
        if state == "running":
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()
        if changed or force:
            self.refresh()
        else:
            self._show()

    def stop(self) -> None:
        self._timer.stop()
        self.folder = None

    def refresh(self) -> None:
        """Read the search folder again (in the pool; one read at a time)."""
        if self.folder is None:
            return
        if self._reading:
            self._again = True
            return
        self._reading = True
        folder = self.folder
        self.workers.start(_read_status, str(folder), on_return=lambda s: self._apply(folder, s),
                           on_finished=self._read_done)

    def _read_done(self) -> None:
        self._reading = False
        if self._again:
            self._again = False
            self.refresh()

    def _apply(self, folder: Path, status) -> None:
        if folder != self.folder:
            return
        self.status = status
        best = status.best
        self.model.set_trials(status.trials, status.metric, best.number if best is not None else None)
        self._show()
        self.statusChanged.emit()

    # ------------------------------------------------------------------ showing

    def progress(self, reason: str | None = None, at: float | None = None) -> tuple[str, float, str]:
        """See :func:`search_progress`."""
        return search_progress(self.status, self.spec, self.state, self.started, reason, at)

    def show_note(self, text: str, error: bool = True) -> None:
        """One line under the summary (e.g. why the training job could not be queued)."""
        self.note.setText(text)
        self.note.setStyleSheet(f"color: {theme.ERROR if error else theme.TEXT_DIM};")
        self.note.setVisible(bool(text))

    def _show(self) -> None:
        s = self.status
        self.summary.setText(self._summary())
        self.train_button.setVisible(s.has_best_job and self.state in ("finished", "cancelled"))
        if s.error:
            self.show_note(f"Cannot show the trials: {s.error}")
        elif self.note.text().startswith("Cannot show the trials"):
            self.show_note("")

    def _summary(self) -> str:
        s, spec = self.status, self.spec
        best = s.best
        if best is None:
            if self.state in ("failed", "cancelled"):
                return "No trial finished, so there are no settings to recommend."
            return (f"<b>Finding the best settings.</b> The first result appears after {spec.folds} short "
                    f"trainings of {spec.epochs} epoch{'s' * (spec.epochs != 1)}.")
        what = "Best settings" if self.state in ("finished", "cancelled") else "Best so far"
        metric = html.escape(s.metric or "score")
        return (f"<b>{what}:</b> learning rate <b>{best.lr:.2e}</b>, batch size <b>{best.batch_size}</b>, "
                f"optimizer <b>{OPTIMIZER_NAMES.get(best.optimizer, best.optimizer)}</b>: mean validation "
                f"{metric} <b>{best.mean:.3f}</b> over {len(best.fold_scores) or spec.folds} folds "
                f"(trial {best.number}; {len(s.trials)} of {spec.trials} trials finished)")
