"""The Trainer tab: a composer of the job queue, the new-job pages and the job page.

Left, the queue (:mod:`trainer.jobs` on disk, listed in a pool thread every
``LIST_MS``); right, either the new-job pages (data set, then model and preset, then
train or first find the best settings), the pre-training page (unlabelled folders, then a
backbone: :class:`~.pretrain_form.PretrainForm`), or the selected job
(:class:`~.job_page.JobPage`).
A settings search is a job like any other; when it has a result, its page queues a
training job with the best settings (``best_job.json``). Training runs in a subprocess started by
the queue, so a crash there never takes the viewer down; this tab only reads what the
trainer writes. Nothing here blocks the GUI thread: every file-system operation and
every queue operation (enqueue, start, cancel — which may wait 30 s for a graceful
stop — remove, register) runs in this tab's own small thread pool, so the viewer's
pool (file loading, decoding) never waits behind it.

The trainer is started at a lower scheduling priority (nice 10 / below normal), so
on a 2-core clinic PC the viewer keeps the CPU whenever it needs it.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QScrollArea, QSplitter, QStackedWidget, QTableView,
                               QVBoxLayout, QWidget)

from medview.core.imports import load
from medview.qt import theme
from medview.qt.trainer_tab.dataset_page import DatasetPage
from medview.qt.trainer_tab.job_list import JobQueueModel
from medview.qt.trainer_tab.job_page import JobPage
from medview.qt.trainer_tab.pretrain_form import PretrainForm
from medview.qt.trainer_tab.search_options import SearchOptions
from medview.qt.trainer_tab.setup_form import SetupForm
from medview.qt.widgets.needs_trainer import TrainerButton, missing_note
from medview.qt.workers import Workers

__all__ = ["TrainerTab", "lower_priority"]

LIST_MS = 2000
QUEUED_COLUMN_FROM_PX = 360  # a job list narrower than this hides "Queued" so names stay readable
CANCEL_TIMEOUT_S = 30.0


def lower_priority(pid: int | None) -> None:
    """Run the trainer below the viewer's priority (nice 10; Windows: below normal).

    Called right after the trainer process starts, before it has imported torch or
    started threads, so all its threads and DataLoader workers inherit the priority.
    """
    if not pid:
        return
    try:
        if os.name == "nt":
            import ctypes

            kernel32 = ctypes.windll.kernel32
            handle = kernel32.OpenProcess(0x0200 | 0x0400, False, pid)  # SET_INFORMATION | QUERY_INFORMATION
            if handle:
                kernel32.SetPriorityClass(handle, 0x4000)  # BELOW_NORMAL_PRIORITY_CLASS
                kernel32.CloseHandle(handle)
        else:
            current = os.getpriority(os.PRIO_PROCESS, pid)
            os.setpriority(os.PRIO_PROCESS, pid, max(current, 10))
    except (OSError, AttributeError):
        pass  # a priority is a courtesy, not a requirement


# ---------------------------------------------------------------------- pool-thread jobs

def _list_jobs():
    jobs = load("trainer.jobs")

    return jobs.list_jobs()


def _enqueue_and_start(job: dict):
    jobs = load("trainer.jobs")

    info = jobs.enqueue(job)
    try:  # the check and the start under the queue lock: a CLI or trainer may start one too
        info = jobs.start(info.id, start_next=True, if_idle=True)
    except jobs.QueueBusy:
        return info
    lower_priority(info.pid)
    return info


def _enqueue_best(folder: str):
    """Queue (and start if nothing runs) the training job a finished search recommends."""
    read_best_job = load("trainer.search.results").read_best_job

    return _enqueue_and_start(read_best_job(folder))


def _start(job_id: str, resume: bool):
    jobs = load("trainer.jobs")

    info = jobs.start(job_id, resume=resume, start_next=True, if_idle=True)  # QueueBusy says why not
    lower_priority(info.pid)
    return info


def _start_queue():
    jobs = load("trainer.jobs")

    info = jobs.start_next()
    if info is not None:
        lower_priority(info.pid)
    return info


def _cancel(job_id: str, timeout: float):
    jobs = load("trainer.jobs")

    return jobs.cancel(job_id, timeout=timeout)


def _remove(job_id: str):
    jobs = load("trainer.jobs")

    jobs.remove(job_id)
    return job_id


def _available_models():
    from medview.inference.registry import Registry

    return Registry().available()


def _available_backbones():
    return load("medview.inference.backbones").list_backbones()


def _scrolling(page: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(page)
    return scroll


def _background_note(what: str, running: bool) -> str:
    return (("Another job is running: this one waits in the queue. " if running else "")
            + f"{what} runs in its own process at low priority, so the viewer stays "
              "responsive; you can keep reading images, or even close medview.")


class TrainerTab(QWidget):
    """The whole tab.

    Parameters
    ----------
    settings : medview.qt.settings.Settings, optional
    models_changed : callable, optional
        Called after a model was registered (the main window passes the AI panel's
        ``refresh_models``).

    Signals
    -------
    jobsListed()
        A queue listing was applied (tests wait on it).
    """

    jobsListed = Signal()

    def __init__(self, settings=None, models_changed=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TrainerTab")
        self.settings = settings
        self.models_changed = models_changed
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(3)
        self.workers = Workers(self.pool, self)
        self.queue = JobQueueModel(self)
        self.selected_id: str | None = None
        self._listing = False
        self._first_listing = True
        self._build()
        self._list_timer = QTimer(self, interval=LIST_MS)
        self._list_timer.timeout.connect(self.refresh_jobs)
        self._list_timer.start()
        self.refresh_jobs()
        self.refresh_models()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        # left: the queue
        self.job_view = QTableView()
        self.job_view.setModel(self.queue)
        self.job_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.job_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.job_view.verticalHeader().setVisible(False)
        self.job_view.setShowGrid(False)
        self.job_view.setWordWrap(False)  # a narrow list elides names ("chest-les…") rather than cut them in two
        self.job_view.viewport().installEventFilter(self)  # narrow: the Queued column gives way
        self.job_view.setAlternatingRowColors(True)
        hh = self.job_view.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.job_view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.new_button = QPushButton("New training job")
        self.new_button.clicked.connect(self.show_new_job)
        self.pretrain_button = QPushButton("Pre-train a backbone")
        self.pretrain_button.setToolTip("Learn from unlabelled images of your archive first, so that training "
                                        "jobs need fewer labelled cases")
        self.pretrain_button.clicked.connect(self.show_pretrain)
        self.queue_button = TrainerButton("Start queue")
        self.queue_button.setToolTip("Start the oldest queued job; the others follow one after another")
        self.queue_button.clicked.connect(self.start_queue)
        self.queue_button.hide()
        self.queue_note = theme.note_label("Jobs run one at a time in the background and keep running if "
                                           "medview is closed; they are listed here again when it opens.")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 4, 0)
        ll.addWidget(QLabel("<b>Training jobs</b>"))
        ll.addWidget(self.job_view, 1)
        ll.addWidget(self.queue_button)
        ll.addWidget(self.new_button)
        ll.addWidget(self.pretrain_button)
        ll.addWidget(self.queue_note)

        # right: new job / one job
        self.dataset_page = DatasetPage(self.workers, self.settings)
        self.setup_form = SetupForm()
        self.search_options = SearchOptions()
        self.start_button = TrainerButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start_new_job)
        self.start_note = theme.note_label()
        new_page = QWidget()
        nl = QVBoxLayout(new_page)
        nl.addWidget(self.dataset_page)
        nl.addWidget(self.setup_form)
        nl.addWidget(self.search_options)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.start_note, 1)
        nl.addLayout(row)
        nl.addStretch(1)
        self.new_scroll = _scrolling(new_page)
        self.pretrain_scroll = _scrolling(self._build_pretrain())
        self.job_page = JobPage(self.workers)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.new_scroll)
        self.stack.addWidget(self.pretrain_scroll)
        self.stack.addWidget(self.job_page)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.stack)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 1100])
        split.setChildrenCollapsible(False)
        self.splitter = split
        self._sized = False
        self.sizes_restored = False  # True once the first showing has sized the panes
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.addon_note = missing_note(self)  # the default bundle without the trainer add-on
        if self.addon_note is not None:
            lay.addWidget(self.addon_note)
        lay.addWidget(split, 1)

        self.dataset_page.intendedChanged.connect(self.setup_form.set_intended)
        self.dataset_page.datasetChanged.connect(self.setup_form.set_dataset)
        self.dataset_page.datasetChanged.connect(self.search_options.set_dataset)
        self.setup_form.changed.connect(self._form_changed)
        self.search_options.changed.connect(self._form_changed)
        self.job_page.eventState.connect(self._event_state)
        self.job_page.progressText.connect(self.queue.set_progress)
        self.job_page.cancelRequested.connect(self.cancel_job)
        self.job_page.startRequested.connect(self.start_job)
        self.job_page.removeRequested.connect(lambda job_id: self.remove_job(job_id, confirm=True))
        self.job_page.trainRequested.connect(self.train_with_best)
        self.job_page.modelRegistered.connect(self._model_registered)
        self.job_page.backboneRegistered.connect(lambda _info: self.refresh_backbones())
        self._form_changed()

    def _build_pretrain(self) -> QWidget:
        """The pre-training page: the form, and its own start button."""
        architectures = list(load("trainer.pretrain.job").PRETRAIN_ARCHITECTURES)
        self.pretrain_form = PretrainForm(architectures, self.workers, self.settings)
        self.pretrain_start = TrainerButton("Start pre-training")
        self.pretrain_start.clicked.connect(self.start_pretrain)
        self.pretrain_note = theme.note_label()
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(self.pretrain_form)
        row = QHBoxLayout()
        row.addWidget(self.pretrain_start)
        row.addWidget(self.pretrain_note, 1)
        lay.addLayout(row)
        lay.addStretch(1)
        self.pretrain_form.changed.connect(self._form_changed)
        return page

    # ------------------------------------------------------------------ queue listing

    def refresh_jobs(self) -> None:
        """List the queue in the pool (skipped while the previous listing runs)."""
        if self._listing:
            return
        self._listing = True
        self.workers.start(_list_jobs, on_return=self._listed, on_finished=self._listing_done)

    def _listing_done(self) -> None:
        self._listing = False

    def _listed(self, infos) -> None:
        self.queue.set_jobs(infos)
        by_id = {i.id: i for i in infos}
        if self.selected_id in by_id:
            self._select_row(self.selected_id)
            self.job_page.update_info(by_id[self.selected_id])
        elif self.selected_id is not None:  # removed
            self.selected_id = None
            self.job_page.show_job(None)
            self.show_new_job()
        if self._first_listing:
            self._first_listing = False
            running = [i for i in infos if i.state == "running"]
            if running or infos:
                self.select_job((running or infos)[-1].id)
            else:
                self.show_new_job()
        self._update_queue_button()
        self._form_changed()
        self.jobsListed.emit()

    def _update_queue_button(self) -> None:
        states = self.queue.states()
        waiting = sum(1 for s in states.values() if s == "queued")
        running = any(s == "running" for s in states.values())
        self.queue_button.setVisible(bool(waiting) and not running)
        self.queue_button.setText(f"Start queue ({waiting} waiting)")

    def _select_row(self, job_id: str) -> None:
        i = self.queue.row_index(job_id)
        if i < 0:
            return
        index = self.queue.index(i, 0)
        sm = self.job_view.selectionModel()
        if sm.currentIndex().row() != i:
            sm.blockSignals(True)
            sm.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                               | QItemSelectionModel.SelectionFlag.Rows)
            sm.blockSignals(False)
            self.job_view.viewport().update()

    def select_job(self, job_id: str) -> None:
        """Show ``job_id`` on the right (it must be listed)."""
        row = self.queue.row(job_id)
        if row is None:
            return
        self.selected_id = job_id
        self._select_row(job_id)
        self.job_page.show_job(row.info)
        self.stack.setCurrentWidget(self.job_page)

    def _row_changed(self, current, _previous) -> None:
        if current.isValid():
            self.select_job(self.queue.rows[current.row()].id)

    def show_new_job(self) -> None:
        self._show_page(self.new_scroll)

    def show_pretrain(self) -> None:
        """The pre-training page (a new backbone from unlabelled images)."""
        self._show_page(self.pretrain_scroll)

    def _show_page(self, page: QWidget) -> None:
        self.stack.setCurrentWidget(page)
        self.job_view.selectionModel().clear()  # clicking the same job again shows it
        self.selected_id = None
        self.job_page.show_job(None)

    # ------------------------------------------------------------------ events of the followed job

    def _event_state(self, job_id: str, state: str, reason) -> None:
        self.queue.set_event_state(job_id, state, reason)
        self._update_queue_button()

    # ------------------------------------------------------------------ new job

    def _form_changed(self) -> None:
        err = self.setup_form.error or self.search_options.error
        running = any(s == "running" for s in self.queue.states().values())
        search = self.search_options.is_search
        self.search_options.set_train_epochs(self._train_epochs())
        self.start_button.setEnabled(err is None)
        if search:
            self.start_button.setText("Add search to queue" if running else "Find best settings")
        else:
            self.start_button.setText("Add to queue" if running else "Start training")
        self.dataset_page.set_split_fractions(*self.setup_form.split_fractions())
        if err is not None:
            self.start_note.setText("" if self.dataset_page.dataset is not None else
                                    "Choose the labelled images above to start.")
        else:
            what = "The search" if search else "Training"
            self.start_note.setText(_background_note(what, running))
        self._pretrain_changed(running)

    def _pretrain_changed(self, running: bool) -> None:
        err = self.pretrain_form.error
        self.pretrain_start.setEnabled(err is None)
        self.pretrain_start.setText("Add to queue" if running else "Start pre-training")
        if err is None:
            self.pretrain_note.setText(_background_note("Pre-training", running))
        else:
            self.pretrain_note.setText("" if self.pretrain_form.folders() else
                                       "Add a folder of unlabelled images above to start.")

    def _train_epochs(self) -> int | None:
        """Epochs of the training job the form describes (None while it is invalid)."""
        if self.setup_form.error is not None:
            return None
        parse_job = load("trainer.config").parse_job

        try:
            return parse_job(self.setup_form.job_dict()).epochs
        except ValueError:
            return None

    def start_new_job(self) -> None:
        """Queue the job (or settings search) the form describes and start it if nothing else runs."""
        if self.setup_form.validate_now() is not None or self.search_options.error is not None:
            return
        job = self.setup_form.job_dict()
        spec = self.search_options.spec()
        if spec is not None:
            job["search"] = spec.to_dict()
        if not self._ask_class_map(job):
            self._queue_new(job)

    def _ask_class_map(self, job: dict) -> bool:
        """Ask how the base model's outputs map to the data set's classes when their names
        differ (the trainer never maps them by position); True if the dialog was opened —
        the job is queued when the user accepts it."""
        ClassMapDialog = load("medview.qt.trainer_tab.class_map").ClassMapDialog
        start_weights = load("trainer.start_weights")  # light: no torch
        classes_differ, output_classes = start_weights.classes_differ, start_weights.output_classes
        form = self.setup_form
        base = form.base_manifest()
        model = job.get("model", {})
        if base is None or "class_map" in model or not classes_differ(list(base.classes), form.task, form.classes):
            return False
        dialog = ClassMapDialog(f"{base.name} {base.version}", list(base.classes),
                                output_classes(form.task, form.classes), self)
        self.class_map_dialog = dialog
        dialog.accepted.connect(lambda: self._queue_new({**job, "model": {**model, "class_map": dialog.class_map()}}))
        dialog.rejected.connect(lambda: self.start_note.setText(
            "Not started: the base model's classes were not matched to yours."))
        dialog.open()
        return True

    def start_pretrain(self) -> None:
        """Queue the pre-training job the page describes and start it if nothing else runs."""
        if self.pretrain_form.validate_now() is None:
            self._queue_new(self.pretrain_form.job_dict(), self.pretrain_start, self.pretrain_note)

    def _queue_new(self, job: dict, button: QPushButton | None = None, note: QLabel | None = None) -> None:
        button = button or self.start_button
        note = note or self.start_note
        button.setEnabled(False)
        note.setText("Queuing…")

        def done(info) -> None:
            button.setEnabled(True)
            self._show_queued(info)

        def failed(exc) -> None:
            button.setEnabled(True)
            note.setText(f"Could not start: {exc}")

        self.workers.start(_enqueue_and_start, job, on_return=done, on_error=failed)

    def _show_queued(self, info) -> None:
        if self.queue.row(info.id) is None:  # show it at once; the next listing confirms
            self.queue.set_jobs(self.queue_infos() + [info])
        self.select_job(info.id)
        self.refresh_jobs()

    def train_with_best(self, job_id: str) -> None:
        """Queue a training job with the best settings a search found (``best_job.json``)."""
        row = self.queue.row(job_id)
        if row is None:
            return
        view = self.job_page.search_view
        view.train_button.setEnabled(False)
        view.show_note("Queuing the training job…", error=False)

        def done(info) -> None:
            view.train_button.setEnabled(True)
            view.show_note("")
            self._show_queued(info)

        def failed(exc) -> None:
            view.train_button.setEnabled(True)
            view.show_note(f"Could not queue the training job: {exc}")

        self.workers.start(_enqueue_best, str(row.folder), on_return=done, on_error=failed)

    def queue_infos(self) -> list:
        return [r.info for r in self.queue.rows]

    # ------------------------------------------------------------------ job actions

    def start_job(self, job_id: str) -> None:
        """Start a queued job now, or resume a failed / cancelled one from its checkpoint."""
        row = self.queue.row(job_id)
        if row is None:
            return
        resume = row.state in ("failed", "cancelled") and row.has_checkpoint
        self.queue.set_event_state(job_id, None)
        self.queue.set_busy(job_id, "starting…")

        def done(info) -> None:
            self.queue.set_busy(job_id, "")
            self.refresh_jobs()

        def failed(exc) -> None:
            self.queue.set_busy(job_id, "")
            self.job_page.log.add_line("error", f"Could not start: {exc}")

        self.workers.start(_start, job_id, resume, on_return=done, on_error=failed)

    def start_queue(self) -> None:
        self.workers.start(_start_queue, on_return=lambda info: (self.refresh_jobs(),
                                                                  info is not None and self.select_job(info.id)))

    def cancel_job(self, job_id: str) -> None:
        """Cancel gracefully (killed after 30 s); a second request kills at once."""
        row = self.queue.row(job_id)
        if row is None:
            return
        timeout = 0.0 if row.busy == "cancelling…" else CANCEL_TIMEOUT_S
        self.queue.set_busy(job_id, "cancelling…")
        if job_id == self.selected_id:
            self.job_page.cancel_button.setText("Stop now")
        self.workers.start(_cancel, job_id, timeout, on_return=lambda info: self._cancelled(job_id),
                           on_error=lambda exc: self._cancelled(job_id, exc))

    def _cancelled(self, job_id: str, exc=None) -> None:
        self.queue.set_busy(job_id, "")
        if job_id == self.selected_id:
            self.job_page.cancel_button.setText("Cancel")
            if exc is not None:
                self.job_page.log.add_line("error", f"Could not cancel: {exc}")
        self.refresh_jobs()

    def remove_job(self, job_id: str, confirm: bool = True) -> None:
        row = self.queue.row(job_id)
        if row is None:
            return
        if confirm and QMessageBox.question(
                self, "Remove job", f"Delete the job '{row.name}' and its folder?\n{row.folder}\n\n"
                                    "A registered model stays installed.") != QMessageBox.StandardButton.Yes:
            return
        self.workers.start(_remove, job_id, on_return=lambda _id: self.refresh_jobs(),
                           on_error=lambda exc: self.job_page.log.add_line("error", f"Could not remove: {exc}"))

    # ------------------------------------------------------------------ models

    def refresh_models(self) -> None:
        """Re-list the registered models and backbones the form offers as starting points."""
        self.workers.start(_available_models, on_return=self.setup_form.set_models)
        self.refresh_backbones()

    def refresh_backbones(self) -> None:
        self.workers.start(_available_backbones, on_return=self.setup_form.set_backbones)

    def _model_registered(self, entry) -> None:
        if self.models_changed is not None:
            self.models_changed()
        self.refresh_models()

    # ------------------------------------------------------------------ life cycle

    def eventFilter(self, obj, event) -> bool:
        if obj is self.job_view.viewport() and event.type() == QEvent.Type.Resize:
            self.job_view.setColumnHidden(3, obj.width() < QUEUED_COLUMN_FROM_PX)
        return super().eventFilter(obj, event)

    def showEvent(self, event) -> None:
        if not self._list_timer.isActive():
            self._list_timer.start()
            self.refresh_jobs()
        super().showEvent(event)
        if not self._sized:  # once, after the first layout pass has given the real width
            self._sized = True
            QTimer.singleShot(0, self._restore_sizes)

    def _restore_sizes(self) -> None:
        """The pane sizes the user left (settings), else a job list of ~280 px."""
        s = self.settings
        if s is None or not s.restore_splitter("trainer/jobs", self.splitter):
            width = self.splitter.width()
            left = min(280, width // 3)
            self.splitter.setSizes([left, max(1, width - left)])
        if s is not None:
            s.restore_splitter("trainer/job_page", self.job_page.splitter)
        self.sizes_restored = True

    def save_sizes(self) -> None:
        """Remember the pane sizes in the settings (called on shutdown)."""
        if self.settings is not None and self.sizes_restored:
            self.settings.save_splitter("trainer/jobs", self.splitter)
            if not self.job_page.narrow:
                self.settings.save_splitter("trainer/job_page", self.job_page.splitter)

    def hideEvent(self, event) -> None:
        self._list_timer.stop()  # the followed job's tail keeps its charts current meanwhile
        super().hideEvent(event)

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Stop timers and the followed tail; running trainers keep running."""
        self.save_sizes()
        self._list_timer.stop()
        self.job_page.stop()
        self.workers.cancel_all()
        self.pool.waitForDone(wait_ms)
