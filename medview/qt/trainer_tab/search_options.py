"""Step 4 of a new job: train the model now, or first find the best settings.

"Find the best settings" queues a hyper-parameter search (:mod:`trainer.search.run`) of the
job the form describes: a few short trainings per combination of learning rate, batch
size and optimizer, each validated on patients it did not train on (k-fold
cross-validation). The explanation under the choice says what that costs, in the
unit a technician already knows from training: epochs over the whole data set.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QHBoxLayout, QLabel, QRadioButton, QSpinBox, QVBoxLayout,
                               QWidget)

from medview.core.imports import load
from medview.qt import theme

__all__ = ["SearchOptions", "describe_search"]


def describe_search(spec, metric: str, epochs: int | None) -> str:
    """One paragraph: what a search of ``spec`` does and costs (``epochs``: the training job's)."""
    training_epochs = load("trainer.search_spec").training_epochs

    work = training_epochs(spec)
    compared = f", about {work / epochs:.1f}× the training itself ({epochs} epochs)" if epochs else ""
    return (f"Tries {spec.trials} combinations of learning rate, batch size and optimizer. Each is trained "
            f"{spec.folds} times for {spec.epochs} epoch{'s' * (spec.epochs != 1)}, each time checked on a "
            f"different 1/{spec.folds} of the patients, and scored by its mean validation {metric}. "
            f"In all {work} epochs of training over all the images{compared}. When it has finished, "
            "one click trains the model with the best settings.")


class SearchOptions(QWidget):
    """The choice between training and searching, and the search's size.

    Signals
    -------
    changed()
        The choice or a number changed; :attr:`error` says whether the search can run.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.n_groups: int | None = None  # patients (images without a patient ID count alone)
        self.metric = "accuracy"
        self.train_epochs: int | None = None
        self.error: str | None = None
        self._build()

    def _build(self) -> None:
        SearchSpec = load("trainer.search_spec").SearchSpec

        d = SearchSpec()
        self.train_radio = QRadioButton("Train the model")
        self.search_radio = QRadioButton("Find the best settings first")
        self.search_radio.setToolTip("A hyper-parameter search: learning rate, batch size and optimizer")
        group = QButtonGroup(self)
        group.addButton(self.train_radio)
        group.addButton(self.search_radio)
        self.train_radio.setChecked(True)
        choice = QHBoxLayout()
        choice.addWidget(QLabel("<b>4. What to run</b>"))
        choice.addWidget(self.train_radio)
        choice.addWidget(self.search_radio)
        choice.addStretch(1)

        self.trials = self._spin(d.trials, 1, 200, "Combinations of settings to try")
        self.folds = self._spin(d.folds, 2, 10, "Parts the patients are divided into; each part is validated once")
        self.epochs = self._spin(d.epochs, 1, 100, "Epochs of each short training")
        self.numbers = QWidget()
        row = QHBoxLayout(self.numbers)
        row.setContentsMargins(0, 0, 0, 0)
        for label, spin in (("Trials", self.trials), ("Folds", self.folds), ("Epochs per training", self.epochs)):
            row.addWidget(QLabel(label))
            row.addWidget(spin)
        row.addStretch(1)
        self.explain = theme.note_label()
        self.error_label = theme.note_label(colour=theme.ERROR)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(choice)
        lay.addWidget(self.numbers)
        lay.addWidget(self.explain)
        lay.addWidget(self.error_label)
        self.search_radio.toggled.connect(self._update)
        self._update()

    def _spin(self, value: int, low: int, high: int, tip: str) -> QSpinBox:
        w = QSpinBox()
        w.setRange(low, high)
        w.setValue(value)
        w.setToolTip(tip)
        w.valueChanged.connect(self._update)
        return w

    # ------------------------------------------------------------------ inputs

    def set_dataset(self, dataset) -> None:
        """The discovered data set (None: none yet): how many folds its patients allow."""
        s = dataset.summary if dataset is not None else None
        self.n_groups = s.n_patients + s.n_without_patient_id if s is not None else None
        self.metric = "Dice" if dataset is not None and dataset.task == "segmentation" else "accuracy"
        self._update()

    def set_train_epochs(self, epochs: int | None) -> None:
        """The training job's epochs (the estimate compares the search with them)."""
        if epochs != self.train_epochs:
            self.train_epochs = epochs
            self._update()

    def set_search(self, on: bool) -> None:
        (self.search_radio if on else self.train_radio).setChecked(True)

    # ------------------------------------------------------------------ output

    @property
    def is_search(self) -> bool:
        return self.search_radio.isChecked()

    def spec(self):
        """The :class:`trainer.search_spec.SearchSpec` chosen, or None when training is chosen."""
        SearchSpec = load("trainer.search_spec").SearchSpec

        if not self.is_search:
            return None
        return SearchSpec(trials=self.trials.value(), folds=self.folds.value(), epochs=self.epochs.value())

    def _update(self, *_args) -> None:
        spec = self.spec()
        self.numbers.setVisible(spec is not None)
        self.explain.setVisible(spec is not None)
        self.error = None
        if spec is not None:
            self.explain.setText(describe_search(spec, self.metric, self.train_epochs))
            if self.n_groups is not None and spec.folds > self.n_groups:
                self.error = (f"{spec.folds} folds need at least {spec.folds} patients; this data set has "
                              f"{self.n_groups}. Choose fewer folds, or add cases.")
        self.error_label.setText(self.error or "")
        self.error_label.setVisible(self.error is not None)
        self.changed.emit()
