"""Labelling in the main window: open a project, keys 1–9 label the image on screen
(Ctrl+1–9 every image of its series), N / Shift+N go to the next / previous unlabelled
image. In a segmentation project keys 1–9 choose the segment, the Brush and Eraser tools
paint the image's mask (shown over the image in the segment's colour), Ctrl+Z / Ctrl+Y
undo and redo an edit; the other mask tools are in :mod:`~medview.qt.labelling.mask_actions`.

The rules live in :class:`~medview.view.labelling.LabellingModel` (no Qt); this connects
it to the window: the file dialog, a pool thread that reads the project's headers, the
active viewport's frame, and the keys. While a project is open, keys 1–9 label instead
of choosing window presets (those stay in the Window/Level menu); closing the project
gives the keys back.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QFrame, QScrollArea

from medview.app.internal_errors import user_reason
from medview.core.imports import load
from medview.qt.labelling.compare_dialog import RetrainComparison
from medview.qt.labelling.mask_actions import MaskActions
from medview.qt.labelling.panel import LabelPanel
from medview.qt.labelling.useful import UsefulCases
from medview.view.labelling import LabellingModel
from medview.view.mask_edit import BRUSH, ERASER, PAINT_TOOLS
from medview.view.model import POINTER

_AREA = "Labelling"
_LAYER = "labelling-mask"  # the image layer showing the mask being painted


class LabellingController(QObject):
    """The window's labelling actions, its Labels dock and the model behind them.

    Parameters
    ----------
    window : MainWindow
        Its grid, library, workers, presets, status bar and :meth:`show_frame` are used.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.model = LabellingModel()
        self.open = self._action("Open &Labelling Project…", self.choose_project,
                                 tip="Label images into the classes of a labelling project")
        self.close = self._action("Close Labelling Project", self.close_project)
        self.classes = [self._action(f"Label as Class {n}", lambda n=n: self._assign(n))
                        for n in range(1, 10)]
        self.series_classes = [self._action(f"Label Series as Class {n}",
                                            lambda n=n: self._assign(n, whole_series=True))
                               for n in range(1, 10)]
        self.study_classes = [self._action(f"Label Study as Class {n}",
                                           lambda n=n: self._assign(n, whole_study=True))
                              for n in range(1, 10)]
        self.skip = self._action("Skip Image", self._skip, "Shift+S",
                                 tip="Leave this image out of the project's labels (Shift+S)")
        self.next = self._action("Next Unlabelled Image", lambda: self._step(+1), "N",
                                 tip="Go to the next image without a label (N)")
        self.previous = self._action("Previous Unlabelled Image", lambda: self._step(-1),
                                     "Shift+N", tip="Go to the previous image without a label "
                                                    "(Shift+N)")
        self.brush = self._tool(BRUSH, "Mask &Brush", "Shift+B",
                                "Paint the chosen segment into the image's mask (Shift+B)")
        self.eraser = self._tool(ERASER, "Mask &Eraser", "Shift+E",
                                 "Erase the image's mask (Shift+E)")
        self.undo = self._action("Undo Mask Edit", self.model.undo, "Ctrl+Z")
        self.redo = self._action("Redo Mask Edit", self.model.redo, "Ctrl+Y")
        self.mask = MaskActions(self)
        self.train = self._action("&Train on These Labels…", self.train_on_labels,
                                  tip="Export the project's labels for the trainer and open "
                                      "the Trainer tab on them")
        self.useful = UsefulCases(self)  # Next Most Useful Case, the model in use
        self.retrained = RetrainComparison(self, self.useful)  # Compare Retrained Model…
        self.panel = LabelPanel(self.model, self, window)
        self.dock = None  # made by make_dock once the window's Panels menu exists
        self._preset_keys: list[QKeySequence] = []
        self.model.events.project.connect(self._project_changed)
        self.model.events.mask.connect(self._show_mask)
        self.model.events.labels.connect(self._filter_browser)
        self.model.events.message.connect(lambda text: window.statusBar().showMessage(text, 6000))
        for vp in window.grid._all:
            vp.model.events.frame.connect(lambda _i, v=vp: v is window.grid.active and self.sync())
        window.grid.activeChanged.connect(lambda _vp: self.sync())
        self._project_changed()

    def make_dock(self):
        """The Labels dock (hidden until a project opens), with its View ▸ Panels toggle;
        it scrolls (the mask tools are taller than a small screen's dock)."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.panel)
        self.dock = self.window.add_panel(scroll, "Labels", "LabelsDock")
        self.dock.hide()
        return self.dock

    def actions(self) -> list[QAction]:
        """Every labelling action (for the window, the shortcuts dialog and the menu)."""
        return [self.open, self.close, *self.classes, *self.series_classes, *self.study_classes,
                self.skip, self.next,
                self.previous, *self.mask_tools(), self.undo, self.redo, *self.mask.commands,
                self.train, *self.useful.actions(), self.retrained.action]

    def mask_tools(self) -> list[QAction]:
        """The viewer tools that edit the mask (brush, eraser, lassos, island removal)."""
        return [self.brush, self.eraser, *self.mask.tools]

    # -- project

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open Labelling Project", self.window._start_dir(),
            "Labelling projects (*.json);;All files (*)")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> None:
        """Read the project and its studies' headers in the pool, then label and show them."""
        self.window.statusBar().showMessage(f"Opening labelling project {Path(path).name}…")
        doing = f"opening labelling project {path}"
        self.window.workers.start(_read_project, str(path), on_return=self._opened,
                                  on_error=lambda exc: self._failed(doing, exc))

    def close_project(self) -> None:
        self.model.close()

    def shutdown(self) -> None:
        """Save pending labels (the window is closing)."""
        self.model.close()

    def _opened(self, labeller) -> None:
        self.model.open(labeller)
        self.window.open_paths([str(s) for s in labeller.project.studies], remember=False)
        self.dock.show()
        self.dock.raise_()
        self.window.statusBar().showMessage(
            f"Labelling {labeller.project.name}: keys 1–{min(9, len(self.model.class_names))} "
            "label the image, N goes to the next unlabelled one", 10000)
        self.sync()

    def _failed(self, doing: str, exc: BaseException) -> None:
        reason = user_reason(exc, doing)
        self.model.events.message.emit(reason)
        self.panel.message.setText(reason)

    def _project_changed(self) -> None:
        on = self.model.labeller is not None
        names = self.model.class_names
        for n, acts in enumerate(zip(self.classes, self.series_classes, self.study_classes), 1):
            for each in acts:  # one per class of the project
                each.setEnabled(on and n <= len(names))
                each.setVisible(n <= len(names))
            name = names[n - 1] if n <= len(names) else f"Class {n}"
            act, series, study = acts
            act.setText(f"Label as {n} {name}")
            series.setText(f"Label Whole Series as {n} {name}")
            study.setText(f"Label Whole Study as {n} {name}")
        for act in (self.close, self.skip, self.next, self.previous, self.train):
            act.setEnabled(on)
        painting = self.model.segmenting
        for act in (*self.mask_tools(), self.undo, self.redo, *self.mask.commands):
            act.setEnabled(painting)
        for act in self.series_classes + self.study_classes:  # a class, not a segment
            act.setVisible(act.isVisible() and not painting)
        for vp in self.window.grid._all:
            vp.model.painter = self.model if painting else None
            if not painting and vp.model.tool in PAINT_TOOLS:
                self.window.viewer_actions.set_tool(POINTER)
            vp.model.set_image_overlay(_LAYER, None)
        self._take_number_keys(on)
        self._filter_browser()

    def _filter_browser(self) -> None:
        """The Studies browser lists the series the panel's filter asks for."""
        on = self.model.labeller is not None and self.model.filter != "all"
        self.window.browser.set_filter(self._lists if on else None)

    def _lists(self, series) -> bool:
        found = (self.model.labeller.images.find(f.path, f.index) for f in series.frames)
        return self.model.lists([im for im in found if im is not None])

    def _take_number_keys(self, take: bool) -> None:
        """Keys 1–9 (Ctrl+1–9: the whole series, Ctrl+Alt+1–9: the whole study) label while a
        project is open; window presets get keys 1–9 back after."""
        presets = self.window.viewer_actions.presets
        if take and not self._preset_keys:
            self._preset_keys = [a.shortcut() for a in presets]
            for a in presets:
                a.setShortcut(QKeySequence())
            for n, (act, series, study) in enumerate(
                    zip(self.classes, self.series_classes, self.study_classes), 1):
                act.setShortcut(QKeySequence(str(n)))
                series.setShortcut(QKeySequence(f"Ctrl+{n}"))
                study.setShortcut(QKeySequence(f"Ctrl+Alt+{n}"))
        elif not take and self._preset_keys:
            for act in self.classes + self.series_classes + self.study_classes:
                act.setShortcut(QKeySequence())
            for a, key in zip(presets, self._preset_keys):
                a.setShortcut(key)
            self._preset_keys = []

    def train_on_labels(self) -> None:
        """Export the labels (in the pool) into the label folder's ``exports/<user@pc>``,
        then show the Trainer tab's new job with that data set."""
        labeller = self.model.labeller
        if labeller is None or not self.model.save_pending():
            return
        out = labeller.project.label_dir / "exports" / labeller.store.writer
        self.model.events.message.emit(f"Exporting the labels of {labeller.project.name}…")
        doing = f"exporting labels to {out}"
        self.window.workers.start(_export, labeller, str(out), on_return=self._exported,
                                  on_error=lambda exc: self._failed(doing, exc))

    def _exported(self, done) -> None:
        self.model.events.message.emit(
            f"Exported {done.count} labelled images to {done.path}"
            + (f" ({len(done.notes)} left out: {done.notes[0]})" if done.notes else "")
            + "; choose the settings and start training")
        self.window.open_trainer()
        tab = self.window.trainer_tab.ensure()
        tab.show_new_job()
        tab.dataset_page.set_path(done.path)

    # -- the image on screen

    def sync(self) -> None:
        """Tell the model which frame the active viewport shows."""
        frame = self.window.grid.active.model.frame
        if frame is None:
            self.model.show(None)
        else:
            self.model.show(frame.path, frame.index, frame.shape, frame.modality_values,
                            frame.params.units)

    def _show_mask(self) -> None:
        """The mask being painted, over the active viewport's image."""
        vp = self.window.grid.active
        frame = vp.model.frame
        rgba = self.model.mask_rgba() if frame is not None else None
        # each segment's opacity is in the layer's alpha
        vp.model.set_image_overlay(_LAYER, rgba, frame.key if frame is not None else None, 1.0)

    def go_to(self, image) -> None:
        """Bring project image ``image`` on screen (if its study has been read)."""
        if image is None:
            return
        key = self._frame_key(image)
        if key is None:
            self.model.events.message.emit(f"{image.path.name} is still being read; try again")
            return
        self.window.show_frame(key)
        self.sync()

    def _frame_key(self, image) -> tuple | None:
        """The open frame's key for ``image``: the same path string (both were read from the
        project's study paths), else the same file reached by another path."""
        wanted = (str(image.path), image.frame)
        keys = [f.key for f in self.window.library.frames()]
        if wanted in keys:
            return wanted
        resolved = image.path.resolve()
        return next((k for k in keys if k[1] == image.frame and Path(k[0]).resolve() == resolved),
                    None)

    def _assign(self, number: int, whole_series: bool = False, whole_study: bool = False) -> None:
        self.sync()
        images = None
        if whole_series or whole_study:
            images = self._shown_images(whole_study)
            if not images:
                what = "study" if whole_study else "series"
                self.model.events.message.emit(f"The {what} on screen has no image of the project")
                return
        self.go_to(self.model.assign(number, images))

    def _shown_images(self, whole_study: bool) -> list:
        """The project images among the frames of the active viewport's series, or of
        every series of its study."""
        series = self.window.grid.active.model.series
        if series is None or self.model.labeller is None:
            return []
        every = series.study.series if whole_study and series.study is not None else [series]
        found = (self.model.labeller.images.find(f.path, f.index) for s in every for f in s.frames)
        return [im for im in found if im is not None]

    def _skip(self) -> None:
        self.sync()
        self.go_to(self.model.skip())

    def _step(self, direction: int) -> None:
        self.sync()
        self.go_to(self.model.step(direction))

    def _tool(self, tool: str, text: str, key: str, tip: str) -> QAction:
        """A checkable viewer tool, exclusive with the measuring tools."""
        act = self._action(text, lambda: self.window.viewer_actions.set_tool(tool), key, tip)
        act.setCheckable(True)
        self.window.viewer_actions.tool_group.addAction(act)
        self.window.viewer_actions.tools[tool] = act
        return act

    def _action(self, text: str, slot, key: str | None = None, tip: str = "") -> QAction:
        act = QAction(text, self.window)
        if key:
            act.setShortcut(QKeySequence(key))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setProperty("shortcutArea", _AREA)
        if tip:
            act.setToolTip(tip)
        act.triggered.connect(lambda _=False: slot())
        return act


def _read_project(path: str):
    """The project and its studies' headers (in a pool thread: pydicom loads here)."""
    return load("medview.labels.labelling").Labeller.open(path)


def _export(labeller, out: str):
    """The project's labels in the trainer's layout, its held-out patients left out for
    comparing the trained model later (in a pool thread)."""
    return load("medview.labels.exchange").export_labels(labeller, Path(out), hold_out=True)
