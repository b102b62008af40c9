"""The mask tools' part of the Labels dock: lasso, value range, islands, slices, AI mask,
and each segment's visibility and opacity.

It shows :class:`~medview.view.labelling.LabellingModel`'s settings (range, smallest
island, per-segment display) and forwards changes and clicks to it and to the
controller's :class:`~medview.qt.labelling.mask_actions.MaskActions`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QGridLayout, QGroupBox, QLabel,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from medview.view.labelling import LabellingModel

_VALUE_LIMIT = 100000.0  # modality values (HU, Bq/mL, ...) the range spin boxes reach


class MaskToolsBox(QWidget):
    """Groups of the mask tools' buttons and settings.

    Parameters
    ----------
    model : LabellingModel
    actions : MaskActions
    button : callable
        Makes a push button that triggers an action (the panel's).
    """

    def __init__(self, model: LabellingModel, actions, button, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        def group(title: str, rows: list[list[QWidget]]) -> QGroupBox:
            box = QGroupBox(title)
            grid = QGridLayout(box)
            grid.setContentsMargins(4, 2, 4, 2)
            for r, row in enumerate(rows):
                span = 6 // len(row)  # one, two or three widgets share a row
                for c, w in enumerate(row):
                    grid.addWidget(w, r, c * span, 1, span)
            layout.addWidget(box)
            return box

        lo, hi = model.value_range
        self.low = self._value_box(lo, "Lowest value painted")
        self.high = self._value_box(hi, "Highest value painted")
        self.limit = QCheckBox("Brush and lasso only within range")
        self.limit.setChecked(model.limit_to_range)
        for w in (self.low, self.high):
            w.valueChanged.connect(self._range_changed)
        self.limit.toggled.connect(self._range_changed)
        self.min_island = QSpinBox(minimum=1, maximum=1000000, value=model.min_island,
                                   suffix=" px")
        self.min_island.setToolTip("Remove Small Islands removes islands of fewer pixels")
        self.min_island.valueChanged.connect(lambda n: setattr(model, "min_island", n))
        group("Outline", [[button(actions.lasso, "Lasso fill"),
                           button(actions.lasso_eraser, "Lasso erase")]])
        self.range_box = group("Value range", [
            [self.low, QLabel("to", alignment=Qt.AlignmentFlag.AlignCenter), self.high],
            [self.limit], [button(actions.fill_range, "Fill range")]])
        group("Islands", [
            [button(actions.keep_largest, "Keep largest"), button(actions.island, "Remove clicked")],
            [button(actions.remove_small, "Remove smaller than"), self.min_island],
            [button(actions.fill_holes, "Fill holes")]])
        group("Slices", [
            [button(actions.copy_previous, "Copy to ▲ previous"),
             button(actions.copy_next, "Copy to ▼ next")],
            [button(actions.interpolate, "Interpolate between slices")]])
        layout.addWidget(button(actions.accept_ai, "Accept AI mask"))
        self.segments_box = QGroupBox("Segments shown")
        self.segments = QGridLayout(self.segments_box)
        self.segments.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.segments_box)
        self.visible: list[QCheckBox] = []
        self.opacity: list[QSlider] = []
        model.events.project.connect(self._project_changed)
        model.events.current.connect(self._show_units)
        self._project_changed()

    def _value_box(self, value: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(minimum=-_VALUE_LIMIT, maximum=_VALUE_LIMIT, decimals=1,
                             singleStep=10.0, value=value)
        box.setToolTip(tip + " (modality units: HU on CT)")
        return box

    def _range_changed(self) -> None:
        self.model.set_range(self.low.value(), self.high.value(), self.limit.isChecked())

    def _show_units(self) -> None:
        """The spin boxes say the image's units (HU on CT)."""
        units = self.model.units
        for w in (self.low, self.high):
            w.setSuffix(f" {units}" if units else "")
        self.range_box.setTitle(f"Value range ({units})" if units else "Value range")

    def _project_changed(self) -> None:
        for w in self.visible + self.opacity:
            self.segments.removeWidget(w)
            w.deleteLater()
        self.visible, self.opacity = [], []
        segments = self.model.labeller.project.segments if self.model.segmenting else []
        for k, seg in enumerate(segments, 1):
            check = QCheckBox(f"{k} {seg.name}")
            check.setChecked(k not in self.model.hidden)
            check.setStyleSheet(f"QCheckBox {{ color: {seg.colour}; font-weight: bold }}")
            check.toggled.connect(lambda on, k=k: self.model.set_visible(k, on))
            slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
            slider.setValue(round(100 * self.model.opacity.get(k, self.model.OPACITY)))
            slider.setToolTip(f"Opacity of {seg.name}")
            slider.valueChanged.connect(lambda v, k=k: self.model.set_opacity(k, v / 100.0))
            self.segments.addWidget(check, k - 1, 0)
            self.segments.addWidget(slider, k - 1, 1)
            self.visible.append(check)
            self.opacity.append(slider)
        self._show_units()
