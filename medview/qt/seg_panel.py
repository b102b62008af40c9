"""The Segmentations panel: DICOM SEGs opened with a study, drawn over the frames they
reference in every viewport, with each segment's colour and name, a toggle per segment
and for all, and an opacity.

The SEGs are read while the folder loads (:mod:`medview.core.io.seg`, into
``Library.segmentations``); the layer of a frame is made by
:mod:`medview.analysis.seg_layers`. This panel only follows the viewports and shows state.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QSlider, QVBoxLayout, QWidget)

from medview.analysis.seg_layers import frame_layer, segment_colours, segs_over
from medview.qt import theme

LAYER = "seg"  #: the viewport image-overlay layer SEGs are drawn in
DEFAULT_OPACITY = 60


class SegPanel(QWidget):
    """Show the SEGs of the open studies over the images.

    Parameters
    ----------
    grid : ViewerGrid
        The viewports to draw in.
    segmentations : callable
        Returns the open SEGs (:class:`~medview.core.io.seg.SegOverlay`, the library's).
    """

    def __init__(self, grid, segmentations: Callable[[], list],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self._segmentations = segmentations
        self.hidden: set[tuple[str, int]] = set()
        self.show_check = QCheckBox("Show segmentations", self, checked=True)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self, minimum=0, maximum=100,
                               value=DEFAULT_OPACITY, toolTip="Opacity of the segmentations")
        self.segments = QListWidget(self, toolTip="Segments of the SEGs over the series "
                                                  "shown; untick one to hide it")
        self.note = theme.note_label("No DICOM SEG is open over the series shown.", self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity", self))
        row.addWidget(self.opacity, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.show_check)
        layout.addLayout(row)
        layout.addWidget(self.segments, 1)
        layout.addWidget(self.note)
        self.show_check.toggled.connect(lambda _on: self.redraw())
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.segments.itemChanged.connect(self._segment_toggled)
        for vp in grid._all:
            vp.model.events.frame.connect(lambda _i, v=vp: self._draw(v))
            vp.model.events.series.connect(lambda v=vp: self._series_changed(v))
        grid.activeChanged.connect(lambda _vp: self._list_segments())

    def refresh(self) -> None:
        """SEGs were opened or closed: list them again and redraw every viewport."""
        self._list_segments()
        self.redraw()

    def redraw(self) -> None:
        for vp in self.grid._all:
            self._draw(vp)

    # ------------------------------------------------------------------ internals

    def _series_changed(self, vp) -> None:
        self._draw(vp)
        if vp is self.grid.active:
            self._list_segments()

    def _draw(self, vp) -> None:
        frame = vp.model.frame
        segs = self._segmentations()
        rgba = (frame_layer(segs, frame, self.hidden)
                if frame is not None and segs and self.show_check.isChecked() else None)
        if rgba is None:
            if LAYER in vp.model.layers:
                vp.model.set_image_overlay(LAYER, None)
            return
        names = sorted({seg.series_description or seg.path.name for seg in segs
                        if seg.mask_for(frame) is not None})
        vp.model.set_image_overlay(LAYER, rgba, frame_key=frame.key,
                                   opacity=self.opacity.value() / 100.0,
                                   caption="SEG: " + ", ".join(names))

    def _list_segments(self) -> None:
        series = self.grid.active.model.series
        segs = segs_over(self._segmentations(), series.frames) if series is not None else []
        colours = segment_colours(segs)
        self.segments.blockSignals(True)
        self.segments.clear()
        for seg in segs:
            header = QListWidgetItem(seg.series_description or seg.path.name, self.segments)
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)  # which SEG the segments below are of
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            header.setToolTip(str(seg.path))
            for s in seg.segments:
                key = (seg.sop_instance_uid, s.number)
                item = QListWidgetItem(s.label, self.segments)
                item.setToolTip(f"Segment {s.number} of {seg.path}")
                pixmap = QPixmap(12, 12)
                pixmap.fill(QColor(colours[key]))
                item.setIcon(QIcon(pixmap))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked if key in self.hidden
                                   else Qt.CheckState.Checked)
                item.setData(Qt.ItemDataRole.UserRole, key)
        self.segments.blockSignals(False)
        self.note.setVisible(not segs)

    def _segment_toggled(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self.hidden.discard(key)
        else:
            self.hidden.add(key)
        self.redraw()

    def _opacity_changed(self, value: int) -> None:
        for vp in self.grid._all:
            vp.model.set_image_overlay_opacity(LAYER, value / 100.0)
