"""The window's measurements and key images saved with their studies, and exported as
DICOM SR: the Qt side of :mod:`medview.app.readings` (a save timer, a file dialog, the
status bar). The rules live there; this only connects them to the views."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from medview.app.internal_errors import user_reason
from medview.core.annotations import AnnotationStore
from medview.core.imports import load
from medview.core.key_images import KeyImages

SAVE_DELAY_MS = 800  # a measurement dragged point by point is saved once it rests


class ReadingController(QObject):
    """Loads saved readings as studies open, saves changes after a pause, exports SR.

    Parameters
    ----------
    window : MainWindow
        Its grid's stores, models, workers, settings and status bar are used.
    """

    def __init__(self, window, root=None) -> None:
        super().__init__(window)
        self.window = window
        self.root = root
        self._keeper = None
        grid = window.grid
        self._timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        for vp in grid._all:
            for event in (vp.model.events.annotations, vp.model.events.key_image):
                event.connect(lambda v=vp: self._changed(v.model))
        self.export_action = QAction("Export Measurements as DICOM &SR…", window)
        self.export_action.setProperty("shortcutArea", "File")
        self.export_action.setToolTip("The study's measurements as a DICOM SR (TID 1500) and "
                                      "its key images as a Key Object Selection document")
        self.export_action.triggered.connect(lambda _=False: self.export_sr())
        self.last_export: tuple[list[str], list[str]] | None = None

    # -- keeping

    @property
    def keeper(self):
        """The :class:`~medview.app.readings.ReadingKeeper`, made when studies first open
        (it reads DICOM references: pydicom stays out of the window's start-up)."""
        if self._keeper is None:
            grid = self.window.grid
            self._keeper = load("medview.app.readings").ReadingKeeper(
                grid.annotations, grid.key_images, self.root)
        return self._keeper

    def opened(self, studies) -> None:
        """Studies got images: bring back what was saved on them."""
        self._report(self.keeper.opened(studies))

    def flush(self) -> None:
        """Save what changed now (the timer, closing studies, quitting)."""
        self._timer.stop()
        if self._keeper is not None:
            self._report(self._keeper.flush())

    def closing(self) -> None:
        """Every study is about to close: save, then forget them."""
        if self._keeper is not None:
            self.flush()
            self._keeper.forget()

    def _changed(self, model) -> None:
        series = model.series
        self.keeper.changed(series.study if series is not None else None)
        self._timer.start()

    # -- exporting

    def export_sr(self, path: str | None = None) -> None:
        """Export the active study's measurements (and key images, beside them) as SR;
        ``path`` skips the file dialog (tests, scripts)."""
        series = self.window.grid.active.model.series
        if series is None or series.study is None:
            QMessageBox.information(self.window, "Export SR", "Open a study first.")
            return
        if path is None:
            start = self.window.settings.value("general/last_open_dir") or str(Path.home())
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export Measurements as DICOM SR",
                str(Path(start) / "measurements-sr.dcm"), "DICOM (*.dcm);;All files (*)")
            if not path:
                return
        out = Path(path)
        key_out = out.with_name(f"{out.stem}-key-images{out.suffix or '.dcm'}")
        study = series.study
        annotations, key_images = self._snapshot()
        self.window.statusBar().showMessage("Exporting SR…")
        self.window.workers.start(
            load_and_export, study, annotations, key_images, str(out),
            str(key_out) if len(key_images) else None,
            on_return=self._exported, on_error=self._export_failed)

    def _snapshot(self) -> tuple[AnnotationStore, KeyImages]:
        """Copies of the stores, for a pool thread while the user goes on measuring."""
        grid = self.window.grid
        annotations, key_images = AnnotationStore(), KeyImages()
        for key, items in grid.annotations.items():
            for a in items:
                if a.complete:
                    annotations.add(key, a)
        for key in grid.key_images:
            key_images.mark(key)
        return annotations, key_images

    def _exported(self, result) -> None:
        done, notes = result
        self.last_export = (done, notes)
        self.window.statusBar().showMessage("; ".join(done + notes), 10000)

    def _export_failed(self, exc: BaseException) -> None:
        self.last_export = None
        reason = str(exc) if isinstance(exc, ValueError) else user_reason(exc, "exporting SR")
        self.window.statusBar().showMessage(f"SR not exported: {reason}", 10000)

    def _report(self, notes: list[str]) -> None:
        if notes:
            self.window.statusBar().showMessage(notes[0] if len(notes) == 1 else
                                                f"{notes[0]} (and {len(notes) - 1} more)",
                                                10000)


def load_and_export(study, annotations, key_images, out, key_out):
    """In a pool thread: the SR writers import highdicom on first use."""
    return load("medview.app.readings").export_reading(study, annotations, key_images, out,
                                                       key_out)
