"""The main window: a composer of the viewer grid, docks, actions and settings.

It owns no pixel logic and few behaviours of its own: opening files (in a pool
thread, merged into one :class:`~medview.core.study.Library`), wiring the
browser and tag docks to the active viewport, and persisting the layout.
Later panels plug in with :meth:`MainWindow.add_panel` (docks, e.g. the AI
panel) and :meth:`MainWindow.add_tab` (central tabs, e.g. the trainer); the
tab bar stays hidden while the viewer is the only tab.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow,
                               QMessageBox, QProgressBar, QTabWidget, QToolBar, QWidget)

from medview import __version__
from medview.app.internal_errors import user_reason
from medview.app.opening import PendingFiles, load_job
from medview.core.imports import load, loaded
from medview.core.pixel_cache import PIXELS, budget_bytes
from medview.qt.analysis.panel import AnalysisPanel  # light: torch loads on first use
from medview.qt.browser.series_browser import SeriesBrowser
from medview.qt.browser.thumbnails import render_thumbnail
from medview.qt.drop_paths import accept_url_drag, take_dropped_paths
from medview.qt.export import ExportController
from medview.qt.pacs_panel import PacsPanel
from medview.qt.labelling.controller import LabellingController
from medview.qt.readings import ReadingController
from medview.qt.seg_panel import SegPanel
from medview.qt.settings import Settings
from medview.qt.viewer.actions import GESTURES, ViewerActions
from medview.qt.viewer.grid import LAYOUTS, ViewerGrid
from medview.qt.viewer.icons import icon
from medview.qt.viewer.linking import ViewerLinks
from medview.qt.viewer.mpr_mode import MprController
from medview.qt.widgets.notice import already_open_text, show_skipped
from medview.qt.widgets.shortcuts_dialog import ShortcutsDialog
from medview.qt.workers import FrameLoader, Workers

APP_NAME = "medview"
_TAG_BROWSER = "medview.qt.widgets.tag_browser"
#: How long closing waits, per pool, for running decodes and workers to end: one still
#: emitting while Python tears Qt down at exit segfaulted the process (2 quits in 65
#: during a 180-image prefetch). A decode is one frame and a cancelled worker stops at
#: its next step, so only a hung one reaches this; closing then goes on.
_QUIT_WAIT_MS = 3000
# While a folder loads, files read appear after 150 ms, then every 0.3, 0.6, 1.2 s at
# most (each showing re-sorts the library and refreshes the browser).
_SHOW_FIRST_MS, _SHOW_MAX_MS = 150, 1200


@dataclass
class _Opening:
    """One open_paths call: files read and not shown yet, and what it added so far."""

    pending: PendingFiles = field(default_factory=PendingFiles)
    series: int = 0
    images: int = 0  # new ones; files open already are counted in ``already``
    skipped: list = field(default_factory=list)
    already: int = 0
    again: tuple | None = None  # the first file read that was open already
    study: object = None  # the first new study: hung by the protocols once all is read


def open_status(n_series: int, n_new: int, already: int) -> str:
    """The status line after opening: what is new, and what was open already."""

    if n_series or n_new:
        what = (f"Opened {n_series} series, {n_new} images" if n_series
                else f"Added {n_new} images to open series")
        return what + (f" ({already} already open)" if already else "")
    return already_open_text(already) if already else "Nothing new to show"


class MainWindow(QMainWindow):
    """medview's main window.

    Parameters
    ----------
    settings : Settings, optional
        Persistent settings (tests pass one over a temporary INI file).
    """

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.settings = settings if settings is not None else Settings()
        self._library = None  # created on first use: core.study imports pydicom
        self.loader = FrameLoader(parent=self)
        self.workers = Workers(parent=self)
        self._loading = 0
        self._first_paint_callbacks: list = []
        self.last_skipped: list[tuple[Path, str]] = []  # what the last notice listed
        self.last_protocol = ""  # the hanging protocol that laid out the last study opened

        # central: tabs (the viewer first), hidden tab bar while alone
        self.grid = ViewerGrid(self.loader, self.series_by_id, self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.addTab(self.grid, "Viewer")
        self.setCentralWidget(self.tabs)
        for vp in self.grid._all:
            vp.model.user_presets = self.user_presets
            vp.model.events.frame.connect(lambda _i, v=vp: self._frame_changed(v))
        self.grid.pathsDropped.connect(self.open_paths)
        self.grid.activeChanged.connect(self._frame_changed)
        self.readings = ReadingController(self)  # measurements saved with their studies

        # docks
        self.browser = SeriesBrowser(self)
        self.browser.seriesActivated.connect(lambda s: self.grid.show_series(s))
        self.browser_dock = self.add_panel(self.browser, "Studies", "BrowserDock",
                                           Qt.DockWidgetArea.LeftDockWidgetArea)
        # The tag browser imports pydicom: it is built when its dock is first shown.
        self.tag_browser = None
        self._tags_importing = False
        self.tags_dock = self.add_panel(QWidget(self), "DICOM Tags", "TagsDock",
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.tags_dock.hide()
        self._tags_timer = QTimer(self, singleShot=True, interval=150)
        self._tags_timer.timeout.connect(self._update_tags)
        self.tags_dock.visibilityChanged.connect(lambda on: on and self._tags_timer.start())
        self.resizeDocks([self.browser_dock], [300], Qt.Orientation.Horizontal)

        self.loader.series_progress.connect(self.browser.set_progress)
        self.loader.thumbnail.connect(self.browser.set_thumbnail)

        # actions, menus, toolbar, status bar
        fps = self.settings.value("viewer/cine_fps")
        self.viewer_actions = ViewerActions(self.grid, self, fps=fps)
        self.viewer_actions.fpsChanged.connect(lambda v: self.settings.set_value("viewer/cine_fps", v))
        self.links = ViewerLinks(self.grid, self)
        self.mpr = MprController(self.grid, self.viewer_actions, self.links, self.workers, self)
        self.export = ExportController(self, self.settings, self.workers)
        self.labelling = LabellingController(self)  # keys 1-9 label while a project is open
        self._build_file_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status()
        self.mpr.message.connect(self._status_label.setText)
        self.mpr.progress.connect(self._mpr_progress)
        self.analysis = AnalysisPanel(self.grid, self.settings, self)
        self.analysis_dock = self.add_panel(self.analysis, "AI", "AnalysisDock")
        # Tags share the AI panel's full height as a tab: stacked under it they got two rows.
        self.tabifyDockWidget(self.analysis_dock, self.tags_dock)
        self.tags_dock.toggleViewAction().toggled.connect(
            lambda on: on and QTimer.singleShot(0, self.tags_dock.raise_))  # shown: in front
        self.resizeDocks([self.analysis_dock], [320], Qt.Orientation.Horizontal)
        # PACS (View ▸ Panels): a retrieved study opens with its first image, then fills in
        self.pacs = PacsPanel(self.workers, self, open_studies=lambda: {
            st.uid for p in self.library.patients for st in p.studies},
            shown_result=self.analysis.shown_result)
        self.pacs_dock = self.add_panel(self.pacs, "PACS", "PacsDock")
        self.tabifyDockWidget(self.analysis_dock, self.pacs_dock)
        self.pacs_dock.hide()
        self.pacs.firstImageArrived.connect(lambda path: self.open_paths([path], remember=False))
        self.pacs.studyRetrieved.connect(lambda folder: self.open_paths([folder]))
        self.tabifyDockWidget(self.analysis_dock, self.labelling.make_dock())
        # DICOM SEGs opened with a study: drawn over the frames they reference
        self.segs = SegPanel(self.grid, lambda: self.library.segmentations, self)
        self.segs_dock = self.add_panel(self.segs, "Segmentations", "SegDock")
        self.tabifyDockWidget(self.analysis_dock, self.segs_dock)
        self.segs_dock.hide()
        # the AI status about an image is shown only with the viewer
        self.tabs.currentChanged.connect(
            lambda _i: self.analysis.set_viewing(self.tabs.currentWidget() is self.grid))
        self.trainer_tab = None  # the Trainer tab is built when first opened (pyqtgraph, trainer)
        self.trainer_action = self._act("&Trainer", self.open_trainer, area="View")
        self.trainer_action.setIcon(icon("trainer"))
        self.trainer_action.setToolTip("Trainer: fine-tune models on your own images")
        self.panels_menu.parentWidget().addAction(self.trainer_action)
        self.toolbar.addAction(self.trainer_action)
        self.viewer_actions.overlays.setChecked(self.settings.value("viewer/show_overlay"))
        self.smooth_action.setChecked(self.settings.value("viewer/smooth_interpolation"))
        self._apply_cache_budget()
        layout = self.settings.value("viewer/layout")
        self.grid.set_layout(layout if layout in LAYOUTS else "1x1")
        self.grid.layoutChanged.connect(self._layout_changed)
        self.resize(1400, 900)
        self._state_restored = self.settings.restore_geometry(self)

    # ------------------------------------------------------------------ public API

    @property
    def library(self):
        """Everything open, as one :class:`~medview.core.study.Library`."""
        if self._library is None:
            self._library = load("medview.core.study").Library()
        return self._library

    def add_panel(self, widget: QWidget, title: str, object_name: str,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Dock ``widget`` (e.g. the AI panel); it gets a toggle in View ▸ Panels."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)  # saveState/restoreState match docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if hasattr(self, "panels_menu"):
            self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def open_trainer(self) -> None:
        """Show the Trainer tab; training itself runs in subprocesses."""
        if self.trainer_tab is None:
            LazyTrainerTab = load("medview.qt.trainer_tab").LazyTrainerTab
            self.trainer_tab = LazyTrainerTab(self.settings, self.analysis.refresh_models, self)
            self.add_tab(self.trainer_tab, "Trainer")
        self.tabs.setCurrentWidget(self.trainer_tab)

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a central tab next to the viewer (e.g. the trainer); returns its index."""
        return self.tabs.addTab(widget, title)

    def after_first_paint(self, fn, fallback_ms: int = 1000) -> None:
        """Call ``fn`` once the viewer has painted for the first time (or after
        ``fallback_ms``), so that reading files never delays the first frame."""
        state = {"done": False}
        first = self.grid.viewports[0]

        def fire() -> None:
            if not state["done"]:
                state["done"] = True
                first.removeEventFilter(self)
                fn()

        self._first_paint_callbacks.append(lambda: QTimer.singleShot(0, fire))
        first.installEventFilter(self)
        QTimer.singleShot(fallback_ms, fire)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and self._first_paint_callbacks:
            callbacks, self._first_paint_callbacks = self._first_paint_callbacks, []
            for cb in callbacks:
                cb()
        return super().eventFilter(obj, event)

    def series_by_id(self, series_id: int):
        for s in self.library.series():
            if s.id == series_id:
                return s
        return None

    def selected_series(self):
        """The series selected in the browser, else the one in the active viewport."""
        return self.browser.current_series() or self.grid.active.model.series

    def user_presets(self, modality: str):
        Window = load("medview.core.pixels").Window
        out = []
        for name, center, width in self.settings.user_presets(modality):
            try:
                out.append(Window(center, width, "LINEAR", name))
            except ValueError:
                continue
        return out

    # ------------------------------------------------------------------ opening

    def open_paths(self, paths, remember: bool = True) -> None:
        """Read ``paths`` (files, folders, DICOMDIRs) in the background and show them."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return
        if remember:
            for p in paths:
                if os.path.exists(p):
                    self.settings.add_recent(p)
        self._loading += 1
        self._progress.setRange(0, 0)
        self._progress.show()
        self._status_label.setText("Reading " + (Path(paths[0]).name if len(paths) == 1
                                                 else f"{len(paths)} items") + "…")
        opening = _Opening()
        timer = QTimer(self, interval=_SHOW_FIRST_MS)

        def tick() -> None:  # the first files at once, then fewer, larger batches
            if self._show_read(opening):
                timer.setInterval(min(_SHOW_MAX_MS, 2 * timer.interval()))

        timer.timeout.connect(tick)
        timer.start()

        def returned(rest) -> None:
            opening.pending.add(rest)
            self._show_read(opening)
            self._loaded(opening)

        def finished() -> None:
            timer.stop()
            timer.deleteLater()
            self._load_finished()

        self.workers.start(load_job, paths, opening.pending, pass_worker=True,
                           on_return=returned, on_error=lambda exc: self._load_failed(paths, exc),
                           on_progress=self._load_progress, on_finished=finished)

    @property
    def is_loading(self) -> bool:
        return self._loading > 0

    @property
    def is_busy(self) -> bool:
        """Reading files, running a pool job, or about to refresh the Tags panel."""
        return self.is_loading or self.workers.busy or self._tags_timer.isActive()

    def _load_progress(self, p) -> None:
        done, total = p
        self._progress.setRange(0, total)
        self._progress.setValue(done)
        self._status_label.setText(f"Reading headers {done}/{total}…")

    def _load_finished(self) -> None:
        self._loading -= 1
        if self._loading <= 0:
            self._loading = 0
            self._progress.hide()

    def _load_failed(self, paths: list[str], exc: BaseException) -> None:
        """An unexpected error while reading: listed like skipped files, without blocking;
        an internal error says what to do (its traceback goes to the log file)."""
        self._status_label.setText("Could not open " + ", ".join(Path(p).name for p in paths))
        reason = user_reason(exc, "reading " + ", ".join(paths))
        self.show_skipped([(Path(p), reason) for p in paths], loaded=0)

    def _show_read(self, opening: _Opening) -> bool:
        """Show the files read since the last call (False: there were none): the first
        series opened goes to the active viewport, later ones fill empty viewports."""
        new = opening.pending.take()
        if new is None:
            return False
        known = {s.id for s in self.library.series()}
        was_open = {f.key for f in self.library.frames()}
        read = [f.key for f in new.frames()]
        touched = {st.uid for p in new.patients for st in p.studies}
        self.library.merge(new)
        added = [s for s in self.library.series() if s.id not in known]
        already = sum(k in was_open for k in read)
        opening.images += len(read) - already
        opening.already += already
        if already and opening.again is None:
            opening.again = read[[k in was_open for k in read].index(True)]
        opening.skipped += new.skipped
        if new.segmentations:
            self.segs.refresh()
            self.segs_dock.show()  # a tab beside the AI panel: the segments' names and toggles
        if not added and not new.series():
            return True
        self.browser.set_library(self.library)
        for s in added:
            if not self.browser.has_thumbnail(s.id):
                self.loader.request_thumbnail(s, render_thumbnail)
        self.readings.opened([st for p in self.library.patients for st in p.studies
                              if st.uid in touched])  # before the views show them
        if added and opening.series == 0:
            self.grid.show_series(added[0])  # show what was just opened
            self.browser.select_series(added[0].id)
            opening.study = added[0].study
        self.grid.fill_empty(added)
        for vp in self.grid.viewports:
            vp.update()  # a shown series may have grown
        self.mpr.refresh()
        opening.series += len(added)
        self._update_title()
        return True

    def _loaded(self, opening: _Opening) -> None:
        if not opening.series and opening.again is not None:
            self.show_frame(opening.again)  # nothing new: show what was asked for
        if opening.study is not None and self.hanging_action.isChecked():
            self.hang(opening.study)
        self._status_label.setText(open_status(opening.series, opening.images, opening.already))
        if opening.skipped:
            self.show_skipped(opening.skipped, loaded=opening.images, already=opening.already)

    def show_frame(self, key) -> None:
        """Bring the open frame ``key`` (path, index) on screen and select its series (files
        opened again, the labelling project's next image)."""
        series = next(s for s in self.library.series() if any(f.key == key for f in s.frames))
        index = next(i for i, f in enumerate(series.frames) if f.key == key)
        on_screen = next((vp for vp in self.grid.viewports if vp.model.series is series), None)
        if on_screen is not None:
            self.grid.set_active(on_screen)
            on_screen.model.set_index(index)
        else:
            self.grid.show_series(series, index=index)
        self.browser.select_series(series.id)

    def hang(self, study) -> None:
        """Lay the grid out by the hanging protocols for ``study`` (just read): the
        layout and the series of each viewport; a bad user protocol file is one line.
        Cells in an MPR plane show the series' own images until its volume is built
        (as the MPR action builds it), then the plane."""
        hanging = load("medview.app.hanging")
        protocols, notes = load("medview.core.hanging_protocols").load_protocols()
        studies = [st for p in self.library.patients for st in p.studies]
        try:
            name, cells, protocol = hanging.hang(study, studies, LAYOUTS, protocols, mpr=True)
        except Exception as exc:  # noqa: BLE001 - a protocol must never stop a study opening
            self.statusBar().showMessage(user_reason(exc, "applying the hanging protocol"),
                                         10000)
            return
        if self.mpr.showing or self.mpr.building:
            self.mpr.leave()
        self.grid.set_layout(name)
        for vp, cell in zip(self.grid.viewports, cells):
            self.grid.show_series(cell.series, vp)
        if cells:
            self.grid.set_active(self.grid.viewports[0])
            self.browser.select_series(cells[0].series.id)
        planes = [(vp, c.plane) for vp, c in zip(self.grid.viewports, cells) if c.plane]
        if planes:
            self.mpr.enter(planes[0][0].model.series, planes)
        self.last_protocol = protocol
        if notes:
            self.statusBar().showMessage(notes[0], 10000)

    def show_skipped(self, skipped, loaded: int, title: str | None = None,
                     already: int = 0, summary: str | None = None) -> None:
        """The non-modal notice listing files that were not used, and why."""
        self.last_skipped = [(Path(p), str(r)) for p, r in skipped]
        self.last_notice = show_skipped(self, self.last_skipped, loaded, already, summary)
        if title and self.last_notice is not None and hasattr(self.last_notice, "setWindowTitle"):
            self.last_notice.setWindowTitle(title)

    def close_all(self) -> None:
        """Close every study: viewports, browser, measurements, decoded pixels."""
        keys = [f.key for f in self.library.frames()]
        self.readings.closing()  # saved before the stores are cleared
        self.loader.forget()
        self.grid.clear()
        self.browser.forget(s.id for s in self.library.series())
        self._library = load("medview.core.study").Library()
        self.browser.set_library(self._library)
        self.segs.refresh()
        for vp in self.grid._all:
            vp.drop_render_cache()
        for k in keys:
            PIXELS.discard(k)
        if self.tag_browser is not None:
            self.tag_browser.set_dataset(None)
        self._update_title()

    # -- dialogs

    def _start_dir(self) -> str:
        return (self.settings.value("general/last_open_dir")
                or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation))

    def _open_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open Files", self._start_dir(),
            "Images (*.dcm *.dicom *.ima *.png *.jpg *.jpeg *.tif *.tiff *.bmp DICOMDIR);;"
            "All files (*)")
        if files:
            self.settings.set_value("general/last_open_dir", str(Path(files[0]).parent))
            self.open_paths(files)

    def _open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open Folder", self._start_dir())
        if folder:
            self.settings.set_value("general/last_open_dir", folder)
            self.open_paths([folder])

    def _open_dicomdir_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open DICOMDIR", self._start_dir(),
                                              "DICOMDIR (DICOMDIR dicomdir);;All files (*)")
        if path:
            self.settings.set_value("general/last_open_dir", str(Path(path).parent))
            self.open_paths([path])

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        items = self.settings.recent_items()
        for i, p in enumerate(items, 1):
            act = menu.addAction(f"&{i % 10}  {p}" if i <= 10 else p)
            act.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        if not items:
            menu.addAction("No recent items").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Recent Items", self.settings.clear_recent)

    def _save_preset(self) -> None:
        m = self.grid.active.model
        w = m.current_window()
        if m.series is None or w is None:
            QMessageBox.information(self, "Save preset", "Open a greyscale image first.")
            return
        modality = m.series.modality or "OT"
        name, ok = QInputDialog.getText(self, "Save window preset",
                                        f"Name for W {w.width:g} / L {w.center:g} ({modality}):")
        if ok and name.strip():
            presets = [p for p in self.settings.user_presets(modality) if p[0] != name.strip()]
            presets.append((name.strip(), w.center, w.width))
            self.settings.set_user_presets(modality, presets)
            self.statusBar().showMessage(f"Saved preset {name.strip()} for {modality}", 4000)

    def _forget_presets(self) -> None:
        series = self.grid.active.model.series
        modality = (series.modality if series else "") or "OT"
        self.settings.set_user_presets(modality, [])
        self.statusBar().showMessage(f"Removed your presets for {modality}", 4000)

    def show_shortcuts(self) -> None:
        actions = (self._file_actions + self.viewer_actions.all() + self._other_actions
                   + self.labelling.actions())
        dlg = ShortcutsDialog(actions, self, extra=GESTURES)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        self.shortcuts_dialog = dlg

    def _about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {__version__}<br>Offline radiology workstation.<br>"
                          "Not a certified medical device unless your deployment says so.")

    # ------------------------------------------------------------------ building

    def _act(self, text: str, slot, key=None, area: str = "File") -> QAction:
        act = QAction(text, self)
        if key is not None:
            act.setShortcut(QKeySequence(key))
        act.setProperty("shortcutArea", area)
        act.triggered.connect(lambda _=False: slot())
        return act

    def _build_file_actions(self) -> None:
        a = self._act
        self.open_files_action = a("&Open Files…", self._open_files_dialog, QKeySequence.StandardKey.Open)
        self.open_folder_action = a("Open &Folder…", self._open_folder_dialog, "Ctrl+Shift+O")
        self.open_dicomdir_action = a("Open &DICOMDIR…", self._open_dicomdir_dialog, "Ctrl+Alt+O")
        self.close_all_action = a("&Close All Studies", self.close_all, "Ctrl+Shift+W")
        self.export_png_action = a("Export View as &PNG…", lambda: self.export.export_png(True), "Ctrl+E")
        self.export_clean_action = a("Export Image as PNG (no overlays)…",
                                     lambda: self.export.export_png(False), "Ctrl+Shift+E")
        self.export_series_action = a("Export Anonymised &Series…",
                                      lambda: self.export.export_anonymised(False))
        self.export_study_action = a("Export Anonymised S&tudy…",
                                     lambda: self.export.export_anonymised(True))
        self.export_sr_action = self.readings.export_action
        self.quit_action = a("&Quit", self.close, "Ctrl+Q")
        self._file_actions = [self.open_files_action, self.open_folder_action,
                              self.open_dicomdir_action, self.close_all_action,
                              self.export_png_action, self.export_clean_action,
                              self.export_series_action, self.export_study_action,
                              self.export_sr_action, self.quit_action]
        self.save_preset_action = a("Save Current Window as Preset…", self._save_preset,
                                    area="Window/Level")
        self.forget_presets_action = a("Remove My Presets for This Modality", self._forget_presets,
                                       area="Window/Level")
        self.smooth_action = QAction("Smooth Interpolation", self, checkable=True, checked=True)
        self.smooth_action.setProperty("shortcutArea", "View")
        self.smooth_action.setToolTip("Interpolate between pixels at every zoom; "
                                      "off shows the pixels as squares")
        self.smooth_action.toggled.connect(self._set_smooth)
        self.open_selected_action = a("Open in Active Viewport", self._open_selected, area="Studies")
        self.hanging_action = QAction("Hanging Protocols on Open", self, checkable=True)
        self.hanging_action.setChecked(self.settings.value("viewer/hanging_protocols"))
        self.hanging_action.setProperty("shortcutArea", "View")
        self.hanging_action.setToolTip("Lay out each study as it opens by modality, body part "
                                       "and series (CR/DX beside the prior, CT in three planes, "
                                       "MR by sequence)")
        self.hanging_action.toggled.connect(
            lambda on: self.settings.set_value("viewer/hanging_protocols", on))
        self.shortcuts_action = a("&Keyboard and Mouse Shortcuts", self.show_shortcuts, "F1", "Help")
        self.about_action = a("&About medview", self._about, area="Help")
        self._other_actions = [self.save_preset_action, self.forget_presets_action,
                               self.smooth_action, self.hanging_action, self.open_selected_action,
                               self.shortcuts_action, self.about_action]
        tree = self.browser.tree  # right-click menu of the series browser
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for act in (self.open_selected_action, self.export_series_action,
                    self.export_study_action):
            tree.addAction(act)
        for act in (self._file_actions + self._other_actions + self.viewer_actions.window_actions()
                    + self.links.actions() + self.mpr.actions()[:2] + self.labelling.actions()):
            self.addAction(act)  # shortcuts work with the menu bar hidden too

    def _build_menus(self) -> None:
        va = self.viewer_actions
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for act in self._file_actions[:3]:
            m.addAction(act)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        for act in self._file_actions[4:9]:
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.labelling.open)
        m.addAction(self.labelling.close)
        m.addSeparator()
        m.addAction(self.close_all_action)
        m.addAction(self.quit_action)

        m = mb.addMenu("&View")
        for act in (va.fit, va.actual, va.zoom_in, va.zoom_out):
            m.addAction(act)
        m.addSeparator()
        for act in (va.rotate_cw, va.rotate_ccw, va.flip_h, va.flip_v, va.invert):
            m.addAction(act)
        m.addSeparator()
        m.addAction(va.reset)
        m.addAction(va.overlays)
        m.addAction(va.scale_bar)
        m.addAction(self.smooth_action)
        m.addSeparator()
        for act in va.layouts.values():
            m.addAction(act)
        m.addAction(self.hanging_action)
        m.addSeparator()
        for act in self.mpr.actions()[:2] + self.links.actions():
            m.addAction(act)
        m.addSeparator()
        self.panels_menu = m.addMenu("&Panels")
        for dock in (self.browser_dock, self.tags_dock):
            self.panels_menu.addAction(dock.toggleViewAction())

        m = mb.addMenu("&Window/Level")
        m.addMenu(va.preset_menu)
        m.addAction(va.auto_window)
        m.addAction(va.image_window)
        m.addSeparator()
        m.addAction(self.save_preset_action)
        m.addAction(self.forget_presets_action)

        m = mb.addMenu("&Measure")
        for act in va.tools.values():
            if act not in self.labelling.mask_tools():  # in Labels
                m.addAction(act)
        m.addSeparator()
        m.addAction(va.delete)
        m.addAction(va.clear_measurements)
        m.addSeparator()
        m.addAction(va.key_image)

        m = mb.addMenu("&Stack")
        m.addAction(va.cine)
        m.addSeparator()
        for act in (va.next_image, va.prev_image, va.page_down, va.page_up,
                    va.first_image, va.last_image):
            m.addAction(act)

        m = mb.addMenu("&Labels")
        lab = self.labelling
        for act in lab.actions():
            m.addAction(act)
            if act in (lab.close, lab.classes[-1], lab.study_classes[-1], lab.previous,
                       lab.redo, lab.mask.commands[-1]):
                m.addSeparator()

        m = mb.addMenu("&Help")
        m.addAction(self.shortcuts_action)
        m.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Tools", self)
        tb.setObjectName("MainToolBar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tb.setIconSize(QSize(24, 24))
        for act, name, short in ((self.open_files_action, "open_file", "Open"),
                                 (self.open_folder_action, "open_folder", "Folder"),
                                 (self.export_png_action, "save_png", "Save PNG")):
            act.setIcon(icon(name))
            act.setIconText(short)
            act.setToolTip(f"{act.text().replace('&', '').rstrip('…')} "
                           f"({act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        tb.addAction(self.open_files_action)
        tb.addAction(self.open_folder_action)
        tb.addSeparator()
        self.viewer_actions.fill_toolbar(tb)
        tb.addSeparator()
        tb.addAction(self.export_png_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb
        mpr_bar = QToolBar("MPR and Linked Views", self)
        mpr_bar.setObjectName("MprToolBar")
        mpr_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        mpr_bar.setIconSize(tb.iconSize())
        self.mpr.fill_toolbar(mpr_bar)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)  # a row of its own: never clipped
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, mpr_bar)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self._status_label = QLabel("")
        self._progress = QProgressBar()
        self._progress.setMaximumWidth(180)
        self._progress.setMaximumHeight(14)
        self._progress.setTextVisible(False)
        self._progress.hide()
        sb.addWidget(self._status_label, 1)
        sb.addPermanentWidget(self._progress)

    # ------------------------------------------------------------------ reactions

    def _mpr_progress(self, done: int, total: int) -> None:
        if total:
            self._progress.setRange(0, total)
            self._progress.setValue(done)
            self._progress.show()
        elif not self.is_loading:
            self._progress.hide()

    def _frame_changed(self, vp) -> None:
        if vp is self.grid.active:
            self._update_title()
            if self.tags_dock.isVisible():
                self._tags_timer.start()

    def _update_tags(self) -> None:
        if self.tag_browser is None:
            if not loaded(_TAG_BROWSER):  # pydicom: imported in the pool, then shown
                if not self._tags_importing:
                    self._tags_importing = True
                    self.workers.start(load, _TAG_BROWSER, on_return=self._tags_imported,
                                       on_error=self._tags_import_failed)
                return
            self.tag_browser = load(_TAG_BROWSER).TagBrowser(self)
            self.tags_dock.setWidget(self.tag_browser)
            # widen on first show, but keep a width the user chose (saved window state)
            if (self.tags_dock.width() < (300 if self._state_restored else 420)
                    and not self.tags_dock.isFloating()):
                width = max(420, min(560, self.width() // 3))  # room for a readable Value column
                self.resizeDocks([self.tags_dock], [width], Qt.Orientation.Horizontal)
        f = self.grid.active.model.frame
        self.tag_browser.set_dataset(f.header if f is not None else None)

    def _tags_imported(self, _module) -> None:
        self._tags_importing = False
        self._update_tags()

    def _tags_import_failed(self, exc: BaseException) -> None:
        self._tags_importing = False
        label = QLabel(user_reason(exc, "loading the DICOM tag browser"))
        label.setWordWrap(True)
        self.tags_dock.setWidget(label)

    def _update_title(self) -> None:
        s = self.grid.active.model.series
        if s is None:
            self.setWindowTitle(APP_NAME)
            return
        patient = s.study.patient.name if s.study and s.study.patient else ""
        self.setWindowTitle(f"{patient} — {s.title} — {APP_NAME}" if patient
                            else f"{s.title} — {APP_NAME}")

    def _set_smooth(self, on: bool) -> None:
        for vp in self.grid._all:
            vp.smooth = on
            vp.update()
        self.settings.set_value("viewer/smooth_interpolation", on)

    def _open_selected(self) -> None:
        series = self.browser.current_series()
        if series is not None:
            self.grid.show_series(series)

    def _apply_cache_budget(self) -> None:
        PIXELS.max_bytes = budget_bytes(self.settings.value("cache/pixel_cache_mb"))

    def _layout_changed(self, name: str) -> None:
        self.settings.set_value("viewer/layout", name)
        self.grid.fill_empty(self.library.series())

    # ------------------------------------------------------------------ Qt events

    def dragEnterEvent(self, event) -> None:
        accept_url_drag(event)

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = take_dropped_paths(event)
        if paths:
            self.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.readings.flush()
        self.labelling.shutdown()  # labels not saved yet get one more try
        self.settings.save_geometry(self)
        self.settings.set_value("viewer/show_overlay", self.viewer_actions.overlays.isChecked())
        self.settings.sync()
        self.loader.shutdown(_QUIT_WAIT_MS)  # first: no prefetch goes on while the rest stops
        self.workers.shutdown(_QUIT_WAIT_MS)
        self.pacs.shutdown()  # a retrieve stops between two images (what arrived is kept)
        self.analysis.shutdown()
        if self.trainer_tab is not None:
            self.trainer_tab.shutdown()
        for c in self.grid.cines.values():
            c.stop()
        super().closeEvent(event)

