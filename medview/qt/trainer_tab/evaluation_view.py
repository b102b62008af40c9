"""A finished job's test-set report (``model/evaluation.json``), drawn with pyqtgraph.

Classification: headline metrics with their 95 % intervals, the confusion matrix, the
ROC curve with its AUC, per-class precision / recall / F1, and, for two classes, a
threshold picker: moving the slider recomputes sensitivity and specificity
(:func:`trainer.metrics.sensitivity_specificity`), the confusion matrix and the
per-class table live from the per-case test scores saved in the report, and moves the
operating point along the ROC curve.

The threshold the model uses was chosen on the *validation* set by the trainer; the
slider is for understanding the trade-off on the test set, not for choosing a new
threshold on it (that would make the test numbers optimistic), and the view says so.

Segmentation: Dice and IoU overall and per class, and the spread of per-image Dice.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QLabel,
                               QPushButton, QSizePolicy, QSlider, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from medview.core.imports import load
from medview.qt import theme
from medview.qt.trainer_tab.charts import configure_pyqtgraph, make_plot

__all__ = ["EvaluationView", "binary_scores"]

SLIDER_STEPS = 1000
PLOT_MIN = 240  # px: a plot's smallest side; narrower than two of them, plots stack


def _f(v, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def binary_scores(report: dict) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(is_positive, P(positive), positive index) per test case, or None (not binary)."""
    classes = report.get("classes") or []
    pos = report.get("positive_class")
    preds = report.get("predictions") or []
    if pos is None or len(classes) != 2 or not preds:
        return None
    y = np.array([p.get("true") == pos for p in preds], dtype=np.int64)
    s = np.array([float(p.get("probabilities", {}).get(pos, float("nan"))) for p in preds])
    if not np.all(np.isfinite(s)):
        return None
    return y, s, classes.index(pos)


