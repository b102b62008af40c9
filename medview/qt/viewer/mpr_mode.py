"""MPR in the viewer: the "MPR" action, the slab controls and the oblique plane.

"MPR" on the active viewport's series builds its volume in the pool (progress in the
status bar, cancelled by pressing it again), then shows the 2 × 2 layout of
:class:`~medview.view.mpr_views.MprViews` (axial, coronal, sagittal, oblique) in the
grid's own viewports, so every viewer command (zoom, W/L presets, measurements, cine,
export) works on the planes too. The cross-reference lines and the 3-D cursor come from
the links (:mod:`medview.qt.viewer.linking`). Pressing "MPR" again puts back the
layout and the series shown before. A series that is not a volume disables the action;
its tooltip and status tip say why (:func:`medview.core.volume.refusal`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QToolBar

from medview.app.internal_errors import user_reason
from medview.app.volume_job import build_volume
from medview.core.imports import load
from medview.qt.viewer.actions import ViewerActions
from medview.qt.viewer.grid import ViewerGrid
from medview.qt.viewer.icons import icon
from medview.qt.viewer.linking import AREA, ViewerLinks
from medview.qt.workers import Workers
from medview.view.model import CROSSHAIR, POINTER, ROTATE_PLANE
from medview.view.mpr_views import VIEWS, MprViews, views_of
from medview.view.planes import MODE_NAMES

MPR_KEY = "Ctrl+M"
MPR_TIP = ("Multiplanar reformatting: axial, coronal, sagittal and oblique planes of this "
           f"series ({MPR_KEY})")
MAX_SLAB_MM = 500.0


class MprController(QObject):
    """The MPR action and controls over ``grid``; ``links`` supplies the 3-D cursor."""

    message = Signal(str)          # a line for the status bar
    progress = Signal(int, int)    # frames decoded, frames; (0, 0): no build under way

    def __init__(self, grid: ViewerGrid, actions: ViewerActions, links: ViewerLinks,
                 workers: Workers, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.grid, self.viewer_actions, self.links, self.workers = grid, actions, links, workers
        self.views: MprViews | None = None
        self._job = None
        self._before = None          # (layout, [(series, index)] per viewport)
        self._restoring = False
        self._refusals: dict[tuple, str | None] = {}

        self.mpr_action = QAction("&MPR", self, checkable=True)
        self.mpr_action.setShortcut(MPR_KEY)
        self.mpr_action.setProperty("shortcutArea", AREA)
        self.mpr_action.triggered.connect(lambda _=False: self.toggle())
        self.crosshair_action = actions.add_tool(
            CROSSHAIR, "&Cross-hair (3-D Cursor)", "X",
            "Click or drag: every linked viewport goes to that point of the patient", AREA)
        self.rotate_action = actions.add_tool(
            ROTATE_PLANE, "R&otate Oblique Plane", "Shift+X",
            "Drag in an MPR view: the oblique plane turns about the 3-D cursor", AREA)
        self.reset_oblique_action = QAction("Reset Oblique Plane", self)
        self.reset_oblique_action.setProperty("shortcutArea", AREA)
        self.reset_oblique_action.triggered.connect(lambda _=False: self.views.reset_oblique())
        self.slab = QDoubleSpinBox()
        self.slab.setRange(0.0, MAX_SLAB_MM)
        self.slab.setDecimals(1)
        self.slab.setSingleStep(1.0)
        self.slab.setSuffix(" mm")
        self.slab.setSpecialValueText("Thin")
        self.slab.setToolTip("Slab thickness of the active MPR view (Thin: one plane)")
        self.slab.setMinimumWidth(84)
        self.mode = QComboBox()
        for key, name in MODE_NAMES.items():
            self.mode.addItem(name, key)
        self.mode.setToolTip("How the slab is combined: maximum (MIP), minimum (MinIP) or mean")
        self.slab.valueChanged.connect(lambda _v: self._slab_changed())
        self.mode.currentIndexChanged.connect(lambda _i: self._slab_changed())

        grid.activeChanged.connect(lambda _vp: self.refresh())
        for vp in grid._all:
            vp.model.events.series.connect(lambda v=vp: self._series_changed(v))
            vp.model.events.frame.connect(
                lambda *_, v=vp: self.refresh() if v is self.grid.active else None)
        self.refresh()

    # ------------------------------------------------------------------ building

    def actions(self) -> list[QAction]:
        return [self.mpr_action, self.reset_oblique_action, self.crosshair_action,
                self.rotate_action]

    def fill_toolbar(self, tb: QToolBar) -> None:
        """The MPR and linked-view controls, in one toolbar."""
        self.mpr_action.setIconText("MPR")
        self.crosshair_action.setIconText("Cross-hair")
        self.rotate_action.setIconText("Rotate Plane")
        self.links.lines_action.setIconText("Ref Lines")
        self.links.sync_action.setIconText("Sync")
        self.reset_oblique_action.setIconText("Reset Oblique")
        for act, name in ((self.mpr_action, "mpr"), (self.links.lines_action, "reference_lines"),
                          (self.links.sync_action, "sync"),
                          (self.reset_oblique_action, "reset_oblique")):
            act.setIcon(icon(name))
        self.reset_oblique_action.setToolTip("Put the oblique plane back to its start")
        for act in (self.mpr_action, self.crosshair_action, self.rotate_action,
                    self.links.lines_action, self.links.sync_action):
            tb.addAction(act)
        tb.addSeparator()
        tb.addWidget(QLabel(" Slab "))
        tb.addWidget(self.slab)
        tb.addWidget(self.mode)
        tb.addAction(self.reset_oblique_action)

    # ------------------------------------------------------------------ state

    @property
    def showing(self) -> bool:
        """Some viewport shows planes of the MPR volume."""
        return self.views is not None and bool(self.views.shown)

    @property
    def building(self) -> bool:
        return self._job is not None

    def refusal(self, series) -> str | None:
        """Why ``series`` cannot be reformatted (None: it can); from headers, cached."""
        if series is None:
            return "no series in the active viewport"
        key = (series.id, len(series.frames))
        if key not in self._refusals:
            self._refusals[key] = load("medview.core.volume").refusal(series)
        return self._refusals[key]

    def refresh(self) -> None:
        """Bring the action and the controls up to date with the active viewport (its
        series may have changed or grown)."""
        model = self.grid.active.model
        busy = self.showing or self.building
        reason = None if busy else self.refusal(model.series)
        tip = "Leave MPR: back to the layout and series before" if busy else (
            MPR_TIP if reason is None else f"MPR unavailable: {reason}")
        act = self.mpr_action
        act.setEnabled(reason is None)
        act.setChecked(busy)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        owned = self.views is not None and self.views.owns(model)
        self.slab.setEnabled(owned)
        self.mode.setEnabled(owned)
        self.reset_oblique_action.setEnabled(self.views is not None
                                             and self.views.oblique is not None)
        self.rotate_action.setEnabled(self.showing)
        if owned:
            for widget, value in ((self.slab, model.planes.slab_mm),
                                  (self.mode, model.planes.mode)):
                widget.blockSignals(True)
                if widget is self.slab:
                    widget.setValue(value)
                else:
                    widget.setCurrentIndex(widget.findData(value))
                widget.blockSignals(False)

    def toggle(self) -> None:
        if self.showing or self.building:
            self.leave()
        else:
            self.enter()

    # ------------------------------------------------------------------ entering

    def enter(self, series=None, planes=None) -> bool:
        """Build the volume of ``series`` (default: the active viewport's) in the pool and
        show it; False (and the reason in the status bar) when it is not a volume.

        ``planes`` (a hanging protocol's cells): ``[(viewport, "axial" | "coronal" |
        "sagittal")]`` to show in the grid as it is laid out, instead of the 2 × 2 layout;
        viewports given something else during the build are left alone."""
        series = series if series is not None else self.grid.active.model.series
        reason = self.refusal(series)
        if reason is not None:
            self.message.emit(f"MPR unavailable: {reason}")
            self.refresh()
            return False
        self.message.emit(f"Building the volume of {series.title}…")
        self._job = self.workers.start(
            build_volume, series, on_progress=lambda p: self.progress.emit(*p),
            on_return=lambda volume: self._show(volume, series, planes),
            on_error=lambda exc: self.message.emit(
                "MPR unavailable: " + user_reason(exc, f"building the volume of {series.title}")),
            on_finished=self._built)
        self.refresh()
        return True

    def _built(self) -> None:
        self._job = None
        self.progress.emit(0, 0)
        self.refresh()

    def _show(self, volume, series, planes=None) -> None:
        grid = self.grid
        if planes is not None:   # still showing the series' own images, as hung
            planes = [(vp, kind) for vp, kind in planes if vp in grid.viewports
                      and vp.model.series is series and vp.model.planes is None]
            if not planes:
                return
        self._before = (grid.layout_name, [(vp.model.series, vp.model.index) for vp in grid._all])
        for cine in grid.cines.values():
            cine.stop()
        if planes is None:
            grid.set_layout("2x2")
            shown, views = grid.viewports, VIEWS
        else:
            shown, views = [vp for vp, _ in planes], views_of(kind for _, kind in planes)
        self.views = MprViews(volume, series, [vp.model for vp in shown], self.links.cursor,
                              views)
        self.links.cursor.move_to(self.views.anchor())
        for vp in shown:
            vp.model.fit()
        if planes is None:
            grid.set_active(grid._all[0])
        k, i, j = volume.spacing
        notes = "".join(f"; {note}" for note in volume.notes)
        self.message.emit(f"MPR of {series.title}: {volume.shape[0]} slices, voxels "
                          f"{j:.2f} × {i:.2f} × {k:.2f} mm{notes}")
        self.refresh()

    # ------------------------------------------------------------------ leaving

    def leave(self) -> None:
        """Stop a build under way, or put back the layout and series shown before."""
        if self._job is not None:
            self._job.cancel()
        views, before = self.views, self._before
        self.views, self._before = None, None
        if views is not None:
            self._restoring = True
            try:
                self._restore(views, before)
            finally:
                self._restoring = False
            views.close()
        if self.viewer_actions.grid.active.model.tool == ROTATE_PLANE:
            self.viewer_actions.set_tool(POINTER)
        self.refresh()

    def _restore(self, views: MprViews, before) -> None:
        layout, shown = before
        for vp, (series, index) in zip(self.grid._all, shown):
            if not views.owns(vp.model):
                continue  # the user put something else there meanwhile
            if series is not None:
                vp.model.set_series(series, index)
            else:
                vp.model.clear()
        self.grid.set_layout(layout)
        self.links.cursor.clear()

    def _series_changed(self, vp) -> None:
        """A viewport was given something else: MPR ends once none shows the volume."""
        if self._restoring or self.views is None:
            return
        if not self.views.shown:
            self.views.close()
            self.views, self._before = None, None
        self.refresh()

    # ------------------------------------------------------------------ slab

    def _slab_changed(self) -> None:
        model = self.grid.active.model
        if self.views is not None and self.views.owns(model):
            self.views.set_slab(model, self.slab.value(), self.mode.currentData())
