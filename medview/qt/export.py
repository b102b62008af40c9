"""Export: the current view as PNG, and anonymised DICOM copies of a series or study.

A PNG with overlays can leave out the patient's identity from the overlay text; that
is the default when the file goes outside the study's own folder (the user is asked).
Anonymisation runs through the core's PS3.15 anonymiser in a pool thread, with the
same pseudonym options as ``medview anonymize`` (``Anonymizer.with_pseudonym``); the
output files are named by position only (``S001/IM00001.dcm``), since original
file and folder names often carry the patient's name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from medview.qt import theme

from medview.core.imports import load
from medview.qt.settings import value_or_default
from medview.qt.workers import Workers


def export_view_png(viewport, path: str | Path, overlays: bool = True,
                    anonymous: bool = False) -> Path:
    """Save what ``viewport`` shows to ``path`` (PNG), with or without overlays
    and measurements; ``anonymous`` leaves the patient's identity out of the overlay
    text. Raises OSError when the file cannot be written."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    image = viewport.grab_view(overlays=overlays, annotations=overlays, anonymous=anonymous)
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return path


def study_folder(series) -> Path | None:
    """The folder that holds all files of ``series``'s study (their common parent)."""
    series_list = list(series.study.series) if series.study is not None else [series]
    parents = {str(p.parent.resolve()) for s in series_list for p in series_files(s)}
    try:
        return Path(os.path.commonpath(sorted(parents))) if parents else None
    except ValueError:  # different drives
        return None


def leaves_study_folder(path: str | Path, series) -> bool:
    """Whether ``path`` is outside the study's folder (then the overlay defaults to
    anonymous: the picture may be mailed, put on slides or in a report)."""
    folder = study_folder(series)
    return folder is None or not Path(path).resolve().is_relative_to(folder)


def overlay_question(parent: QWidget | None, anonymous_default: bool) -> QMessageBox:
    """The question asked before a PNG with overlays is written (not yet shown)."""
    box = QMessageBox(parent)
    box.setWindowTitle("Export View as PNG")
    box.setIcon(QMessageBox.Icon.Question)
    box.setText("Leave the patient's name, ID, birth date, study date and the study and "
                "series descriptions out of the picture?")
    box.setInformativeText("Recommended when the picture leaves the study's folder. Image "
                           "details (series number, modality, slice, window, zoom) and "
                           "measurements stay.")
    box.anonymous_button = box.addButton("Anonymised overlay", QMessageBox.ButtonRole.AcceptRole)
    box.identified_button = box.addButton("Keep patient details", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(box.anonymous_button if anonymous_default else box.identified_button)
    return box


def series_files(series) -> list[Path]:
    """The distinct files of a series, in slice order."""
    seen: dict[str, Path] = {}
    for f in series.frames:
        seen.setdefault(str(f.path), Path(f.path))
    return list(seen.values())


def anonymize_series(series_list: list, dst: str | Path, patient_name: str | None = None,
                     patient_id: str | None = None) -> Iterator[tuple[int, int]]:
    """Generator for a :class:`~medview.qt.workers.Worker`: yields ``(done, total)``
    and returns the combined ``AnonymizeReport``. One Anonymizer for the whole
    run keeps the new UIDs of one study consistent across its series; the pseudonym
    options are those of ``medview anonymize --patient-name/--patient-id``."""
    anon = load("medview.core.anonymize")
    dst = Path(dst)
    anonymizer = anon.Anonymizer.with_pseudonym(patient_name, patient_id)
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


_PSEUDONYM_MAX = 64  # PS3.5 6.2: LO is 64 characters, a PN component group 64


def pseudonym_problem(text: str, what: str) -> str:
    """Why ``text`` cannot be written as the patient's ``what`` ("" when it can)."""
    if len(text) > _PSEUDONYM_MAX:
        return f"The {what} is longer than {_PSEUDONYM_MAX} characters."
    if "\\" in text or any(ord(c) < 32 for c in text):
        return f"The {what} cannot contain a backslash or control characters."
    return ""


class AnonymiseDialog(QDialog):
    """Where the anonymised copies go, and the pseudonym written into them.

    The options are those of ``medview anonymize --patient-name/--patient-id``;
    empty fields keep the defaults (``ANONYMOUS``, a new ID per patient).
    """

    def __init__(self, what: str, start_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export anonymised {what}")
        self._start_dir = start_dir
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder other than the one holding the originals")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("ANONYMOUS")
        self.name_edit.setToolTip("Patient's Name in every exported file, e.g. STUDY^CASE01")
        self.id_edit = QLineEdit()
        self.id_edit.setPlaceholderText("a new ID for each patient (ANON…)")
        self.id_edit.setToolTip("Patient ID in every exported file, e.g. a trial subject number")
        form = QFormLayout()
        form.addRow("Into folder", folder_row)
        form.addRow("Patient name", self.name_edit)
        form.addRow("Patient ID", self.id_edit)
        self.error_label = theme.note_label(colour=theme.ERROR)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._check_and_accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error_label)
        lay.addWidget(self.buttons)
        self.folder_edit.textChanged.connect(
            lambda t: self.export_button.setEnabled(bool(t.strip())))
        self.export_button.setEnabled(False)
        self.setMinimumWidth(520)

    def options(self) -> tuple[Path, str | None, str | None]:
        """(output folder, patient name or None, patient ID or None)."""
        return (Path(self.folder_edit.text().strip()), self.name_edit.text().strip() or None,
                self.id_edit.text().strip() or None)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.windowTitle(),
                                                  self.folder_edit.text() or self._start_dir)
        if folder:
            self.folder_edit.setText(folder)

    def _check_and_accept(self) -> None:
        problem = (pseudonym_problem(self.name_edit.text().strip(), "patient name")
                   or pseudonym_problem(self.id_edit.text().strip(), "patient ID"))
        if problem:
            self.error_label.setText(problem)
            self.error_label.show()
            return
        self.accept()


