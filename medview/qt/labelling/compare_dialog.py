"""The retrained model beside the model in use, on the project's held-out cases.

:class:`CompareDialog` shows a :class:`~medview.labels.compare.Comparison`: one row per
figure (AUC and accuracy, or Dice) with each model's value and 95 % interval and the
difference, then the cases where the two disagree (double-click one to show it). Its
**Register and Use** button registers the retrained model and makes it the project's
model in use; closing it leaves everything as it was.

:class:`RetrainComparison` is the Labels menu's **Compare Retrained Model…**: it picks a
finished training job of the project, runs ``medview labels compare`` as a subprocess (a
training run's model gets its ONNX graph there, which loads torch; the window never does)
and opens the dialog on its JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView,
                               QInputDialog, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from medview.app.internal_errors import user_reason
from medview.core.imports import load

if TYPE_CHECKING:  # it reads DICOM headers: the window starts without pydicom
    from medview.labels.compare import Comparison

__all__ = ["CompareDialog", "RetrainComparison", "project_runs"]


class CompareDialog(QDialog):
    """A comparison of model A (in use) and model B (retrained).

    Parameters
    ----------
    comparison : Comparison
    can_register : bool
        Offer **Register and Use** (B is a training run not registered yet).

    Signals
    -------
    showCase(str, int)
        The path and frame (from 0) of a case to bring on screen.
    registerRequested()
        The user chose to register model B and use it for the project.
    """

    showCase = Signal(str, int)
    registerRequested = Signal()

    def __init__(self, comparison: Comparison, can_register: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        figure = load("medview.labels.compare").figure
        self.comparison = comparison
        a, b = comparison.models
        self.setWindowTitle("Retrained Model vs Model in Use")
        self.header = QLabel(f"<b>A</b> (in use): {a}<br><b>B</b> (retrained): {b}<br>"
                             f"{len(comparison.cases)} held-out labelled cases of "
                             f"{len({c.patient for c in comparison.cases})} patients, never "
                             "trained on; 95 % intervals from a bootstrap over patients.")
        self.header.setWordWrap(True)
        self.figures = _table(["A", "B", "B − A"], len(comparison.metrics))
        for row, m in enumerate(comparison.metrics):
            self.figures.setVerticalHeaderItem(row, QTableWidgetItem(m.name))
            cells = [figure(v, ci) for v, ci in zip(m.values, m.intervals)]
            cells.append(figure(m.difference, m.difference_interval, signed=True))
            for col, text in enumerate(cells):
                self.figures.setItem(row, col, QTableWidgetItem(text))
        self.figures.setMaximumHeight(40 + 30 * len(comparison.metrics))
        found = comparison.disagreements()
        score = "p" if comparison.task == "classification" else "Dice"
        self.cases_label = QLabel(f"{len(found)} cases where they disagree"
                                  + (" (double-click to show one):" if found else "."))
        self.cases = _table(["Image", "Truth", f"A ({score})", f"B ({score})"], len(found))
        self.cases.verticalHeader().hide()
        for row, c in enumerate(found):
            cells = [c.image.describe(), c.truth or "–"] + [
                f"{ans or '–'} ({s:.2f})" for ans, s in zip(c.answers, c.scores)]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, (str(c.image.path), c.image.frame))
                self.cases.setItem(row, col, item)
        self.cases.cellDoubleClicked.connect(self._show_case)
        self.notes = QLabel("<br>".join(comparison.notes))
        self.notes.setWordWrap(True)
        self.register = QPushButton("Register B and Use It")
        self.register.setToolTip("Install the retrained model and make it the project's model "
                                 "in use")
        self.register.setVisible(can_register)
        self.register.clicked.connect(self.registerRequested)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.register)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        for w in (self.header, self.figures, self.cases_label, self.cases, self.notes):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self.resize(760, 520)

    def _show_case(self, row: int, _col: int) -> None:
        path, frame = self.cases.item(row, 0).data(Qt.ItemDataRole.UserRole)
        self.showCase.emit(path, frame)


def _table(columns: list[str], rows: int) -> QTableWidget:
    table = QTableWidget(rows, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def project_runs(project, jobs: list) -> list:
    """Finished training jobs (``trainer.jobs.JobInfo``) whose data set is in the project's
    label folder (its exports), newest first."""
    root = project.label_dir.resolve()
    found = []
    for info in jobs:
        dataset = info.job.get("dataset")
        dataset = dataset.get("path") if isinstance(dataset, dict) else dataset
        if info.state != "finished" or not isinstance(dataset, str):
            continue
        if root in Path(dataset).resolve().parents and (info.folder / "model").is_dir():
            found.append(info)
    return sorted(found, key=lambda i: str(i.status.get("ended", "")), reverse=True)


class RetrainComparison(QObject):
    """**Compare Retrained Model…**: choose a run, compare in a subprocess, show the dialog.

    Parameters
    ----------
    controller : LabellingController
    useful : UsefulCases
        Knows (and asks for) the project's model in use.
    """

    def __init__(self, controller, useful) -> None:
        super().__init__(controller)
        self.controller = controller
        self.useful = useful
        self.model = controller.model
        self.window = controller.window
        self.dialog: CompareDialog | None = None
        self.run_dir: Path | None = None
        self.action = controller._action(
            "&Compare Retrained Model…", self.choose_run,
            tip="Compare a model trained on the project's labels with the model in use, on "
                "the project's held-out cases, before registering it")
        self.model.events.project.connect(
            lambda: self.action.setEnabled(self.model.labeller is not None))
        self.action.setEnabled(False)

    def choose_run(self) -> None:
        labeller = self.model.labeller
        if labeller is None:
            return
        if not self.useful.model_in_use() and not self.useful.choose_model():
            return
        runs = project_runs(labeller.project, load("trainer.jobs").list_jobs())
        other = "Another training run folder…"
        items = [f"{i.id} ({i.status.get('ended', '')[:16]})" for i in runs] + [other]
        choice, ok = QInputDialog.getItem(self.window, "Compare Retrained Model",
                                          "The training job whose model to compare:",
                                          items, 0, False)
        if not ok:
            return
        if choice == other:
            folder = QFileDialog.getExistingDirectory(self.window, "Training Run Folder",
                                                      str(labeller.project.label_dir))
            if not folder:
                return
            run = Path(folder)
        else:
            run = runs[items.index(choice)].folder
        self.compare(run)

    def compare(self, run: Path) -> None:
        """Compare the model of training run ``run`` with the project's model in use."""
        labeller = self.model.labeller
        if labeller is None or not self.model.save_pending():
            return
        self.run_dir = Path(run)
        self.model.events.message.emit(f"Comparing {self.run_dir.name} with "
                                       f"{labeller.project.model} on the held-out cases…")
        self.window.workers.start(_compare, str(labeller.project.path), str(self.run_dir),
                                  on_return=self._compared,
                                  on_error=lambda exc: self.model.events.message.emit(
                                      user_reason(exc, f"comparing {self.run_dir}")))

    def _compared(self, comparison: Comparison) -> None:
        figure = load("medview.labels.compare").figure
        self.model.events.message.emit(
            f"{comparison.models[1]} vs {comparison.models[0]}: " + "; ".join(
                f"{m.name} {figure(m.values[1], None)} vs {figure(m.values[0], None)}"
                for m in comparison.metrics))
        self.dialog = CompareDialog(comparison, True, self.window)
        self.dialog.showCase.connect(self._show_case)
        self.dialog.registerRequested.connect(self.register)
        self.dialog.show()

    def _show_case(self, path: str, frame: int) -> None:
        labeller = self.model.labeller
        if labeller is not None:
            self.controller.go_to(labeller.images.find(path, frame))

    def register(self) -> None:
        """Register the compared run's model (a subprocess) and make it the model in use."""
        run = self.run_dir
        self.dialog.register.setEnabled(False)
        self.model.events.message.emit(f"Registering the model of {run.name}…")

        def failed(exc):
            self.dialog.register.setEnabled(True)
            self.model.events.message.emit(user_reason(exc, f"registering {run}"))

        self.window.workers.start(_register, str(run), on_return=self._registered,
                                  on_error=failed)

    def _registered(self, entry) -> None:
        if self.model.labeller is not None:
            self.useful.set_model(f"{entry.name}/{entry.version}")
        analysis = getattr(self.window, "analysis", None)  # the AI panel lists it at once
        if analysis is not None:
            analysis.refresh_models()
        if self.dialog is not None:
            self.dialog.register.setText("Registered and in use")


def _compare(project: str, run: str) -> Comparison:
    """Pool thread: ``medview labels compare PROJECT --model RUN --json`` (A: the model in use)."""
    from medview.app import torch_commands

    out = torch_commands.run_medview("labels", "compare", project, "--model", run, "--json")
    return load("medview.labels.compare").Comparison.from_json(json.loads(out))


def _register(run: str):
    from medview.app import torch_commands

    return torch_commands.register_model(run)
