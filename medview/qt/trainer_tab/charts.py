"""Live training charts: loss (train per batch and per epoch, validation) and the
validation metrics, drawn with pyqtgraph as events arrive.

A pre-training job (``"task": "pretrain"``) has no labels, hence no validation loss and
no metrics: :meth:`TrainingCharts.set_pretrain` shows its self-supervised loss alone.

As pyqtgraph's ``examples/scrollingPlots.py`` does, each curve is built once and only
its data is replaced (``setData``) when points arrive; redraws are coalesced to at most
one every ``REDRAW_MS`` however fast events come (a backlog of thousands of batch events
costs one redraw, not thousands).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from medview.qt import theme

__all__ = ["TrainingCharts", "METRIC_COLOURS", "configure_pyqtgraph"]

REDRAW_MS = 100
#: The metric plot reaches above 1 so that the "kept" label sits in the headroom, clear
#: of scores at 1.0 (it was drawn over them).
METRIC_TOP, KEPT_AT = 1.12, 1.065
TRAIN_COLOUR = theme.ACCENT
VAL_COLOUR = "#ff9f43"
BATCH_COLOUR = "#4c6a8a"
METRIC_COLOURS = {"accuracy": "#5ad1a0", "balanced_accuracy": "#c678dd", "auc": "#ffd23f",
                  "dice": "#5ad1a0", "iou": "#ffd23f"}
_OTHER_COLOURS = ["#56b6c2", "#e06c75", "#98c379", "#d19a66"]
_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "auc": "AUC",
           "dice": "Dice", "iou": "IoU"}

_configured = False


def configure_pyqtgraph() -> None:
    """Once: row-major images (numpy's order), antialiased lines, the reading-room colours."""
    global _configured
    if not _configured:
        pg.setConfigOptions(imageAxisOrder="row-major", antialias=True,
                            background=theme.BASE, foreground=theme.TEXT_DIM)
        _configured = True


def _nan(v) -> float:
    return float("nan") if v is None or not math.isfinite(v) else float(v)


def nice_ceiling(v: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is >= ``v`` (> 0)."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    k = math.floor(math.log10(v))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * 10 ** k >= v * (1 - 1e-12):
            return m * 10 ** k
    return 10 ** (k + 1)


def loss_range(values: list[float]) -> tuple[float, float]:
    """(bottom, top) of the loss axis: 0 to a round number above the largest loss, reaching
    below 0 only for a loss that goes negative (SimSiam's is a negative cosine similarity)."""
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    bottom = -nice_ceiling(-lo * 1.05) if lo < 0 else 0.0
    top = nice_ceiling(hi * 1.05) if hi > 0 else (0.0 if lo < 0 else 1.0)
    return bottom, top


class EpochAxis(pg.AxisItem):
    """A bottom axis that labels whole epochs only: a two-epoch run must not show an
    "epoch 1.5" tick (pyqtgraph would pick 0.5 spacing for so short a range)."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        levels = [(spacing, ticks) for spacing, ticks in super().tickValues(minVal, maxVal, size)
                  if spacing >= 1]
        if levels:
            return levels
        return [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]


def make_plot(title: str, y_label: str, x_label: str = "epoch") -> pg.PlotWidget:
    configure_pyqtgraph()
    axes = {"bottom": EpochAxis("bottom")} if x_label == "epoch" else None
    w = pg.PlotWidget(axisItems=axes)
    w.setTitle(title, color=theme.TEXT, size="10pt")
    w.setLabel("left", y_label)
    w.setLabel("bottom", x_label)
    # No grid: pyqtgraph draws grid lines as part of each axis across the whole plot, so
    # every new point would repaint both axes (a stall on a busy 2-core PC).
    w.setMenuEnabled(False)
    w.setMouseEnabled(x=False, y=False)
    w.hideButtons()
    w.setMinimumHeight(150)
    for axis in ("left", "bottom"):
        w.getAxis(axis).enableAutoSIPrefix(False)  # "loss (x0.001)" confuses more than it helps
    return w


class TrainingCharts(QWidget):
    """Two stacked plots fed by :meth:`add_events`.

    Attributes
    ----------
    loss_plot, metric_plot : pyqtgraph.PlotWidget
    batch_curve, train_curve, val_curve : pyqtgraph.PlotDataItem
        Training loss per batch (x = fractional epoch), mean training loss and validation
        loss per epoch.
    metric_curves : dict of str to PlotDataItem
        One per validation metric, created when the metric first appears.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = make_plot("Loss (lower is better)", "loss")
        self.legend = legend = self.loss_plot.addLegend(offset=(-10, 10), labelTextColor=theme.TEXT)
        self.batch_curve = self.loss_plot.plot(pen=pg.mkPen(BATCH_COLOUR, width=1), name="train (each batch)",
                                               connect="finite")
        self.train_curve = self.loss_plot.plot(pen=pg.mkPen(TRAIN_COLOUR, width=2), symbol="o", symbolSize=6,
                                               symbolBrush=TRAIN_COLOUR, symbolPen=None, name="train (epoch mean)",
                                               connect="finite")
        self.val_curve = self.loss_plot.plot(pen=pg.mkPen(VAL_COLOUR, width=2), symbol="s", symbolSize=6,
                                             symbolBrush=VAL_COLOUR, symbolPen=None, name="validation",
                                             connect="finite")
        legend.setBrush(pg.mkBrush(theme.WINDOW + "c0"))
        self.metric_plot = make_plot("Validation metrics (higher is better)", "score")
        self.metric_plot.setYRange(0, METRIC_TOP, padding=0)
        self.metric_legend = self.metric_plot.addLegend(offset=(-10, -10), labelTextColor=theme.TEXT)
        self.metric_legend.setBrush(pg.mkBrush(theme.WINDOW + "c0"))
        # the epoch whose weights the model keeps: the best one, or the last (final_weights)
        self.best_line = pg.InfiniteLine(angle=90, movable=False,
                                         pen=pg.mkPen(theme.TEXT_DIM, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                                         label="kept", labelOpts={"position": KEPT_AT / METRIC_TOP,
                                                                  "anchors": [(0.5, 0.5), (0.5, 0.5)],
                                                                  "color": theme.TEXT_DIM})
        self.best_line.hide()
        self.metric_plot.addItem(self.best_line)
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self.empty_label = QLabel("The charts fill in as the trainer reports each batch and epoch.")
        self.empty_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.empty_label)
        lay.addWidget(self.loss_plot, 1)
        lay.addWidget(self.metric_plot, 1)
        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self.redraw)
        self.redraws = 0
        self.pretrain = False
        self.clear()

    def set_pretrain(self, pretrain: bool) -> None:
        """Pre-training: its loss alone (no validation curve, no metric plot)."""
        if pretrain == self.pretrain:
            return
        self.pretrain = pretrain
        self.metric_plot.setVisible(not pretrain)
        self.val_curve.setVisible(not pretrain)
        if pretrain:
            self.legend.removeItem(self.val_curve)
            self.loss_plot.setTitle("Self-supervised loss (lower is better)", color=theme.TEXT, size="10pt")
        else:
            self.legend.addItem(self.val_curve, "validation")
            self.loss_plot.setTitle("Loss (lower is better)", color=theme.TEXT, size="10pt")

    # ------------------------------------------------------------------ data

    def clear(self) -> None:
        """Forget every point (another job, or its file started over)."""
        self._bx: list[float] = []
        self._by: list[float] = []
        self._ex: list[float] = []
        self._train: list[float] = []
        self._val: list[float] = []
        self._metrics: dict[str, list[float]] = {}
        self._best_epoch: int | None = None
        self._epochs = 0  # planned epochs: the x axis spans them from the start
        self._x_range: tuple | None = None
        self._y_range: tuple | None = None
        for curve in self.metric_curves.values():  # another job may report other metrics
            self.metric_plot.removeItem(curve)
        self.metric_curves.clear()
        self._dirty = True
        self.redraw()

    def add_events(self, events) -> None:
        """Take the chart-relevant events (others are ignored); redraw soon."""
        changed = False
        for e in events:
            kind = e.type
            if kind == "epoch_started":
                self._plan(e.epochs)
            elif kind == "batch":
                x = (e.epoch - 1) + (e.batch / e.batches if e.batches else 1.0)
                if self._bx and x <= self._bx[-1]:  # a resumed run repeats an epoch: break the line
                    self._bx.append(x)
                    self._by.append(float("nan"))
                self._bx.append(x)
                self._by.append(_nan(e.loss))
                changed = True
            elif kind == "epoch_end":
                self._plan(e.epochs)
                if self._ex and e.epoch <= self._ex[-1]:  # resumed: the repeated epoch replaces the old
                    keep = sum(1 for x in self._ex if x < e.epoch)
                    del self._ex[keep:], self._train[keep:], self._val[keep:]
                    for vals in self._metrics.values():
                        del vals[keep:]
                self._ex.append(float(e.epoch))
                self._train.append(_nan(e.train_loss))
                self._val.append(_nan(e.val_loss))
                n = len(self._ex)
                for name in list(self._metrics) + [k for k in e.metrics if k not in self._metrics]:
                    vals = self._metrics.setdefault(name, [])
                    vals.extend([float("nan")] * (n - 1 - len(vals)))
                    vals.append(_nan(e.metrics.get(name)))
                changed = True
            elif kind == "checkpoint_saved":
                self._best_epoch = e.epoch
                changed = True
        if changed:
            self._dirty = True
            if not self._redraw_timer.isActive():
                self._redraw_timer.start()

    def _plan(self, epochs: int) -> None:
        """The planned epochs the x axis spans: the latest plan (a job with a time budget
        re-plans them after each epoch, and ends with ``epochs`` = its last epoch)."""
        self._epochs = epochs

    @property
    def n_batches(self) -> int:
        return sum(1 for y in self._by if not math.isnan(y))

    @property
    def n_epochs(self) -> int:
        return len(self._ex)

    def redraw(self) -> None:
        """Push the points into the curves (``setData`` on curves built once)."""
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        self.batch_curve.setData(self._bx, self._by)
        self.train_curve.setData(self._ex, self._train)
        self.val_curve.setData([] if self.pretrain else self._ex, [] if self.pretrain else self._val)
        for name, vals in self._metrics.items():
            curve = self.metric_curves.get(name)
            if curve is None:
                colour = METRIC_COLOURS.get(name) or _OTHER_COLOURS[len(self.metric_curves) % len(_OTHER_COLOURS)]
                curve = self.metric_plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                              symbolBrush=colour, symbolPen=None,
                                              name=_LABELS.get(name, name.replace("_", " ")), connect="finite")
                self.metric_curves[name] = curve
            curve.setData(self._ex[: len(vals)], vals)
        if self._best_epoch is not None:
            self.best_line.setValue(self._best_epoch)
            self.best_line.show()
        else:
            self.best_line.hide()
        has_points = bool(self._bx or self._ex)
        self.empty_label.setVisible(not has_points)
        # Ranges change only when they must (a new epoch plan, a loss above the top), so a
        # new point repaints its curve and not the axes.
        right = max([float(self._epochs), 1.0] + self._bx[-1:] + self._ex[-1:])
        x_range = (0.0, right * 1.03)
        if x_range != self._x_range:
            self._x_range = x_range
            for plot in (self.loss_plot, self.metric_plot):
                plot.setXRange(*x_range, padding=0)
        y_range = loss_range([v for v in self._by + self._train + self._val if not math.isnan(v)])
        if y_range != self._y_range:
            self._y_range = y_range
            self.loss_plot.setYRange(*y_range, padding=0)