class ExportController(QObject):
    """The dialogs around exporting; owned by the main window."""

    def __init__(self, window, settings, workers: Workers) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.workers = workers

    def _dir(self) -> str:
        d = value_or_default(self.settings, "general/last_export_dir")
        return d or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)

    def _remember(self, path: Path) -> None:
        if self.settings:
            self.settings.set_value("general/last_export_dir", str(path))

    def export_png(self, overlays: bool) -> Path | None:
        vp = self.window.grid.active
        if vp.model.frame is None:
            self._info("Nothing to export: open a series first.")
            return None
        suffix = "" if overlays else "-clean"
        default = str(Path(self._dir()) / f"view{suffix}.png")
        title = "Export View as PNG" + ("" if overlays else " (no overlays)")
        path, _ = QFileDialog.getSaveFileName(self.window, title, default, "PNG image (*.png)")
        if not path:
            return None
        anonymous = False
        if overlays:
            anonymous = self.ask_anonymous(leaves_study_folder(path, vp.model.series))
            if anonymous is None:
                return None
        try:
            out = export_view_png(vp, path, overlays, anonymous)
        except OSError as exc:
            QMessageBox.warning(self.window, "Export failed", str(exc))
            return None
        self._remember(out.parent)
        self.window.statusBar().showMessage(f"Saved {out}", 5000)
        return out

    def ask_anonymous(self, anonymous_default: bool) -> bool | None:
        """Ask whether the PNG's overlay leaves out the patient (None: cancelled)."""
        box = overlay_question(self.window, anonymous_default)
        box.exec()
        clicked = box.clickedButton()
        if clicked is box.anonymous_button:
            return True
        return False if clicked is box.identified_button else None

    def export_anonymised(self, whole_study: bool) -> AnonymiseDialog | None:
        """Open the (non-modal) export dialog; the export starts when it is accepted."""
        series = self.window.selected_series()
        if series is None:
            self._info("Select a series (or a study) in the browser, or open one in a viewport.")
            return None
        series_list = list(series.study.series) if whole_study and series.study else [series]
        what = "study" if whole_study else "series"
        dialog = AnonymiseDialog(what, self._dir(), self.window)
        dialog.accepted.connect(lambda: self._start_anonymised(series_list, what, *dialog.options()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.dialog = dialog
        return dialog

    def _start_anonymised(self, series_list: list, what: str, dst: Path,
                          patient_name: str | None, patient_id: str | None) -> None:
        sources = {str(p.parent.resolve()) for s in series_list for p in series_files(s)}
        if str(dst.resolve()) in sources:
            QMessageBox.warning(self.window, "Export", "Choose a folder other than the "
                                "one holding the originals.")
            return
        self._remember(dst)
        status = self.window.statusBar()
        status.showMessage(f"Anonymising {what}…")
        self.workers.start(
            anonymize_series, series_list, dst, patient_name, patient_id,
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
            summary = (f"Anonymised {len(report.written)} files; skipped "
                       f"{len(report.skipped)}; {len(report.warnings)} to check.")
            self.window.show_skipped(problems, loaded=len(report.written), summary=summary,
                                     title="Anonymised export: files skipped or to check")
        self.last_report = report

    def _info(self, text: str) -> None:
        QMessageBox.information(self.window, "Export", text)

