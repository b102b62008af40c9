"""The finished trials of a hyper-parameter search as a table; the best row stands out."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from medview.qt import theme
from medview.app.job_progress import format_duration

__all__ = ["TrialsModel", "OPTIMIZER_NAMES"]

#: How optimizers are named for a person.
OPTIMIZER_NAMES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD (momentum)"}
_BEST_BG = QColor(theme.ROI)
_BEST_BG.setAlpha(60)


def _score(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


class TrialsModel(QAbstractTableModel):
    """Rows: :class:`trainer.search.results.Trial` in the order they ran."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.trials: list = []
        self.metric = "accuracy"
        self.best_number: int | None = None

    def columns(self) -> tuple[str, ...]:
        return ("Trial", "Learning rate", "Batch size", "Optimizer", f"Mean {self.metric}", "Per fold", "Took")

    def set_trials(self, trials, metric: str | None, best_number: int | None) -> None:
        """Show ``trials`` (a fresh read of ``trials.json``); ``best_number`` is highlighted."""
        self.beginResetModel()
        self.trials = list(trials)
        self.metric = metric or self.metric
        self.best_number = best_number
        self.endResetModel()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.columns()) - 1)

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.trials)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns())

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns()[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        t, col = self.trials[index.row()], index.column()
        best = t.number == self.best_number
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(t, col, best)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 1, 2, 4, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and best:
            return _BEST_BG
        if role == Qt.ItemDataRole.FontRole and best:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and best:
            return "The best trial so far: its settings are the ones offered for training"
        return None

    def _text(self, t, col: int, best: bool) -> str:
        if col == 0:
            return f"★ {t.number}" if best else str(t.number)
        if col == 1:
            return f"{t.lr:.2e}"
        if col == 2:
            return str(t.batch_size)
        if col == 3:
            return OPTIMIZER_NAMES.get(t.optimizer, t.optimizer)
        if col == 4:
            return _score(t.mean)
        if col == 5:
            return "  ".join(_score(s) for s in t.fold_scores)
        return format_duration(t.seconds) if t.seconds is not None else ""
