"""Viewports in a grid (1×1, 1×2, 1×3, 2×2); one is active and receives commands.

Each viewport paints its own :class:`~medview.view.model.ViewModel`; the models share
one store of measurements and one set of key images.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from medview.core.annotations import AnnotationStore
from medview.core.key_images import KeyImages
from medview.qt.viewer.cine import Cine
from medview.qt.viewer.viewport import Viewport
from medview.qt.workers import FrameLoader
from medview.view.model import ViewModel

LAYOUTS = {"1x1": (1, 1), "1x2": (1, 2), "1x3": (1, 3), "2x2": (2, 2)}
MAX_VIEWPORTS = 4


class ViewerGrid(QWidget):
    """Holds up to four viewports and tracks the active one.

    ``series_lookup(series_id)`` resolves a series dragged from the browser.
    """

    activeChanged = Signal(object)    # Viewport
    pathsDropped = Signal(list)
    layoutChanged = Signal(str)

    def __init__(self, loader: FrameLoader, series_lookup: Callable[[int], object],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.annotations = AnnotationStore()
        self.key_images = KeyImages()
        self.series_lookup = series_lookup
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._all: list[Viewport] = []
        self.cines: dict[Viewport, Cine] = {}
        for _ in range(MAX_VIEWPORTS):
            vp = Viewport(loader, ViewModel(self.annotations, self.key_images), self)
            vp.activated.connect(self.set_active)
            vp.pathsDropped.connect(self.pathsDropped)
            vp.seriesDropped.connect(lambda sid, v=vp: self._series_dropped(v, sid))
            self.cines[vp] = Cine(vp)
            self._all.append(vp)
        self.layout_name = ""
        self.active: Viewport = self._all[0]
        self.set_layout("1x1")
        self.set_active(self._all[0])

    @property
    def viewports(self) -> list[Viewport]:
        """The visible viewports, in reading order."""
        rows, cols = LAYOUTS[self.layout_name]
        return self._all[: rows * cols]

    def set_layout(self, name: str) -> None:
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}; valid: {', '.join(LAYOUTS)}")
        if name == self.layout_name:
            return
        rows, cols = LAYOUTS[name]
        for vp in self._all:
            self._layout.removeWidget(vp)
            vp.hide()
        for i, vp in enumerate(self._all[: rows * cols]):
            self._layout.addWidget(vp, i // cols, i % cols)
            vp.show()
        for vp in self._all[rows * cols:]:
            self.cines[vp].stop()
        self.layout_name = name
        for vp in self.viewports:
            vp.model.fit()  # a new cell size: show the whole image, as RadiAnt and Weasis do
        if self.active not in self.viewports:
            self.set_active(self._all[0])
        # a newly shown empty viewport gets the next series of the active study
        self.layoutChanged.emit(name)

    def set_active(self, vp: Viewport) -> None:
        if vp is self.active and vp.active:
            return
        for v in self._all:
            v.active = v is vp
            v.update()
        self.active = vp
        self.activeChanged.emit(vp)

    def cine(self, vp: Viewport | None = None) -> Cine:
        return self.cines[vp or self.active]

    def show_series(self, series, vp: Viewport | None = None, index: int | None = None) -> None:
        vp = vp or self.active
        self.cines[vp].stop()
        vp.model.set_series(series, index)
        self.set_active(vp)

    def fill_empty(self, series_list: list) -> None:
        """Put series not yet on screen into empty visible viewports."""
        shown = {vp.model.series.id for vp in self.viewports if vp.model.series is not None}
        todo = [s for s in series_list if s.id not in shown]
        for vp in self.viewports:
            if vp.model.series is None and todo:
                vp.model.set_series(todo.pop(0))

    def clear(self) -> None:
        for vp in self._all:
            self.cines[vp].stop()
            vp.model.clear()
        self.annotations.clear()
        self.key_images.clear()

    def remove_series(self, series_ids: set[int]) -> None:
        for vp in self._all:
            series = vp.model.series
            if series is not None and series.id in series_ids:
                self.cines[vp].stop()
                vp.model.clear()

    def _series_dropped(self, vp: Viewport, sid: int) -> None:
        series = self.series_lookup(sid)
        if series is not None:
            self.show_series(series, vp)
