"""The AI panel (a dock): pick a model, analyse the image shown, see and overlay the result.

Thin: the work is done by :class:`~medview.qt.analysis.service.AnalysisService`; results
are drawn by :mod:`.result_view` and, on the image, by the viewport's image-overlay layer
(:meth:`~medview.view.model.ViewModel.set_image_overlay`) with layers made by
:mod:`medview.analysis.overlays`. The panel follows the active viewport: it shows the
cached result of the frame on screen, and with *Analyse each image shown* it analyses
every frame the user scrolls to (each new frame supersedes the unfinished one).

The status line belongs to what it describes (:mod:`medview.analysis.status`): a result
or an error is about one image and model and is shown only while that image is on screen
with that model, in the viewer tab; loading messages are about the model (with a progress bar
that follows the estimate of :mod:`medview.analysis.load_times`).

The model list follows the model folders: :meth:`AnalysisPanel.refresh_models` re-reads
them, and a file-system watcher on the user model folder calls it when a model is
imported or registered by the trainer.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFrame, QHBoxLayout, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QSlider, QVBoxLayout,
                               QWidget)

from medview.analysis import overlays
from medview.analysis.pool_jobs import CANCELLED, WAITING, Analysis, ModelId, Request, failure_text
from medview.analysis.measure import series_volume
from medview.analysis.status import BUSY, ERROR, OK, WARNING, StatusLines
from medview.core.imports import load
from medview.inference.scope import ImageFacts, Scope, check_scope
from medview.qt import theme
from medview.qt.analysis.model_picker import ModelPicker, ElidedLabel
from medview.qt.analysis.result_view import ResultView, overlay_caption
from medview.qt.analysis.service import AnalysisService
from medview.qt.settings import value_or_default

OVERLAY = "ai"   #: the viewport image-overlay layer the panel draws in
_AUTO_DELAY_MS = 60


def _ready_text(key: str, info: dict) -> str:
    how = {"measured": " (fastest measured now)",
           "default": " (the faster engines are measured in the background)"}.get(
        info.get("selection"), "")
    return (f"Ready: {key.replace('@', ' ')} · {info.get('engine')} {info.get('precision')} · "
            f"{str(info.get('device', '')).upper()}{how}")


def _unknown_key(entry) -> str:
    """Setting: does the user let ``entry``'s model run on images with no body part?"""
    return f"ai/accept_unknown_body_part/{entry.name}"