class EvaluationView(QWidget):
    """Show one ``evaluation.json`` (:meth:`set_report`).

    Attributes
    ----------
    threshold : float or None
        The operating point shown (binary classification).
    sensitivity, specificity : float or None
        At :attr:`threshold` on the test set.
    cm : numpy.ndarray or None
        The confusion matrix shown.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.report: dict | None = None
        self.threshold: float | None = None
        self.saved_threshold: float | None = None
        self.sensitivity: float | None = None
        self.specificity: float | None = None
        self.cm: np.ndarray | None = None
        self._binary = None
        self._cells: list[pg.TextItem] = []
        self._build()
        self.clear("No evaluation yet: it appears when a job finishes.")

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.message = theme.note_label()
        # A model no better than guessing: said above everything else, in the error colour
        # (trainer/chance.py writes the text into evaluation.json as ``below_chance``).
        self.chance_warning = theme.note_label(colour=theme.ERROR)
        self.chance_warning.setObjectName("chanceWarning")
        self.chance_warning.setTextFormat(Qt.TextFormat.RichText)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.cm_plot = make_plot("Confusion matrix (test set)", "true class", "predicted class")
        self.cm_plot.getViewBox().invertY(True)
        self.cm_image = pg.ImageItem()
        cmap = pg.ColorMap([0.0, 1.0], [pg.mkColor(theme.BUTTON), pg.mkColor(theme.ACCENT)])
        self.cm_image.setLookupTable(cmap.getLookupTable(nPts=256))
        self.cm_plot.addItem(self.cm_image)

        self.roc_plot = make_plot("ROC curve (test set)", "sensitivity (true positive rate)",
                                  "1 − specificity (false positive rate)")
        self.roc_plot.setXRange(0, 1, padding=0.02)
        self.roc_plot.setYRange(0, 1, padding=0.02)
        self.roc_plot.getViewBox().setLimits(xMin=-0.05, xMax=1.05, yMin=-0.05, yMax=1.05)
        self.roc_legend = self.roc_plot.addLegend(offset=(-10, -10), labelTextColor=theme.TEXT)
        self.roc_legend.setBrush(pg.mkBrush(theme.WINDOW + "c0"))
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen(theme.TEXT_DISABLED, width=1, style=Qt.PenStyle.DashLine))
        self.roc_curves: list[pg.PlotDataItem] = []
        self.roc_point = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(theme.WARNING), pen=pg.mkPen(theme.TEXT))
        self.roc_plot.addItem(self.roc_point)

        self.hist_plot = make_plot("Dice per test image", "images", "Dice")
        self.hist_bars: pg.BarGraphItem | None = None

        for w in (self.cm_plot, self.roc_plot, self.hist_plot):
            w.setMinimumSize(PLOT_MIN, PLOT_MIN)
            w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        # threshold picker
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setPageStep(SLIDER_STEPS // 20)
        self.slider.setToolTip("Decision threshold on P(positive): a case at or above it is called positive")
        self.slider.valueChanged.connect(lambda v: self._threshold_moved(v / SLIDER_STEPS))
        self.threshold_label = QLabel()
        self.threshold_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.0000"))
        self.sens_spec_label = QLabel()
        self.sens_spec_label.setTextFormat(Qt.TextFormat.RichText)
        self.sens_spec_label.setWordWrap(True)
        self.reset_button = QPushButton("Back to the model's threshold")
        self.reset_button.setToolTip("The threshold the trainer chose on the validation set (the one the "
                                     "registered model uses)")
        self.reset_button.clicked.connect(lambda: self.set_threshold(self.saved_threshold))
        self.threshold_note = theme.note_label(
            "Moving the threshold shows the trade-off on the test set. The model keeps the threshold "
            "chosen on the validation set; choosing one on the test set would make these numbers optimistic.")
        picker = QWidget()
        pl = QGridLayout(picker)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(QLabel("Threshold"), 0, 0)
        pl.addWidget(self.slider, 0, 1)
        pl.addWidget(self.threshold_label, 0, 2)
        pl.addWidget(self.reset_button, 1, 0, 1, 3, Qt.AlignmentFlag.AlignLeft)
        pl.addWidget(self.sens_spec_label, 2, 0, 1, 3)
        pl.addWidget(self.threshold_note, 3, 0, 1, 3)
        pl.setColumnStretch(1, 1)
        self.picker = picker

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # whole headers and values: columns fit their text (a stretched last column would be
        # cut in a narrow panel); the table scrolls sideways when they do not fit
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.notes = theme.note_label()

        self.plots = QGridLayout()  # side by side, or stacked when narrow: see _reflow
        for i, w in enumerate((self.cm_plot, self.roc_plot, self.hist_plot)):
            self.plots.addWidget(w, 0, i)  # parented now: showing one never makes a window
        self._plot_columns = 0
        lay = QVBoxLayout(self)
        lay.addWidget(self.chance_warning)
        lay.addWidget(self.message)
        lay.addWidget(self.headline)
        lay.addLayout(self.plots, 1)
        lay.addWidget(picker)
        lay.addWidget(self.table)
        lay.addWidget(self.notes)

    def _shown_plots(self) -> list:
        return [w for w in (self.cm_plot, self.roc_plot, self.hist_plot) if not w.isHidden()]

    def _reflow(self) -> None:
        """As many plots per row as fit at :data:`PLOT_MIN` (one under the other in a
        narrow panel, so none is cut: the page scrolls vertically instead)."""
        shown = self._shown_plots()
        spacing = max(0, self.plots.spacing())
        room = self.width() - self.layout().contentsMargins().left() * 2
        columns = max(1, min(len(shown) or 1, (room + spacing) // (PLOT_MIN + 20 + spacing)))
        placed = [self.plots.itemAt(i).widget() for i in range(self.plots.count())]
        if columns == self._plot_columns and placed == shown:
            return
        self._plot_columns = columns
        for w in placed:
            self.plots.removeWidget(w)
        for c in range(3):
            self.plots.setColumnStretch(c, 1 if c < columns else 0)
        for i, w in enumerate(shown):
            self.plots.addWidget(w, i // columns, i % columns)

    @property
    def plot_columns(self) -> int:
        """Plots per row now (1 when the panel is narrow)."""
        return self._plot_columns

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()

    # ------------------------------------------------------------------ content

    def clear(self, message: str = "") -> None:
        self.report = None
        self._binary = None
        self.threshold = self.saved_threshold = self.sensitivity = self.specificity = None
        self.cm = None
        self.message.setText(message)
        self.message.setVisible(bool(message))
        for w in (self.chance_warning, self.headline, self.cm_plot, self.roc_plot, self.hist_plot, self.picker,
                  self.table, self.notes):
            w.hide()
        self._reflow()

    def set_report(self, report: dict) -> None:
        """Show ``report`` (the parsed ``evaluation.json``)."""
        self.clear()
        self.report = report
        self.message.hide()
        warning = report.get("below_chance")
        if warning:
            self.chance_warning.setText(f"<b>⚠ Not usable — {warning}.</b> "
                                        "The numbers below are shown for diagnosis only.")
            self.chance_warning.show()
        if not report.get("n_test"):
            self.message.setText("Not evaluated: " + "; ".join(report.get("notes") or ["the job had no test set"]))
            self.message.show()
            return
        if report.get("task") == "segmentation":
            self._show_segmentation(report)
        else:
            self._show_classification(report)
        notes = report.get("notes") or []
        self.notes.setText("\n".join("• " + n for n in notes))
        self.notes.setVisible(bool(notes))
        self._reflow()

    # -- classification

    def _show_classification(self, report: dict) -> None:
        classes = list(report.get("classes") or [])
        m, ci = report.get("metrics") or {}, report.get("ci95") or {}
        parts = []
        for key, label in (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("auc", "AUC"),
                           ("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("ppv", "PPV"),
                           ("npv", "NPV")):
            if m.get(key) is not None:
                interval = ci.get(key)
                extra = (f' <span style="color:{theme.TEXT_DIM}">(95% CI {interval[0]:.2f}–{interval[1]:.2f})</span>'
                         if interval else "")
                parts.append(f"<b>{label}</b> {m[key]:.3f}{extra}")
        rule = report.get("decision_rule")
        self.headline.setText(
            f"Test set: {report.get('n_test')} images · " + " · ".join(parts)
            + (f'<br><span style="color:{theme.TEXT_DIM}">Decision rule: {rule}</span>' if rule else ""))
        self.headline.show()
        self.cm_plot.show()
        self._setup_cm(classes)
        self._binary = binary_scores(report)
        self._draw_roc(report)
        self.roc_plot.show()
        if self._binary is not None:
            saved = (report.get("threshold") or {}).get("value", (report.get("metrics") or {}).get("threshold", 0.5))
            self.saved_threshold = float(saved)
            self.picker.show()
            self.set_threshold(self.saved_threshold)
        else:
            self._show_cm(np.asarray(report.get("confusion_matrix") or np.zeros((len(classes),) * 2), dtype=np.int64))
        self.table.show()

    def _setup_cm(self, classes: list[str]) -> None:
        for item in self._cells:
            self.cm_plot.removeItem(item)
        c = len(classes)
        self._cells = []
        for r in range(c):
            for k in range(c):
                t = pg.TextItem("", color=theme.HIGHLIGHTED_TEXT, anchor=(0.5, 0.5))
                t.setTextWidth(70)
                t.setPos(k + 0.5, r + 0.5)
                self.cm_plot.addItem(t)
                self._cells.append(t)
        ticks = [[(i + 0.5, name) for i, name in enumerate(classes)]]
        self.cm_plot.getAxis("bottom").setTicks(ticks)
        self.cm_plot.getAxis("left").setTicks(ticks)
        self.cm_plot.setXRange(0, c, padding=0.02)
        self.cm_plot.setYRange(0, c, padding=0.02)

    def _show_cm(self, cm: np.ndarray) -> None:
        precision_recall_f1 = load("trainer.metrics").precision_recall_f1

        self.cm = cm
        c = cm.shape[0]
        rows = cm.sum(axis=1, keepdims=True)
        frac = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
        self.cm_image.setImage(frac, levels=(0.0, 1.0), autoLevels=False)
        self.cm_image.setRect(QRectF(0, 0, c, c))  # after setImage: the rect scales the image's pixels
        for r in range(c):
            for k in range(c):
                self._cells[r * c + k].setHtml(
                    f'<div style="text-align:center; color:{theme.HIGHLIGHTED_TEXT}"><b>{cm[r, k]}</b><br>'
                    f'<span style="color:{theme.TEXT}">{frac[r, k]:.0%}</span></div>')
        classes = list(self.report.get("classes") or [])
        precision, recall, f1, support = precision_recall_f1(cm)
        headers = ["class", "precision", "recall (sensitivity)", "F1", "test images"]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(c)
        self._fit_table()
        for i, name in enumerate(classes):
            for j, text in enumerate((name, _f(precision[i]), _f(recall[i]), _f(f1[i]), str(int(support[i])))):
                self.table.setItem(i, j, QTableWidgetItem(text))

    def _fit_table(self) -> None:
        rows = self.table.rowCount()
        height = self.table.horizontalHeader().sizeHint().height() + 4
        height += sum(self.table.rowHeight(r) for r in range(min(rows, 6)))
        # room for its own horizontal scroll bar: in a narrow panel the table scrolls, not the page
        height += self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(height + 2)

    def _draw_roc(self, report: dict) -> None:
        for curve in self.roc_curves:
            self.roc_plot.removeItem(curve)
        self.roc_curves = []
        colours = [theme.ACCENT, "#5ad1a0", "#ffd23f", "#c678dd", "#e06c75", "#56b6c2"]
        m = report.get("metrics") or {}
        roc = report.get("roc")
        if roc:
            auc = m.get("auc")
            self.roc_curves.append(self.roc_plot.plot(
                roc["fpr"], roc["tpr"], pen=pg.mkPen(theme.ACCENT, width=2),
                name=f"{report.get('positive_class')}: AUC {_f(auc)}"))
        for i, (name, c) in enumerate((report.get("roc_one_vs_rest") or {}).items()):
            if c:
                self.roc_curves.append(self.roc_plot.plot(
                    c["fpr"], c["tpr"], pen=pg.mkPen(colours[i % len(colours)], width=2),
                    name=f"{name} vs rest: AUC {_f(c.get('auc'))}"))
        self.roc_point.setData([], [])

    # -- threshold

    def set_threshold(self, t: float | None) -> None:
        """Move the operating point to ``t`` (binary classification only)."""
        if t is None or self._binary is None:
            return
        self.slider.blockSignals(True)
        self.slider.setValue(int(round(min(1.0, max(0.0, t)) * SLIDER_STEPS)))
        self.slider.blockSignals(False)
        self._threshold_moved(t)

    def _threshold_moved(self, t: float) -> None:
        confusion_matrix = load("trainer.metrics").confusion_matrix
        sensitivity_specificity = load("trainer.metrics").sensitivity_specificity

        if self._binary is None:
            return
        y, s, pos = self._binary
        self.threshold = float(t)
        other = 1 - pos
        pred = np.where(s >= t, pos, other)
        true = np.where(y == 1, pos, other)
        self._show_cm(confusion_matrix(true, pred, 2))
        try:
            self.sensitivity, self.specificity = sensitivity_specificity(y, s, t)
        except ValueError:  # the test set lacks one of the classes
            self.sensitivity = self.specificity = None
        tp = int(np.sum((s >= t) & (y == 1)))
        tn = int(np.sum((s < t) & (y == 0)))
        n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
        self.threshold_label.setText(f"{t:.3f}")
        pos_name = self.report["positive_class"]
        saved = "" if self.saved_threshold is None or abs(t - self.saved_threshold) > 5e-4 \
            else f' <span style="color:{theme.TEXT_DIM}">(the model\'s threshold)</span>'
        self.sens_spec_label.setText(
            f"Call <b>{pos_name}</b> when P({pos_name}) ≥ {t:.3f}{saved}: "
            f"<b>sensitivity {_f(self.sensitivity)}</b> ({tp}/{n_pos} {pos_name} found) · "
            f"<b>specificity {_f(self.specificity)}</b> ({tn}/{n_neg} others cleared)")
        if self.sensitivity is not None:
            self.roc_point.setData([1.0 - self.specificity], [self.sensitivity])
        self.reset_button.setEnabled(self.saved_threshold is not None and abs(t - self.saved_threshold) > 5e-4)

    # -- segmentation

    def _show_segmentation(self, report: dict) -> None:
        m = report.get("metrics") or {}
        self.headline.setText(
            f"Test set: {report.get('n_test')} images · <b>Dice</b> {_f(m.get('dice'))} · <b>IoU</b> {_f(m.get('iou'))}"
            f" (pooled over the test set) · per-image Dice mean {_f(m.get('dice_per_image_mean'))}, median "
            f"{_f(m.get('dice_per_image_median'))}<br><span style=\"color:{theme.TEXT_DIM}\">"
            f"{report.get('images_without_foreground', 0)} test images have no lesion; the model marked something on "
            f"{report.get('false_alarms_on_empty_images', 0)} of them.</span>")
        self.headline.show()
        per_class = report.get("per_class") or {}
        headers = ["class", "Dice", "IoU"]
        self.table.setColumnCount(3)
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(per_class))
        self._fit_table()
        for i, (name, v) in enumerate(per_class.items()):
            for j, text in enumerate((name, _f(v.get("dice")), _f(v.get("iou")))):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.show()
        dice = np.array([p["dice"] for p in report.get("predictions") or [] if p.get("dice") is not None], float)
        if self.hist_bars is not None:
            self.hist_plot.removeItem(self.hist_bars)
            self.hist_bars = None
        if dice.size:
            counts, edges = np.histogram(dice, bins=10, range=(0.0, 1.0))
            self.hist_bars = pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts,
                                             brush=pg.mkBrush(theme.ACCENT), pen=pg.mkPen(theme.BASE))
            self.hist_plot.addItem(self.hist_bars)
            self.hist_plot.setXRange(0, 1, padding=0.02)
        self.hist_plot.show()
