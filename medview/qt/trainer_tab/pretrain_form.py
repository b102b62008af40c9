"""A new pre-training job: teach a network's early layers what the clinic's images look
like, from unlabelled studies, so that later training jobs need fewer labelled cases.

The page writes the job ``trainer/JOBS.md`` documents for ``"task": "pretrain"``
(folders of unlabelled DICOM / PNG images, an architecture, a time budget, a name) and
checks it with the trainer's own validator as it changes. The folders are searched in a
pool thread with the trainer's own finder (:func:`trainer.pretrain.archive.find_images`),
so the count shown is what the job will learn from. Its result is a *backbone*
that the training form then offers under "Start from".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QPushButton, QVBoxLayout, QWidget)

from medview.core.imports import load
from medview.qt import theme
from medview.qt.settings import value_or_default
from medview.qt.trainer_tab.time_budget import OVERNIGHT_MINUTES, TimeBudgetField

__all__ = ["PretrainForm", "pretrain_job", "DEFAULT_ARCHITECTURE", "DEFAULT_MINUTES"]

DEFAULT_ARCHITECTURE = "resnet18"
DEFAULT_MINUTES = 60

INTRO = (
    "<b>Pre-train a backbone on your own images.</b> Point it at folders of <i>unlabelled</i> studies "
    "(DICOM, PNG or JPEG; sub-folders are searched too), for example a copy of last year's archive. "
    "The network learns what your images look like without any labels; classification and segmentation "
    "jobs can then <b>start from</b> it and learn from far fewer labelled cases. "
    "It runs in the background, can be cancelled and resumed, and suits a night when the PC is free."
)

TIPS = {
    "folders": "Folders of unlabelled images: DICOM, PNG or JPEG, searched with their sub-folders. "
               "More images (thousands) make a better backbone; labels are not needed.",
    "architecture": "The network that learns. A training job of the same network can start from the "
                    "result. resnet18 is quick on a PC without a graphics card.",
    "budget": "How long pre-training may run. It stops when the time is up and keeps what it has learnt; "
              "more time usually gives a better backbone. Overnight suits a PC that is free at night.",
    "name": "The name training jobs offer it under (Start from). Lower-case letters, digits, - _ .",
}


def _find(worker, folders: list[str]):
    """Pool thread: (images, studies, files skipped) under ``folders``."""
    find_images = load("trainer.pretrain.archive").find_images

    found = find_images(folders, cancelled=worker.is_cancelled)
    return len(found.images), len(set(found.studies)), len(found.skipped)


def found_text(images: int, studies: int, skipped: int) -> str:
    """``"2,134 images from 311 studies (12 files skipped)."``"""
    if not images:
        return "No readable images in these folders" + (f" ({skipped:,} files skipped)." if skipped else ".")
    text = f"{images:,} image{'s' if images != 1 else ''} from {studies:,} stud{'ies' if studies != 1 else 'y'}"
    return text + (f" ({skipped:,} file{'s' if skipped != 1 else ''} skipped)." if skipped else ".")


def pretrain_job(folders: list[str], architecture: str, minutes: int, name: str = "") -> dict:
    """The pre-training job (``trainer/JOBS.md``): one folder as a string, several as a list;
    without a name the trainer names it after the first folder."""
    job = {"task": "pretrain", "dataset": folders[0] if len(folders) == 1 else list(folders),
           "model": {"architecture": architecture}, "time_budget_minutes": int(minutes)}
    return {**job, "name": name} if name else job


class PretrainForm(QWidget):
    """Folders, architecture, time budget and name of a new pre-training job.

    Parameters
    ----------
    architectures : list of str
        What may be pre-trained (:data:`DEFAULT_ARCHITECTURE` is chosen when listed).
    workers : medview.qt.workers.Workers
        Where the folders are searched.
    settings : Settings, optional
        Remembers the last folder chosen.

    Signals
    -------
    changed()
        Anything changed (debounced); :attr:`error` says whether the job is valid.
    """

    changed = Signal()

    def __init__(self, architectures: list[str], workers, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = load("trainer.config")
        self.workers = workers
        self.settings = settings
        self.error: str | None = "add a folder of images first"
        self.found: tuple[int, int, int] | None = None  # (images, studies, skipped) of the folders listed
        self._finder = None
        self._timer = QTimer(self, singleShot=True, interval=120)
        self._timer.timeout.connect(self._validate)
        self._build(architectures)
        self._validate()

    def _build(self, architectures: list[str]) -> None:
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.folder_list = QListWidget()
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.folder_list.setToolTip(TIPS["folders"])
        self.folder_list.setMaximumHeight(110)
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip(TIPS["folders"])
        self.add_button.clicked.connect(self._choose_folder)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Leave the selected folders out")
        self.remove_button.clicked.connect(self._remove_selected)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        folders = QHBoxLayout()
        folders.addWidget(self.folder_list, 1)
        folders.addLayout(buttons)
        self.found_label = theme.note_label()
        self.found_label.setObjectName("found")

        self.arch_combo = QComboBox()
        self.arch_combo.addItems(architectures)
        self.arch_combo.setCurrentText(DEFAULT_ARCHITECTURE)
        self.arch_combo.setToolTip(TIPS["architecture"])
        self.budget = TimeBudgetField(choices=(30, 120, OVERNIGHT_MINUTES), optional=False, default=DEFAULT_MINUTES)
        self.budget.setToolTip(TIPS["budget"])
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip(TIPS["name"])
        form = QFormLayout()
        form.addRow("Network", self.arch_combo)
        form.addRow("Time budget", self.budget)
        form.addRow("Name", self.name_edit)
        self.error_label = theme.note_label(colour=theme.ERROR)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(intro)
        lay.addWidget(QLabel("<b>1. Unlabelled images</b>"))
        lay.addLayout(folders)
        lay.addWidget(self.found_label)
        lay.addWidget(QLabel("<b>2. Network and time</b>"))
        lay.addLayout(form)
        lay.addWidget(self.error_label)
        self.arch_combo.currentIndexChanged.connect(self._changed)
        self.budget.changed.connect(self._changed)
        self.name_edit.textChanged.connect(self._changed)

    # ------------------------------------------------------------------ folders

    def folders(self) -> list[str]:
        return [self.folder_list.item(i).text() for i in range(self.folder_list.count())]

    def add_folder(self, folder: str | Path) -> None:
        """Add a folder (once)."""
        text = str(Path(folder))
        if text not in self.folders():
            self.folder_list.addItem(text)
            self._folders_changed()

    def _choose_folder(self) -> None:
        start = value_or_default(self.settings, "trainer/last_unlabelled")
        folder = QFileDialog.getExistingDirectory(self, "Folder of unlabelled images", start or str(Path.home()))
        if folder:
            if self.settings is not None:
                self.settings.set_value("trainer/last_unlabelled", folder)
            self.add_folder(folder)

    def _remove_selected(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))
        self._folders_changed()

    def _folders_changed(self) -> None:
        """Search the folders again (the previous search is cancelled)."""
        if self._finder is not None:
            self._finder.cancel()
        self.found, self._finder = None, None
        folders = self.folders()
        self._changed()
        if not folders or not all(Path(f).is_dir() for f in folders):
            self.found_label.setText("")
            return
        self.found_label.setText("Looking for images in these folders…")

        def done(result) -> None:
            if folders == self.folders():
                self.found = result
                self.found_label.setText(found_text(*result))
                self._changed()

        def failed(exc) -> None:
            if folders == self.folders():
                self.found_label.setText(f"Cannot search the folders: {exc}")

        self._finder = self.workers.start(_find, folders, pass_worker=True, on_return=done, on_error=failed)

    # ------------------------------------------------------------------ the job

    def job_dict(self) -> dict:
        """The job (may be invalid: see :attr:`error`)."""
        return pretrain_job(self.folders(), self.arch_combo.currentText(), self.budget.minutes(),
                            self.name_edit.text().strip())

    def _changed(self, *_args) -> None:
        self._timer.start()

    def validate_now(self) -> str | None:
        self._timer.stop()
        self._validate()
        return self.error

    def _validate(self) -> None:
        folders = self.folders()
        missing = [f for f in folders if not Path(f).is_dir()]
        if not folders:
            self.error = "add a folder of images first"
        elif missing:
            self.error = f"{missing[0]}: folder not found"
        elif self.found is not None and self.found[0] < 2:
            self.error = "these folders hold fewer than 2 readable images: pre-training compares images"
        else:
            try:
                job = self._config.parse_job(self.job_dict())
                self.error = None
                self.name_edit.setPlaceholderText(job.name)  # the trainer's default name
            except ValueError as err:
                self.error = str(err)
        self.error_label.setText(self.error if folders else "")
        self.error_label.setVisible(bool(self.error_label.text()))
        self.changed.emit()
