"""Choosing a model, importing one, and saying plainly when there is none or one is broken."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from medview.qt import theme
from medview.qt.widgets.needs_trainer import disable_without_trainer, missing_note

TASK_WORD = {"classification": "Classifier", "segmentation": "Segmentation"}


def entry_text(entry) -> str:
    m = entry.manifest
    return f"{m.name} {m.version}"


def entry_summary(entry) -> str:
    """``Classifier: normal, abnormal (user model)``."""
    m = entry.manifest
    classes = [c for c in m.classes if not (m.task == "segmentation"
                                            and m.activation == "softmax" and c == m.classes[0])]
    return f"{TASK_WORD.get(m.task, m.task)}: {', '.join(classes)} ({entry.source} model)"


def entry_tooltip(entry) -> str:
    m = entry.manifest
    card = m.card
    lines = [f"<b>{html.escape(m.name)}</b> {html.escape(m.version)} ({html.escape(m.task)}, "
             f"{entry.source})",
             "Classes: " + html.escape(", ".join(m.classes)),
             f"Input: {m.input.size[0]}×{m.input.size[1]}, {m.input.channels} channel(s)"]
    if card.intended_use:
        lines.append("Intended use: " + html.escape(card.intended_use))
    if card.training_data:
        lines.append("Trained on: " + html.escape(card.training_data))
    if card.limitations:
        lines.append("Limitations: " + html.escape(card.limitations))
    lines.append(f"Folder: {html.escape(str(entry.path))}")
    return "<br>".join(lines)


class ElidedLabel(QLabel):
    """One line, cut with … to the width; the whole text in the tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self._full = " ".join(str(text).split())
        self.setToolTip(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        fm = self.fontMetrics()
        self.setText(fm.elidedText(self._full, Qt.TextElideMode.ElideRight,
                                   max(40, self.width())))


class ModelPicker(QWidget):
    """A model combo box with an *Import* button; an import offer when nothing is installed.

    Signals
    -------
    modelChanged(object)
        The chosen registry entry (None when there is none), however it changed.
    modelActivated(object)
        The user picked an entry in the combo box.
    importFolderRequested(), importFileRequested()
        The user wants to import a model folder / a weights file.
    """

    modelChanged = Signal(object)
    modelActivated = Signal(object)
    importFolderRequested = Signal()
    importFileRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: list = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)

        row = QHBoxLayout()
        row.setSpacing(4)
        self.combo = QComboBox(self)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setToolTip("The model that analyses the image")
        self.import_button = QToolButton(self)
        self.import_button.setText("Import…")
        self.import_button.setToolTip("Install a model: a folder with model.json and "
                                      "weights.safetensors, or a weights file")
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.import_button)
        self.import_folder_action = menu.addAction("Model folder…")
        self.import_file_action = menu.addAction("Weights file (.safetensors, .pth)…")
        self.import_button.setMenu(menu)
        row.addWidget(self.combo, 1)
        row.addWidget(self.import_button)
        lay.addLayout(row)
        self.info_label = ElidedLabel(self)
        self.info_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        lay.addWidget(self.info_label)

        # no model installed: say so and offer the import
        self.empty_box = QWidget(self)
        eb = QVBoxLayout(self.empty_box)
        eb.setContentsMargins(0, 0, 0, 0)
        self.empty_label = QLabel(
            "<b>No AI model is installed.</b><br>Import a model folder (model.json + "
            "weights.safetensors) or a weights file with its model.json.", self.empty_box)
        self.empty_label.setWordWrap(True)
        self.empty_label.setObjectName("AiNoModel")
        self.empty_import_button = QPushButton("Import a model…", self.empty_box)
        self.empty_import_button.setMenu(None)
        eb.addWidget(self.empty_label)
        eb.addWidget(self.empty_import_button, 0, Qt.AlignmentFlag.AlignLeft)
        # importing makes the model's graph with torch: the default bundle needs the add-on
        if disable_without_trainer(self.import_button, self.empty_import_button):
            eb.addWidget(missing_note(self.empty_box))
        lay.addWidget(self.empty_box)

        # broken model folders, one line each (model and field named)
        self.problem_label = ElidedLabel(self)
        self.problem_label.setStyleSheet(f"color: {theme.WARNING};")
        self.problem_label.setObjectName("AiModelProblem")
        lay.addWidget(self.problem_label)
        self.problem_label.hide()

        self.combo.currentIndexChanged.connect(lambda _i: self._changed())
        self.combo.activated.connect(lambda _i: self.modelActivated.emit(self.current()))
        self.import_button.clicked.connect(self.importFolderRequested)
        self.import_folder_action.triggered.connect(
            lambda _=False: self.importFolderRequested.emit())
        self.import_file_action.triggered.connect(
            lambda _=False: self.importFileRequested.emit())
        self.empty_import_button.clicked.connect(self.importFolderRequested)
        self.set_entries([], [])

    # ------------------------------------------------------------------ content

    def _changed(self) -> None:
        self._describe()
        self.modelChanged.emit(self.current())

    def _describe(self) -> None:
        e = self.current()
        self.info_label.set_full_text(entry_summary(e) if e is not None else "")
        self.info_label.setVisible(e is not None)

    @property
    def has_models(self) -> bool:
        return bool(self._entries)

    def current(self):
        i = self.combo.currentIndex()
        return self._entries[i] if 0 <= i < len(self._entries) else None

    def set_entries(self, available: list, broken: list, hint: str = "") -> None:
        """Fill the list; the chosen model stays chosen if it is still there.

        ``available`` are usable registry entries, ``broken`` the folders that are
        not (each shown as one line naming the model and the field); ``hint`` is
        the registry's full no-model message (where it looked), for the tooltip.
        """
        old = self.current()
        old_id = (old.name, old.version) if old is not None else None
        self._entries = sorted(available, key=lambda e: (e.name, e.version))
        self.combo.blockSignals(True)
        self.combo.clear()
        for i, e in enumerate(self._entries):
            self.combo.addItem(entry_text(e))
            self.combo.setItemData(i, entry_tooltip(e), Qt.ItemDataRole.ToolTipRole)
        index = next((i for i, e in enumerate(self._entries)
                      if (e.name, e.version) == old_id), 0 if self._entries else -1)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._describe()
        has = bool(self._entries)
        self.combo.setVisible(has)
        self.import_button.setVisible(has)
        self.empty_box.setVisible(not has)
        self.empty_label.setToolTip(hint)
        problems = [e.error for e in broken if e.error]
        self.set_problem("; ".join(problems) if problems else "")
        self.modelChanged.emit(self.current())  # new entries: the manifest may have changed

    def select(self, name: str, version: str | None = None) -> bool:
        for i, e in enumerate(self._entries):
            if e.name == name and (version is None or e.version == version):
                self.combo.setCurrentIndex(i)
                return True
        return False

    def set_problem(self, text: str) -> None:
        """A one-line warning under the list (empty hides it)."""
        self.problem_label.set_full_text(text)
        self.problem_label.setVisible(bool(text))
