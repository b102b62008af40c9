"""One job: live charts, time left, log, evaluation, and putting the model to work.

The page follows the job's ``events.jsonl`` (:class:`~.event_tail.EventTail`) and
feeds each batch of events to the charts, the log and :class:`~.progress.JobProgress`.
When the job has finished it loads ``model/evaluation.json`` in a pool thread and
offers **Register model** (:func:`trainer.register.register`, in a pool thread; the
AI panel's model list is refreshed at once) and **Export ONNX**
(``medview models export-onnx`` as a subprocess).

A hyper-parameter search job (``JobInfo.kind == "search"``) shows its trials instead of
charts and evaluation (:class:`~.search_view.SearchView`), with **Train with these
settings** once it has a result. A pre-training job (``"pretrain"``) has no labels: its
chart is the self-supervised loss alone, and in place of an evaluation it shows the
backbone it made, with **Register backbone** (:class:`~.backbone_view.BackboneView`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QProgressBar,
                               QPushButton,
                               QScrollArea, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget)

from medview.app import torch_commands
from medview.qt import theme
from medview.qt.trainer_tab.backbone_view import BackboneView
from medview.qt.trainer_tab.charts import TrainingCharts
from medview.qt.trainer_tab.evaluation_view import EvaluationView
from medview.qt.trainer_tab.event_tail import EventTail
from medview.qt.trainer_tab.job_list import STATE_COLOURS
from medview.qt.trainer_tab.log_view import LogView
from medview.app.job_progress import TERMINAL, JobProgress, format_duration, parse_time
from medview.qt.trainer_tab.search_view import SearchView
from medview.qt.widgets.needs_trainer import TrainerButton

__all__ = ["JobPage", "export_command"]

_LOG_TAIL_BYTES = 6000
#: Below this width the charts become a tab beside the evaluation and the log, so that
#: neither is squeezed (1366 × 768 with the viewer's panels open leaves ~450 px here).
NARROW_PX = 900


def _load_report(folder: str, name: str, version: str):
    """Pool thread: (evaluation.json or None, whether name/version is registered)."""
    from medview.inference.registry import Registry

    path = Path(folder) / "model" / "evaluation.json"
    report = None
    if path.is_file():
        report = json.loads(path.read_text(encoding="utf-8"))
    registered = any(e.name == name and e.version == version and e.source == "user"
                     for e in Registry().available())
    return report, registered


def _register(folder: str, name: str | None, version: str | None, replace: bool, force: bool = False):
    # A subprocess: registering loads torch, which the GUI process never does.
    return torch_commands.register_model(folder, name or None, version or None, replace, force)


def _trainer_log_tail(folder: str) -> str:
    path = Path(folder) / "trainer.log"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - _LOG_TAIL_BYTES))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def export_command(name: str, version: str, out: str) -> list[str]:
    """``medview models export-onnx NAME OUT --version V`` as this Python (or frozen app) runs it."""
    return torch_commands.medview_command("models", "export-onnx", name, out, "--version", version)


class JobPage(QWidget):
    """The selected job.

    Signals
    -------
    eventState(str, str, object)
        Job id, ``running`` or a terminal state, reason (or None), as the events say.
    progressText(str, str)
        Job id and a short progress text for the queue table ("epoch 3/20").
    cancelRequested(str), startRequested(str), removeRequested(str)
    trainRequested(str)
        A search's job id: queue a training job with its best settings.
    modelRegistered(object)
        The registry entry of a model just registered.
    backboneRegistered(object)
        The info of a backbone just registered.
    """

    eventState = Signal(str, str, object)
    progressText = Signal(str, str)
    cancelRequested = Signal(str)
    startRequested = Signal(str)
    removeRequested = Signal(str)
    trainRequested = Signal(str)
    modelRegistered = Signal(object)
    backboneRegistered = Signal(object)

    def __init__(self, workers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.job_id: str | None = None
        self.folder: Path | None = None
        self.info = None
        self.kind = "train"
        self.state: str | None = None
        self.progress = JobProgress()
        self.report: dict | None = None
        self.registered = False
        self._loading_report = False
        self._export: QProcess | None = None
        self._export_tmp: tempfile.TemporaryDirectory | None = None
        self._crash_shown = False
        self.tail = EventTail(parent=self)
        self.tail.events.connect(self.add_events)
        self.tail.reset.connect(self._reset_view)
        self.tail.bad_line.connect(lambda msg: self.log.add_line("warning", f"unreadable event line: {msg}"))
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._update_progress)
        self._build()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)  # long job ids must not widen the page past the screen
        self.state_label = QLabel()
        self.eta_label = QLabel()
        self.eta_label.setObjectName("eta")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch and keep a checkpoint (stopped by force if it "
                                      "has not within 30 s); press again to stop at once")
        self.cancel_button.clicked.connect(lambda: self.job_id and self.cancelRequested.emit(self.job_id))
        self.start_button = TrainerButton("Resume")
        self.start_button.clicked.connect(lambda: self.job_id and self.startRequested.emit(self.job_id))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete this job's folder (its model too, unless registered)")
        self.remove_button.clicked.connect(lambda: self.job_id and self.removeRequested.emit(self.job_id))
        self.folder_button = QPushButton("Open folder")
        self.folder_button.clicked.connect(lambda: self.folder and QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(self.folder))))
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.state_label)
        head.addStretch(1)
        for b in (self.cancel_button, self.start_button, self.remove_button, self.folder_button):
            head.addWidget(b)

        self.charts = TrainingCharts()
        self.search_view = SearchView(self.workers)
        self.search_view.trainRequested.connect(lambda: self.job_id and self.trainRequested.emit(self.job_id))
        self.search_view.statusChanged.connect(self._update_progress)
        self.content = QStackedWidget()  # training: charts; search: its trials
        self.content.addWidget(self.charts)
        self.content.addWidget(self.search_view)
        self.log = LogView()
        self.evaluation = EvaluationView()
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip("The model's name in the AI panel")
        self.version_edit = QLineEdit()
        self.version_edit.textChanged.connect(self._fit_version)
        self.register_button = TrainerButton("Register model")
        self.register_button.setToolTip("Install the model so the viewer's AI panel can run it")
        self.register_button.clicked.connect(self.register_model)
        self.export_button = TrainerButton("Export ONNX…")
        self.export_button.setToolTip("Write the model as an ONNX file (for other tools)")
        self.export_button.clicked.connect(self._choose_export)
        self.use_status = QLabel()
        self.use_status.setWordWrap(True)
        self.use_row = QWidget()  # putting the model to work: shown once the job has finished
        use = QGridLayout(self.use_row)  # two rows: fits a narrow page (1366 × 768, panels open)
        use.setContentsMargins(0, 0, 0, 0)
        use.addWidget(QLabel("Model name"), 0, 0)
        use.addWidget(self.name_edit, 0, 1)
        use.addWidget(QLabel("Version"), 0, 2)
        use.addWidget(self.version_edit, 0, 3)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.register_button)
        buttons.addWidget(self.export_button)
        use.addLayout(buttons, 1, 0, 1, 4)
        use.setColumnStretch(1, 3)
        use.setColumnStretch(3, 1)
        self.name_edit.setMinimumWidth(140)
        eval_page = QWidget()
        ev = QVBoxLayout(eval_page)
        ev.setContentsMargins(0, 0, 0, 0)
        ev.addWidget(self.evaluation, 1)
        scroll = QScrollArea()  # scrolls (both ways) rather than cut what cannot shrink
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(eval_page)
        self.eval_scroll = scroll
        self.backbone_view = BackboneView(self.workers)
        self.backbone_view.backboneRegistered.connect(self.backboneRegistered)
        self.side = QTabWidget()
        self.side.addTab(scroll, "Evaluation")
        self.side.addTab(self.backbone_view, "Backbone")
        self.side.addTab(self.log, "Log")
        self.side.setTabVisible(self.side.indexOf(self.backbone_view), False)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.content)
        split.addWidget(self.side)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([420, 600])  # as ratios: the evaluation needs the room of two square plots
        split.setChildrenCollapsible(False)
        self.splitter = split
        self.narrow = False

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        self.eta_label.setWordWrap(True)
        lay.addWidget(self.eta_label)
        lay.addWidget(self.use_row)  # a row of its own: the name and version fields need the width
        lay.addWidget(self.use_status)
        lay.addWidget(self.bar)
        lay.addWidget(split, 1)
        self._update_buttons()

    def _fit_version(self, text: str) -> None:
        """The version field shows its whole text (e.g. ``2026-12-02.1444``)."""
        fm = self.version_edit.fontMetrics()
        self.version_edit.setMinimumWidth(max(fm.horizontalAdvance("0.0.00"), fm.horizontalAdvance(text)) + 24)

    def _side_default(self) -> QWidget:
        """The side tab a job of this kind opens on: its result (the log for a search)."""
        return {"search": self.log, "pretrain": self.backbone_view}.get(self.kind, self.eval_scroll)

    def _sizes(self) -> list[int]:
        """Content | side: a search's trials table and a pre-training chart need the room."""
        return {"search": [720, 300], "pretrain": [620, 400]}.get(self.kind, [420, 600])

    def _content_title(self) -> str:
        return "Trials" if self.kind == "search" else "Charts"

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange(self.width() < NARROW_PX)

    def _arrange(self, narrow: bool) -> None:
        """Wide: charts | evaluation and log, side by side. Narrow: one tab each."""
        if narrow == self.narrow:
            return
        self.narrow = narrow
        if narrow:
            self.side.insertTab(0, self.content, self._content_title())
            if self.report is None or self.kind == "search":
                self.side.setCurrentWidget(self.content)
        else:
            current = self.side.currentWidget()
            self.splitter.insertWidget(0, self.content)  # leaves the tab widget
            self.content.show()
            self.splitter.setSizes(self._sizes())
            if current is self.content:
                self.side.setCurrentWidget(self._side_default())

    # ------------------------------------------------------------------ following a job

    def show_job(self, info) -> None:
        """Follow ``info`` (a :class:`trainer.jobs.JobInfo`); None shows nothing."""
        same = info is not None and info.id == self.job_id
        self.info = info
        if same:
            self.update_info(info)
            return
        self.job_id = info.id if info is not None else None
        self.folder = info.folder if info is not None else None
        self.state = info.state if info is not None else None
        self.registered = False
        self._crash_shown = False
        self._use_text("")
        self.use_status.setStyleSheet("")
        self._set_kind(info.kind if info is not None else "train")
        self.search_view.follow(info if self.kind == "search" else None)
        name = (info.job.get("name") if info is not None else "") or ""
        what = {"search": " settings search", "pretrain": " pre-training"}.get(self.kind, "")
        self.title.setText(f"<b>{name}</b>{what} <span style='color:{theme.TEXT_DIM}'>{info.id}</span>"
                           if info else "")
        self.name_edit.setText(name)
        self.version_edit.setText(str(info.job.get("version") or "") if info else "")
        self.tail.follow(info.events_file if info is not None else None)
        self._update_state_label()
        self._update_buttons()
        self._maybe_load_report()
        self._maybe_show_crash()

    def update_info(self, info) -> None:
        """A fresh listing of the followed job (state.json may have changed)."""
        if info is None or info.id != self.job_id:
            return
        self.info = info
        disk = info.state
        # a terminal event outranks a "running" that state.json still says
        if not (disk == "running" and self.progress.done):
            self.state = disk
        if self.kind == "search":
            self.search_view.update_info(info, self.state)
        self._update_state_label()
        self._update_buttons()
        self._maybe_load_report()
        self._maybe_show_crash()

    def stop(self) -> None:
        self.tail.stop()
        self._tick.stop()
        self.search_view.stop()
        if self._export is not None and self._export.state() != QProcess.ProcessState.NotRunning:
            self._export.kill()
            self._export.waitForFinished(2000)

    def _reset_view(self) -> None:
        self.charts.clear()
        self.log.clear()
        self.evaluation.clear("No evaluation yet: it appears when the job finishes.")
        self.backbone_view.clear()
        self.report = None
        self.progress = JobProgress(pretrain=self.kind == "pretrain")
        self._update_progress()

    def add_events(self, events) -> None:
        """Events of the followed job, in order (from the tail; tests call it too)."""
        if self.job_id is None:
            return
        if self.kind != "search":
            self.charts.add_events(events)
        self.log.add_events(events)
        for e in events:
            self.progress.add(e)
            if e.type == "job_started":
                if self._ended_since(e.time):
                    continue  # a killed run's last events say running; its recorded end wins
                self.state = "running"
                self.eventState.emit(self.job_id, "running", None)
            elif e.type in TERMINAL:
                self.state = TERMINAL[e.type]
                self.eventState.emit(self.job_id, self.state, getattr(e, "reason", None))
            elif e.type == "evaluation":
                self._maybe_load_report(force=True)
            if e.type == "finished" and self.kind == "pretrain":
                self.backbone_view.show_backbone(e.model)
                self.side.setCurrentWidget(self.backbone_view)
        if self.kind == "search":  # a trial may have finished: read trials.json again
            self.search_view.set_state(self.state, force=True)
        self._update_progress()
        self._update_state_label()
        self._update_buttons()
        if self.state == "finished":
            self._maybe_load_report()

    def _ended_since(self, event_time: str) -> bool:
        """Whether ``state.json`` records an end of the job after ``event_time``.

        A run killed outright (or whose process the queue found gone) writes no
        terminal event: its events end in ``running``. The listing's recorded end then
        outranks them; a resumed run's new ``job_started`` comes after that end.
        """
        info = self.info
        ended = info.status.get("ended") if info is not None else None
        if info is None or info.state not in TERMINAL.values() or not ended:
            return False
        try:  # "ended" has whole seconds: the end lies within the second after it
            return parse_time(event_time) < parse_time(ended) + 1.0
        except (TypeError, ValueError):
            return False

    def _set_kind(self, kind: str) -> None:
        """Training shows charts and the evaluation; a search its trials (and the log);
        pre-training its loss and the backbone it made."""
        if kind == self.kind and self.job_id is not None:
            return
        self.kind = kind
        search = kind == "search"
        self.content.setCurrentWidget(self.search_view if search else self.charts)
        self.charts.set_pretrain(kind == "pretrain")
        self.log.pretrain = kind == "pretrain"
        self.side.setTabVisible(self.side.indexOf(self.eval_scroll), kind == "train")
        self.side.setTabVisible(self.side.indexOf(self.backbone_view), kind == "pretrain")
        if self.narrow:
            self.side.setTabText(self.side.indexOf(self.content), self._content_title())
            self.side.setCurrentWidget(self.content)
        elif kind != "train" or not self.side.isTabVisible(self.side.currentIndex()):
            self.side.setCurrentWidget(self._side_default())
        kept = "keep the trials finished so far" if search else "keep a checkpoint"
        made = "backbone" if kind == "pretrain" else "model"
        self.remove_button.setToolTip(f"Delete this job's folder (its {made} too, unless registered)")
        self.cancel_button.setToolTip(f"Stop after the current batch and {kept} (stopped by force if it has not "
                                      "within 30 s); press again to stop at once")
        # a search has only its log beside the trials table, which needs ~650 px for its columns
        self.splitter.setSizes(self._sizes())

    def _update_progress(self) -> None:
        p = self.progress
        if self.kind == "search" and not (self.state == "queued" and p.state is None):
            self._update_search_progress()
            return
        if self.state == "queued" and p.state is None:
            text = "Queued: starts when the jobs before it have finished."
        elif self.state in ("failed", "cancelled") and not p.done:
            text = (self.info.reason if self.info is not None and self.info.reason else self.state.capitalize())
        else:
            text = p.text()
        self.eta_label.setText(text)
        self.bar.setValue(int(p.fraction() * 1000))
        self.bar.setVisible(p.state is not None)
        if p.state == "running" and self.job_id:
            short = f"epoch {p.epoch}/{p.epochs}" if p.epochs else "preparing"
            left, _ = p.eta()
            if left is not None:
                short += f", {format_duration(left)} left"
            self.progressText.emit(self.job_id, short)
        self._run_tick(p.state == "running" and self.state == "running")

    def _update_search_progress(self) -> None:
        reason = self.progress.reason or (self.info.reason if self.info is not None else None)
        text, fraction, short = self.search_view.progress(reason)
        self.eta_label.setText(text)
        self.bar.setValue(int(fraction * 1000))
        self.bar.setVisible(self.progress.state is not None or bool(self.search_view.status.trials))
        if short and self.state == "running" and self.job_id:
            self.progressText.emit(self.job_id, short)
        self._run_tick(self.state == "running")

    def _run_tick(self, on: bool) -> None:
        if on and not self._tick.isActive():
            self._tick.start()
        elif not on:
            self._tick.stop()

    def _use_text(self, text: str) -> None:
        self.use_status.setText(text)
        self.use_status.setVisible(bool(text))

    def _update_state_label(self) -> None:
        s = self.state or ""
        elsewhere = s == "running" and self.info is not None and self.info.elsewhere
        self.state_label.setText(f"running on {self.info.host}" if elsewhere else s)
        self.state_label.setStyleSheet(f"color: {STATE_COLOURS.get(s, theme.TEXT)}; font-weight: bold;")

    def _update_buttons(self) -> None:
        s = self.state
        has = self.job_id is not None
        self.cancel_button.setVisible(has and s in ("running", "queued"))
        ckpt = self.info is not None and self.info.checkpoint is not None
        if s == "queued":
            self.start_button.setText("Start now")
            self.start_button.setToolTip("Start this job now (if no other job is running)")
        elif ckpt:
            self.start_button.setText("Resume")
            self.start_button.setToolTip("Continue from the last checkpoint")
        else:
            self.start_button.setText("Run again")
            self.start_button.setToolTip("Start this job again from the beginning")
        self.start_button.setVisible(has and s in ("queued", "failed", "cancelled"))
        self.remove_button.setVisible(has and s not in ("running",))
        self.folder_button.setVisible(has)
        finished = s == "finished" and self.kind == "train"  # a search makes no model, pre-training a backbone
        self.use_row.setVisible(finished)
        self.use_status.setVisible(bool(self.use_status.text()))
        self.register_button.setEnabled(finished and not self.registered)
        self.register_button.setText("Registered" if self.registered else "Register model")
        self.export_button.setEnabled(finished and (self._export is None
                                                    or self._export.state() == QProcess.ProcessState.NotRunning))
        for w in (self.name_edit, self.version_edit):
            w.setEnabled(finished and not self.registered)

    def _maybe_show_crash(self) -> None:
        """A job that failed without a ``failed`` event (crash, kill): show why, and the trainer's output."""
        if self.state != "failed" or self.progress.state == "failed" or self._crash_shown or self.folder is None:
            return
        self._crash_shown = True
        reason = self.info.reason if self.info is not None else None
        if reason:
            self.log.add_line("error", f"FAILED: {reason}")
        folder = str(self.folder)
        self.workers.start(_trainer_log_tail, folder,
                           on_return=lambda text: folder == str(self.folder) and text.strip() and self.log.add_line(
                               "debug", "last output of the trainer process (trainer.log):\n" + text.strip()))
        self._update_progress()

    # ------------------------------------------------------------------ evaluation

    def _maybe_load_report(self, force: bool = False) -> None:
        if self.state != "finished" or self.folder is None or self._loading_report or self.kind != "train":
            return
        if self.report is not None and not force:
            return
        self._loading_report = True
        job_id, folder = self.job_id, str(self.folder)
        name, version = self.name_edit.text().strip(), self.version_edit.text().strip()

        def done(result) -> None:
            self._loading_report = False
            if job_id != self.job_id:
                return
            report, registered = result
            self.registered = self.registered or registered
            if report is None:
                self.evaluation.clear("This job wrote no evaluation report.")
            else:
                self.report = report
                self.evaluation.set_report(report)
                self.side.setCurrentWidget(self.eval_scroll)
            if self.registered:
                self._use_text(f"{name} {version} is registered: choose it in the AI panel.")
            elif report is not None and report.get("below_chance"):
                self._use_text("Warning: this model is no better than chance (see the evaluation); "
                               "registering it asks for a confirmation.")
                self.use_status.setStyleSheet(f"color: {theme.ERROR};")
            self._update_buttons()

        def failed(exc) -> None:
            self._loading_report = False
            if job_id == self.job_id:
                self.evaluation.clear(f"Cannot read the evaluation report: {exc}")

        self.workers.start(_load_report, folder, name, version, on_return=done, on_error=failed)

    # ------------------------------------------------------------------ using the model

    def register_model(self, replace: bool = False, confirmed: bool = False) -> None:
        """Install the finished model in the registry (pool thread).

        A model whose validation score was at or below chance (``below_chance`` in its
        report) is registered only after the user confirms it in :attr:`confirm_box`.
        """
        if self.state != "finished" or self.folder is None:
            return
        warning = (self.report or {}).get("below_chance")
        if warning and not confirmed:
            self._confirm_register(warning, replace)
            return
        name, version = self.name_edit.text().strip(), self.version_edit.text().strip()
        job_id = self.job_id
        self.register_button.setEnabled(False)
        self.use_status.setStyleSheet("")
        self._use_text("Registering: checking that the model loads and runs…")

        def done(entry) -> None:
            if job_id != self.job_id:
                return
            self.registered = True
            self._use_text(f"Registered as {entry.name} {entry.version}. It is in the AI panel's model "
                                    "list now: open an image in the Viewer tab and choose it there.")
            self._update_buttons()
            self.modelRegistered.emit(entry)

        def failed(exc) -> None:
            if job_id != self.job_id:
                return
            text = str(exc)
            if "already installed" in text:  # the registry speaks CLI ("--replace"); say it in GUI terms
                text = (f"a model called {name or 'this'} with version {version or 'this'} is already installed. "
                        "Change the version and register again.")
            self._use_text(f"Not registered: {text}")
            self.use_status.setStyleSheet(f"color: {theme.ERROR};")
            self._update_buttons()

        self.workers.start(_register, str(self.folder), name, version, replace, bool(warning),
                           on_return=done, on_error=failed)

    def _confirm_register(self, warning: str, replace: bool) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Register a model no better than chance?",
                          f"{warning[0].upper()}{warning[1:]}.\n\nRegistering puts it in the AI panel's model "
                          "list, where it could be used on patients' images.", parent=self)
        box.setObjectName("belowChanceConfirm")
        register = box.addButton("Register anyway", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.addButton("Don't register", QMessageBox.ButtonRole.RejectRole))
        box.buttonClicked.connect(lambda b: b is register and self.register_model(replace, confirmed=True))
        self.confirm_box = box
        box.open()

    def _choose_export(self) -> None:
        name = self.name_edit.text().strip() or "model"
        start = str(Path.home() / f"{name}-{self.version_edit.text().strip() or 'model'}.onnx")
        out, _ = QFileDialog.getSaveFileName(self, "Export ONNX", start, "ONNX models (*.onnx)")
        if out:
            if not out.lower().endswith(".onnx"):
                out += ".onnx"
            self.export_onnx(out)

    def export_onnx(self, out: str) -> QProcess | None:
        """``medview models export-onnx`` in a subprocess, on this job's model folder.

        The subprocess sees a registry made of this job's folder only (shipped models
        dir = the job folder, whose ``model/`` is the trained model; an empty user
        dir), so it exports exactly this job's model whether or not it is registered.
        """
        if self.state != "finished" or self.folder is None or self.info is None:
            return None
        from medview.inference.manifest import read_manifest

        try:
            manifest = read_manifest(self.folder / "model")
        except Exception as err:  # noqa: BLE001 - shown to the user
            self._use_text(f"Cannot export: {err}")
            return None
        self._export_tmp = tempfile.TemporaryDirectory(prefix="medview-export-")
        env = QProcessEnvironment.systemEnvironment()
        env.insert("MEDVIEW_MODELS_DIR", str(self.folder))
        env.insert("MEDVIEW_USER_DIR", self._export_tmp.name)
        env.insert("PYTHONUNBUFFERED", "1")
        proc = QProcess(self)
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        cmd = export_command(manifest.name, manifest.version, out)
        if not getattr(sys, "frozen", False):
            proc.setWorkingDirectory(str(Path(__file__).resolve().parents[3]))
        job_id = self.job_id

        def finished(code, _status) -> None:
            text = bytes(proc.readAll()).decode("utf-8", "replace").strip()
            if job_id == self.job_id:
                if code == 0:
                    self.use_status.setStyleSheet("")
                    self._use_text(f"Exported {out}")
                else:
                    last = text.splitlines()[-1] if text else f"exit status {code}"
                    self.use_status.setStyleSheet(f"color: {theme.ERROR};")
                    self._use_text(f"ONNX export failed: {last}")
            if self._export_tmp is not None:
                self._export_tmp.cleanup()
                self._export_tmp = None
            self._update_buttons()

        proc.finished.connect(finished)
        self._export = proc
        self.use_status.setStyleSheet("")
        self._use_text(f"Exporting to {out}…")
        proc.start(cmd[0], cmd[1:])
        self._update_buttons()
        return proc
