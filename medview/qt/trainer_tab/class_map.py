"""Ask which output of a base model each class of the data set starts from.

Fine-tuning matches classes by name (``trainer/start_weights.py``). When the names
differ — a base model of ``lesion, normal`` and a data set of ``clear, lesion`` — the
trainer will not guess: the job either maps them (``model.class_map``) or the output
layer starts fresh. This dialog puts that question to the user before the job starts.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QVBoxLayout, QWidget

from medview.qt import theme

__all__ = ["ClassMapDialog", "FRESH"]

#: The combo item meaning "this output starts from random weights".
FRESH = "(start fresh: learn it from scratch)"


class ClassMapDialog(QDialog):
    """One row per class of the data set, each choosing a base model's output (or fresh).

    Parameters
    ----------
    base_name : str
        The base model, as shown to the user.
    base_classes : list of str
        Its outputs.
    classes : list of str
        The outputs of the network to be trained (the data set's classes).
    """

    def __init__(self, base_name: str, base_classes: list[str], classes: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Match the classes")
        self.setObjectName("classMapDialog")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.addWidget(theme.note_label(
            f"<b>{base_name}</b> was trained on <b>{', '.join(base_classes)}</b>; your images are "
            f"labelled <b>{', '.join(classes)}</b>. Its outputs are never matched by position. "
            "Choose which output each of your classes starts from, or start it fresh.",
            colour=theme.WARNING))
        form = QFormLayout()
        self.combos: dict[str, QComboBox] = {}
        for c in classes:
            combo = QComboBox()
            combo.addItems([FRESH] + list(base_classes))
            combo.setCurrentText(c if c in base_classes else FRESH)
            combo.setAccessibleName(f"base output for {c}")
            form.addRow(f"{c}  ←", combo)
            self.combos[c] = combo
        layout.addLayout(form)
        layout.addWidget(theme.note_label("Saved in the job as model.class_map (trainer/JOBS.md)."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start with this mapping")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)

    def class_map(self) -> dict[str, str | None]:
        """The job's ``model.class_map``: data set class → base output (None: fresh)."""
        return {c: (None if w.currentText() == FRESH else w.currentText()) for c, w in self.combos.items()}
