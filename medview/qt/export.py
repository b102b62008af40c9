"""Export: the current view as PNG, and anonymised DICOM copies of a series or study.

Anonymisation runs through the core's PS3.15 anonymiser in a pool thread; the
output files are named by position only (``S001/IM00001.dcm``), since original
file and folder names often carry the patient's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QMessageBox

from medview.core.imports import load
from medview.qt.workers import Workers


def export_view_png(viewport, path: str | Path, overlays: bool = True) -> Path:
    """Save what ``viewport`` shows to ``path`` (PNG), with or without overlays
    and measurements. Raises OSError when the file cannot be written."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    image = viewport.grab_view(overlays=overlays, annotations=overlays)
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return path


def series_files(series) -> list[Path]:
    """The distinct files of a series, in slice order."""
    seen: dict[str, Path] = {}
    for f in series.frames:
        seen.setdefault(str(f.path), Path(f.path))
    return list(seen.values())


def anonymize_series(series_list: list, dst: str | Path) -> Iterator[tuple[int, int]]:
    """Generator for a :class:`~medview.qt.workers.Worker`: yields ``(done, total)``
    and returns the combined ``AnonymizeReport``. One Anonymizer for the whole
    run keeps the new UIDs of one study consistent across its series."""
    anon = load("medview.core.anonymize")
    dst = Path(dst)
    anonymizer = anon.Anonymizer()
    report = anon.AnonymizeReport()
    jobs = []
    used: set[str] = set()
    for k, series in enumerate(series_list, 1):
        name = f"S{(series.number if series.number is not None else k):03d}"
        while name in used:  # two series sharing a number
            name += "_"
        used.add(name)
        folder = dst / name
        for i, src in enumerate(series_files(series), 1):
            jobs.append((src, folder / f"IM{i:05d}.dcm"))
    total = len(jobs)
    for done, (src, target) in enumerate(jobs, 1):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            r = anon.anonymize_path(src, target, anonymizer)
        except Exception as exc:  # missing source, refusing to overwrite
            report.skipped.append((src, getattr(exc, "reason", None) or str(exc)))
        else:
            report.written.extend(r.written)
            report.skipped.extend(r.skipped)
            report.warnings.extend(r.warnings)
        yield done, total
    return report


class ExportController(QObject):
    """The dialogs around exporting; owned by the main window."""

    def __init__(self, window, settings, workers: Workers) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.workers = workers

    def _dir(self) -> str:
        d = self.settings.value("general/last_export_dir") if self.settings else ""
        return d or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)

    def _remember(self, path: Path) -> None:
        if self.settings:
            self.settings.set_value("general/last_export_dir", str(path))

    def export_png(self, overlays: bool) -> Path | None:
        vp = self.window.grid.active
        if vp.frame is None:
            self._info("Nothing to export: open a series first.")
            return None
        suffix = "" if overlays else "-clean"
        default = str(Path(self._dir()) / f"view{suffix}.png")
        title = "Export View as PNG" + ("" if overlays else " (no overlays)")
        path, _ = QFileDialog.getSaveFileName(self.window, title, default, "PNG image (*.png)")
        if not path:
            return None
        try:
            out = export_view_png(vp, path, overlays)
        except OSError as exc:
            QMessageBox.warning(self.window, "Export failed", str(exc))
            return None
        self._remember(out.parent)
        self.window.statusBar().showMessage(f"Saved {out}", 5000)
        return out

    def export_anonymised(self, whole_study: bool) -> None:
        series = self.window.selected_series()
        if series is None:
            self._info("Select a series (or a study) in the browser, or open one in a viewport.")
            return
        series_list = list(series.study.series) if whole_study and series.study else [series]
        what = "study" if whole_study else "series"
        folder = QFileDialog.getExistingDirectory(
            self.window, f"Export anonymised {what} into folder", self._dir())
        if not folder:
            return
        dst = Path(folder)
        sources = {str(p.parent.resolve()) for s in series_list for p in series_files(s)}
        if str(dst.resolve()) in sources:
            QMessageBox.warning(self.window, "Export", "Choose a folder other than the "
                                "one holding the originals.")
            return
        self._remember(dst)
        status = self.window.statusBar()
        status.showMessage(f"Anonymising {what}…")
        self.workers.start(
            anonymize_series, series_list, dst,
            on_progress=lambda p: status.showMessage(f"Anonymising {what}: {p[0]}/{p[1]} files"),
            on_return=lambda report: self._done(report, dst),
            on_error=lambda exc: QMessageBox.warning(self.window, "Export failed", str(exc)))

    def _done(self, report, dst: Path) -> None:
        if report is None:
            return
        self.window.statusBar().showMessage(
            f"Anonymised {len(report.written)} files into {dst}", 8000)
        problems = list(report.skipped) + [(dst, w) for w in report.warnings]
        if problems:
            self.window.show_skipped(problems, loaded=len(report.written),
                                     title="Anonymised export: files skipped or to check")
        self.last_report = report

    def _info(self, text: str) -> None:
        QMessageBox.information(self.window, "Export", text)