class AnalysisPanel(QWidget):
    """The dock widget; ``grid`` is the viewer grid, ``settings`` the app's settings.

    Attributes
    ----------
    service : AnalysisService
    picker : ModelPicker
    result_view : ResultView
    status_label : QLabel
        One line: what happens now, or what went wrong (model and field named).
    status : StatusLines
        The lines by image, model and panel; ``status.current`` is the one shown.
    """

    stateChanged = Signal(str)

    def __init__(self, grid, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AnalysisPanel")
        self.grid = grid
        self.settings = settings
        self.service = AnalysisService(
            device=value_or_default(settings, "inference/device"),
            engine=value_or_default(settings, "inference/engine"),
            precision=value_or_default(settings, "inference/precision"), parent=self)
        self.batch_dialog = None
        self._vp = None
        self._state = ""
        self.status = StatusLines()
        self._viewing = True
        self._eta: dict[str, tuple[float, float]] = {}  # model key → (start, seconds)
        self._build()
        self._connect()

        self._watcher = QFileSystemWatcher(self)
        self._refresh_timer = QTimer(self, singleShot=True, interval=300)
        self._refresh_timer.timeout.connect(self.refresh_models)
        self._watcher.directoryChanged.connect(lambda _p: self._refresh_timer.start())
        self._auto_timer = QTimer(self, singleShot=True, interval=_AUTO_DELAY_MS)
        self._auto_timer.timeout.connect(self._auto_analyze)
        self._eta_timer = QTimer(self, interval=200)
        self._eta_timer.timeout.connect(self._render_status)

        from medview.qt.viewer.viewport import Viewport

        for vp in grid.findChildren(Viewport):
            vp.model.events.frame.connect(lambda _i, v=vp: self._frame_changed(v))
        grid.activeChanged.connect(self._set_viewport)
        self._set_viewport(grid.active)
        self.refresh_models()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        s = self.settings
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(scroll)
        body = QWidget(scroll)
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)

        self.picker = ModelPicker(body)
        lay.addWidget(self.picker)
        # What the chosen model is for, at full size, before anything runs.
        self.intended_label = QLabel(body)
        self.intended_label.setObjectName("AiIntendedInput")
        self.intended_label.setWordWrap(True)
        lay.addWidget(self.intended_label)
        self.unknown_check = QCheckBox("Analyse images that record no body part", body)
        self.unknown_check.setToolTip(
            "This model declares the body parts it is for. Images whose header names no "
            "body part are refused unless you tick this (remembered per model).")
        lay.addWidget(self.unknown_check)

        # everything below needs a model: hidden while none is installed
        self.controls = box = QWidget(body)
        cl = QVBoxLayout(box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(6)
        row = QHBoxLayout()
        self.analyze_button = QPushButton("Analyse", box)
        self.analyze_button.setToolTip("Analyse the image in the active viewport")
        self.cancel_button = QPushButton("Cancel", box)
        row.addWidget(self.analyze_button, 1)
        row.addWidget(self.cancel_button)
        cl.addLayout(row)
        self.auto_check = QCheckBox("Analyse each image shown", box)
        self.auto_check.setToolTip("Analyse every image you scroll to (a newer image "
                                   "replaces an unfinished one)")
        self.auto_check.setChecked(value_or_default(s, "ai/auto"))
        self.gradcam_check = QCheckBox("Heat map (classifiers)", box)
        self.gradcam_check.setToolTip("Show where the evidence for the predicted class lies: the map "
                                      "the model decided from when it has one, else Grad-CAM")
        self.gradcam_check.setChecked(value_or_default(s, "ai/gradcam"))
        cl.addWidget(self.auto_check)
        cl.addWidget(self.gradcam_check)
        lay.addWidget(box)

        srow = QHBoxLayout()
        self.status_label = ElidedLabel(body)
        self.status_label.setObjectName("AiStatus")
        self.progress = QProgressBar(body)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(70)
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.hide()
        srow.addWidget(self.status_label, 1)
        srow.addWidget(self.progress)
        lay.addLayout(srow)

        self.result_box = box = QWidget(body)
        cl = QVBoxLayout(box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(6)
        line = QFrame(box)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet(f"color: {theme.BORDER};")
        cl.addWidget(line)
        self.result_view = ResultView(box)
        cl.addWidget(self.result_view)

        ov = QHBoxLayout()
        self.overlay_check = QCheckBox("Overlay", box)
        self.overlay_check.setToolTip("Draw the mask or heat map on the image")
        self.overlay_check.setChecked(value_or_default(s, "ai/show_overlay"))
        self.contour_check = QCheckBox("Contours only", box)
        self.contour_check.setChecked(value_or_default(s, "ai/contours_only"))
        ov.addWidget(self.overlay_check)
        ov.addWidget(self.contour_check)
        ov.addStretch(1)
        cl.addLayout(ov)
        orow = QHBoxLayout()
        orow.addWidget(QLabel("Opacity", box))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, box)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(value_or_default(s, "ai/opacity"))
        self.opacity_slider.setToolTip("Opacity of the mask or heat map")
        orow.addWidget(self.opacity_slider, 1)
        cl.addLayout(orow)

        brow = QHBoxLayout()
        self.series_button = QPushButton("Analyse series", box)
        self.series_button.setToolTip("Analyse every image of the series (volume, table, CSV)")
        self.batch_button = QPushButton("Batch…", box)
        self.batch_button.setToolTip("Analyse a series, a study or a folder; export CSV")
        brow.addWidget(self.series_button, 1)
        brow.addWidget(self.batch_button, 1)
        cl.addLayout(brow)
        lay.addWidget(box)
        lay.addStretch(1)
        note = theme.note_label("Decision support only: a model's output is not a diagnosis.", body,
                                colour=theme.TEXT_DISABLED)
        lay.addWidget(note)

    def _connect(self) -> None:
        sv = self.service
        self.picker.modelChanged.connect(lambda _e: self._model_changed())
        self.picker.modelActivated.connect(self._model_activated)
        self.picker.importFolderRequested.connect(self.import_folder)
        self.picker.importFileRequested.connect(self.import_file)
        self.analyze_button.clicked.connect(lambda: self.analyze())
        self.result_view.runAnyway.connect(lambda: self.analyze(run_anyway=True))
        self.unknown_check.toggled.connect(self._unknown_toggled)
        self.cancel_button.clicked.connect(self.cancel)
        self.series_button.clicked.connect(lambda: self.open_batch("series", start=True))
        self.batch_button.clicked.connect(lambda: self.open_batch())
        self.auto_check.toggled.connect(self._auto_toggled)
        self.gradcam_check.toggled.connect(self._gradcam_toggled)
        self.overlay_check.toggled.connect(lambda on: self._option("ai/show_overlay", on))
        self.contour_check.toggled.connect(lambda on: self._option("ai/contours_only", on))
        self.opacity_slider.valueChanged.connect(self._opacity_changed)
        sv.modelStatus.connect(self._on_model_status)
        sv.modelEta.connect(self._on_model_eta)
        sv.modelReady.connect(self._on_model_ready)
        sv.engineChanged.connect(self._on_engine_changed)
        sv.modelFailed.connect(self._on_model_failed)
        sv.started.connect(lambda r: self._update_controls())
        sv.progress.connect(self._on_progress)
        sv.finished.connect(self._on_finished)
        sv.failed.connect(self._on_failed)
        sv.cancelled.connect(self._on_cancelled)
        sv.notice.connect(lambda m: self._status(m, WARNING))
        sv.importFinished.connect(self._on_imported)
        sv.importFailed.connect(lambda m: self._status(m, ERROR))
        sv.batchRow.connect(self._on_batch_row)
        sv.batchFinished.connect(lambda job: self._show_current())

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> str:
        """``"no-model"``, ``"idle"``, ``"loading"`` (the model) or ``"running"``."""
        if not self.picker.has_models:
            return "no-model"
        req = self.service.current(self._vp)
        if req is None:
            return "idle"
        return "loading" if req.state == WAITING else "running"

    @property
    def viewport(self):
        """The viewport the panel works on (the active one)."""
        return self._vp

    def current_entry(self):
        return self.picker.current()

    def current_series(self):
        return self._vp.model.series if self._vp is not None else None

    def refresh_models(self) -> None:
        """Re-read the model folders (the trainer or an import added or changed one)."""
        from medview.inference.registry import Registry, no_models_message

        registry = Registry()
        try:
            entries = registry.entries()
        except OSError as err:
            self._status(f"Cannot read the model folders: {err}", ERROR)
            entries = []
        chosen = {}
        for e in entries:  # as Registry.available(): a user model hides a shipped twin
            if e.valid:
                chosen[(e.name, e.version)] = e
        available = list(chosen.values())
        broken = [e for e in entries if not e.valid]
        self.picker.set_entries(available, broken, no_models_message(registry))
        self.service.forget_models([ModelId.of(e) for e in available])
        self._watch(registry)
        self._show_intended()
        self._update_controls()

    def analyze(self, frame=None, run_anyway: bool = False) -> Request | None:
        """Analyse the active viewport's frame (or ``frame``) with the chosen model.

        An image outside the model's declared input is not analysed: the result area
        says why, with "Run anyway" (``run_anyway=True``: analysed, marked, audited)."""
        vp = self._vp
        entry = self.picker.current()
        if entry is None:
            self._status("No model installed: import one first.", ERROR)
            return None
        frame = frame if frame is not None else (vp.model.frame if vp is not None else None)
        if frame is None:
            self._status("Open an image first.", ERROR)
            return None
        scope = self.scope_of(frame, entry)
        if not scope.inside and not run_anyway and self.service.cached(
                frame, ModelId.of(entry)) is None:
            self._refuse(frame, entry, scope)
            return None
        explain = self.gradcam_check.isChecked()
        req = self.service.analyze(
            vp, frame, entry, explain=explain, layer=self._layer_mode(entry.manifest.task),
            scope={"outside_scope": run_anyway,
                   "accept_unknown_body_part": self.accepts_unknown_body_part(entry)})
        if req.is_open:
            self._say_running(req)
            if vp is not None and frame is vp.model.frame and self.result_view.analysis is None:
                self.result_view.show_message("Analysing…")
        self._update_controls()
        return req

    def cancel(self) -> None:
        """Cancel the active viewport's analysis (its result is never shown)."""
        self._auto_timer.stop()
        self.service.cancel(self._vp)

    def accepts_unknown_body_part(self, entry) -> bool | None:
        """The user's choice for ``entry``'s model on images that record no body part
        (None: the manifest's own default)."""
        return value_or_default(self.settings, _unknown_key(entry))

    def scope_of(self, frame, entry) -> Scope:
        """Is ``frame`` inside ``entry``'s declared input? (Header only: instant.)"""
        return check_scope(entry.manifest.intended_input, ImageFacts.from_frame(frame),
                           self.accepts_unknown_body_part(entry))

    def _refuse(self, frame, entry, scope: Scope) -> None:
        self.result_view.show_refusal(scope, entry.manifest)
        self._status(f"{frame.label}: not analysed, outside {entry.name}'s intended input",
                     WARNING, frame.key, ModelId.of(entry).key)
        self._update_controls()

    def _unknown_toggled(self, on: bool) -> None:
        entry = self.picker.current()
        if entry is not None and self.settings is not None:
            self.settings.set_value(_unknown_key(entry), on)
            self._show_current()

    def open_batch(self, source: str | None = None, start: bool = False):
        """Show the batch window (and start a batch over ``source`` at once)."""
        BatchDialog = load("medview.qt.analysis.batch").BatchDialog

        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self)
        dlg = self.batch_dialog
        if source is not None:
            i = dlg.source_combo.findData(source)
            if i >= 0:
                dlg.source_combo.setCurrentIndex(i)
        dlg.show()
        dlg.raise_()
        if start:
            dlg.start(source)
        return dlg

    def show_frame(self, frame_key) -> bool:
        """Scroll the active viewport to the frame ``frame_key`` (from the batch table)."""
        vp = self._vp
        if vp is None or vp.model.series is None:
            return False
        for i, f in enumerate(vp.model.series.frames):
            if f.key == frame_key:
                vp.model.set_index(i)
                return True
        return False

    def shutdown(self) -> None:
        """Stop everything (the main window closes)."""
        self._auto_timer.stop()
        self._refresh_timer.stop()
        self.service.shutdown()

    # ------------------------------------------------------------------ import

    def _start_dir(self) -> str:
        last = value_or_default(self.settings, "ai/last_import_dir")
        return last or QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.HomeLocation)

    def import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder",
                                                  self._start_dir())
        if folder:
            self.import_model(folder)

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import model weights", self._start_dir(),
            "Model weights (*.safetensors *.pth *.pt *.bin);;All files (*)")
        if not path:
            return
        manifest = Path(path).with_name("model.json")
        if not manifest.is_file():
            chosen, _ = QFileDialog.getOpenFileName(
                self, f"The model.json that describes {Path(path).name}",
                str(Path(path).parent), "Model manifest (*.json)")
            if not chosen:
                return
            manifest = Path(chosen)
        self.import_model(path, manifest)

    def import_model(self, source, manifest=None) -> bool:
        """Import ``source`` (folder or weights file) in the background; False if refused."""
        from medview.inference.manifest import ModelError, read_manifest
        from medview.inference.registry import Registry

        source = Path(source)
        if self.settings is not None:
            self.settings.set_value("ai/last_import_dir", str(source.parent))
        try:
            parsed = read_manifest(Path(manifest) if manifest else (
                source if source.is_dir() else source.with_name("model.json")))
        except ModelError as err:
            self._status(failure_text(err), ERROR)
            return False
        replace = False
        registry = Registry()
        if (registry.user_dir / f"{parsed.name}-{parsed.version}").exists():
            answer = QMessageBox.question(
                self, "Replace model?",
                f"{parsed.name} {parsed.version} is already installed. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
            replace = True
        self._status(f"Importing {parsed.name} {parsed.version}…", BUSY)
        self.service.import_model(source, manifest, replace_existing=replace)
        return True

    def _on_imported(self, entry) -> None:
        self.refresh_models()
        self.picker.select(entry.name, entry.version)
        self._status(f"Imported {entry.name} {entry.version}.", OK)

    # ------------------------------------------------------------------ reactions

    def _set_viewport(self, vp) -> None:
        self._vp = vp
        self._show_current()
        self._update_controls()

    def _frame_changed(self, vp) -> None:
        if vp is not self._vp:
            return
        self._show_current()
        if self.auto_check.isChecked() and self.picker.current() is not None \
                and vp.model.frame is not None:
            self._auto_timer.start()
        self._update_controls()

    def _auto_analyze(self) -> None:
        vp = self._vp
        if vp is None or vp.model.frame is None or self.picker.current() is None:
            return
        if self._cached_for(vp.model.frame) is None:
            self.analyze()  # outside the declared input it only says why

    def _auto_toggled(self, on: bool) -> None:
        self._option("ai/auto", on, redraw=False)
        if on:
            self._auto_timer.start()

    def _gradcam_toggled(self, on: bool) -> None:
        self._option("ai/gradcam", on)

    def _model_changed(self) -> None:
        self._show_intended()
        self._show_current()
        self._update_controls()

    def _model_activated(self, entry) -> None:
        if entry is not None:  # the user chose it: get it ready
            self.service.load_model(entry)

    def _on_model_status(self, key: str, message: str) -> None:
        self._status(message, BUSY, model=key)

    def _on_model_eta(self, key: str, seconds: float) -> None:
        self._eta[key] = (time.monotonic(), seconds)

    def _on_model_ready(self, key: str, info: dict) -> None:
        self._eta.pop(key, None)
        self._status(_ready_text(key, info), OK, model=key)
        req = self.service.current(self._vp)
        if req is not None and req.model.key == key:
            self._say_running(req)  # what the user waits for now
        self._update_controls()

    def _on_engine_changed(self, key: str, info: dict) -> None:
        # measured in the background: the next results name the new engine. Only the
        # model's own "Ready" line changes; a newer line about an image stays on top.
        line = self.status.line_for(None, key)
        if line is not None and line.kind == OK:
            if self.status.current is line:
                self.status.say(_ready_text(key, info), OK, model=key)
            else:  # saying it would put it over the newer line; its old text is stale
                self.status.drop(None, key)
            self._render_status()

    def _on_model_failed(self, key: str, message: str) -> None:
        self._eta.pop(key, None)
        self._status(message, ERROR, model=key)
        if self._is_current_model(key) and self.result_view.analysis is None:
            self.result_view.show_message("")
        self._update_controls()

    def _on_progress(self, req: Request, message: str) -> None:
        self._status(f"{req.frame.label}: {message}", BUSY, req.frame.key, req.model.key)

    def _on_finished(self, req: Request, analysis: Analysis) -> None:
        vp = req.slot
        if vp is None:
            return
        current = self.picker.current()
        if current is None or ModelId.of(current) != req.model:
            self._update_controls()
            return
        if vp.model.frame is not None and vp.model.frame.key == req.frame.key:
            self._display(vp, analysis)
        r = analysis.result
        where = "from cache" if req.cached else f"{r.ms:.0f} ms"
        self._status(f"{req.frame.label}: {r.label or 'no finding'} ({where})", OK,
                     req.frame.key, req.model.key)
        self._update_controls()

    def _on_failed(self, req: Request, message: str) -> None:
        label = req.frame.label
        # a model problem names the model (and the field); an image problem the file
        named = message.startswith((label, f"model '{req.model.name}'"))
        self._status(message if named else f"{label}: {message}", ERROR,
                     req.frame.key, req.model.key)
        self._show_current()
        self._update_controls()

    def _on_cancelled(self, req: Request) -> None:
        if req.state == CANCELLED:
            self._status("Cancelled.", OK, req.frame.key, req.model.key)
            self._show_current()
        else:  # superseded: its "Analysing…" line no longer describes anything
            self.status.drop(req.frame.key, req.model.key, kind=BUSY)
            self._render_status()
        self._update_controls()

    def _on_batch_row(self, job, row) -> None:
        vp = self._vp
        if vp is not None and vp.model.frame is not None and row.frame_key == vp.model.frame.key \
                and self.result_view.analysis is None:
            self._show_current()

    # ------------------------------------------------------------------ display

    def shown_result(self):
        """``(result, frame, model entry)`` of the active viewport's frame under the chosen
        model (what the panel shows), or None when that frame has no result yet."""
        vp = self._vp
        frame = vp.model.frame if vp is not None else None
        analysis = self._cached_for(frame)
        return None if analysis is None else (analysis.result, frame, self.picker.current())

    def _cached_for(self, frame) -> Analysis | None:
        entry = self.picker.current()
        if entry is None or frame is None:
            return None
        return self.service.cached(frame, ModelId.of(entry))

    def result_for(self, frame):
        """The chosen model's result for ``frame`` when it has been analysed (else None),
        e.g. a segmentation to accept as a label."""
        analysis = self._cached_for(frame)
        return analysis.result if analysis is not None else None

    def set_viewing(self, on: bool) -> None:
        """The viewer tab is (not) the one shown: lines about an image only show with it."""
        self._viewing = on
        self._show_current()
        self._update_controls()  # the result of an image not shown is hidden too

    def _show_current(self) -> None:
        """Show the active viewport's result for the frame on screen, if there is one
        (and the status line that applies to it)."""
        vp = self._vp
        entry = self.picker.current()
        frame = vp.model.frame if vp is not None else None
        model_key = ModelId.of(entry).key if entry is not None else None
        self.status.show(frame.key if frame is not None else None, model_key, self._viewing)
        self._render_status()
        if vp is None:
            return
        if entry is None:
            self.result_view.show_message("")
            vp.model.set_image_overlay(OVERLAY, None)
            return
        frame = vp.model.frame
        analysis = self._cached_for(frame)
        if analysis is not None:
            self._display(vp, analysis)
            return
        vp.model.set_image_overlay(OVERLAY, None)
        req = self.service.current(vp)
        if frame is None:
            self.result_view.show_message("")
        elif req is not None and req.frame.key == frame.key:
            self.result_view.show_message("Analysing…")
        elif not (scope := self.scope_of(frame, entry)).inside:
            self.result_view.show_refusal(scope, entry.manifest)
        else:
            line = self.status.line_for(frame.key, model_key)
            failed = line is not None and line.kind == ERROR
            self.result_view.show_message("Analysis failed" if failed else "Not analysed yet")

    def _display(self, vp, analysis: Analysis) -> None:
        r = analysis.result
        if vp is self._vp:
            entry = self.picker.current()
            manifest = entry.manifest if entry is not None else None
            volume = None
            if r.task == "segmentation" and vp.model.count > 1:
                frames = vp.model.frames
                volume = series_volume(frames, self.service.cache.areas_for(
                    frames, ModelId.of(entry)))
            self.result_view.show_analysis(
                analysis, manifest, self._colours(r), volume,
                heatmap_shown=self.overlay_check.isChecked() and self.gradcam_check.isChecked())
        rgba = self._rgba(analysis)
        frame_key = vp.model.frame.key if vp.model.frame is not None else None
        vp.model.set_image_overlay(OVERLAY, rgba, frame_key=frame_key,
                             opacity=self.opacity_slider.value() / 100.0,
                             caption=overlay_caption(analysis.result))

    @staticmethod
    def _colours(result) -> dict[int, str]:
        values = getattr(result, "mask_values", None) or {}
        return overlays.class_colours(values.keys())

    def _layer_mode(self, result_task: str | None = None) -> str | None:
        """The overlay layer the options ask for (None: no overlay)."""
        if not self.overlay_check.isChecked():
            return None
        entry = self.picker.current()
        task = result_task or (entry.manifest.task if entry is not None else "")
        if task == "segmentation":
            return overlays.CONTOUR if self.contour_check.isChecked() else overlays.FILL
        return overlays.HEAT if self.gradcam_check.isChecked() else None

    def _rgba(self, analysis: Analysis):
        """The overlay layer of ``analysis`` under the current options (None: nothing)."""
        mode = self._layer_mode(analysis.result.task)
        if mode is None:
            return None
        return analysis.layer(mode)

    def _option(self, key: str, value, redraw: bool = True) -> None:
        if self.settings is not None:
            self.settings.set_value(key, value)
        if redraw:
            self._show_current()

    def _opacity_changed(self, value: int) -> None:
        from medview.qt.viewer.viewport import Viewport

        for vp in self.grid.findChildren(Viewport):
            vp.model.set_image_overlay_opacity(OVERLAY, value / 100.0)
        if self.settings is not None:
            self.settings.set_value("ai/opacity", value)

    def _is_current_model(self, key: str) -> bool:
        entry = self.picker.current()
        return entry is not None and ModelId.of(entry).key == key

    # ------------------------------------------------------------------ status

    def _status(self, text: str, kind: str = OK, frame=None, model: str | None = None) -> None:
        """Set the status line of a scope: an image (``frame`` key, analysed by ``model``),
        a ``model`` key, or the panel (neither). ``kind`` is ``"ok"``, ``"busy"`` (with a
        busy bar), ``"warning"`` or ``"error"``. Shown if it applies to what is on screen."""
        self.status.say(text, kind, frame, model)
        self._render_status()

    def _say_running(self, req: Request) -> None:
        self._status(f"Analysing {req.frame.label} with {req.model.label}…", BUSY,
                     req.frame.key, req.model.key)

    def _render_status(self) -> None:
        line = self.status.current
        kind = line.kind if line is not None else OK
        colour = {ERROR: theme.ERROR, WARNING: theme.WARNING}.get(kind, theme.TEXT_DIM)
        self.status_label.setStyleSheet(f"color: {colour};")
        self.status_label.set_full_text(line.text if line is not None else "")
        eta = self._eta.get(line.model) if line is not None and kind == BUSY else None
        if eta is not None and eta[1] > 0:  # loading: the bar follows the estimate
            start, seconds = eta
            self.progress.setRange(0, 100)
            self.progress.setValue(min(95, int(100 * (time.monotonic() - start) / seconds)))
            if not self._eta_timer.isActive():
                self._eta_timer.start()
        else:
            self.progress.setRange(0, 0)
            self._eta_timer.stop()
        self.progress.setVisible(kind == BUSY)

    def _show_intended(self) -> None:
        """What the chosen model is for, and its per-model choice on unknown body parts."""
        entry = self.picker.current()
        intended = entry.manifest.intended_input if entry is not None else None
        if entry is None:
            self.intended_label.clear()
        elif intended is None:
            self.intended_label.setText("For: any image (this model declares no intended "
                                        "input, so nothing is checked)")
        else:
            self.intended_label.setText(f"For: {intended.describe()}")
        self.intended_label.setVisible(entry is not None)
        asks = intended is not None and bool(intended.body_parts)
        self.unknown_check.setVisible(asks)
        if asks:
            accepted = self.accepts_unknown_body_part(entry)
            self.unknown_check.blockSignals(True)
            self.unknown_check.setChecked(intended.unknown_body_part if accepted is None
                                          else accepted)
            self.unknown_check.blockSignals(False)

    def _update_controls(self) -> None:
        entry = self.picker.current()
        vp = self._vp
        has_frame = vp is not None and vp.model.frame is not None
        busy = self.service.current(vp) is not None
        self.analyze_button.setEnabled(entry is not None and has_frame)
        self.cancel_button.setEnabled(busy)
        has_series = vp is not None and vp.model.count > 0
        self.series_button.setEnabled(entry is not None and has_series)
        self.batch_button.setEnabled(entry is not None)
        task = entry.manifest.task if entry is not None else ""
        self.controls.setVisible(self.picker.has_models)
        self.result_box.setVisible(self.picker.has_models and self._viewing)
        self.gradcam_check.setEnabled(task != "segmentation")
        self.contour_check.setEnabled(task != "classification")
        state = self.state
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # ------------------------------------------------------------------ watching

    def _watch(self, registry) -> None:
        """Watch the user model folder (or its nearest existing parent until it exists)."""
        wanted = []
        for root, _source in registry.roots:
            p = Path(root)
            while not p.is_dir() and p.parent != p:
                p = p.parent
            if p.is_dir():
                wanted.append(str(p))
        current = set(self._watcher.directories())
        if current != set(wanted):
            if current:
                self._watcher.removePaths(list(current))
            if wanted:
                self._watcher.addPaths(sorted(set(wanted)))
