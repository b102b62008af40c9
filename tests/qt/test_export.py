"""Export: the view as PNG (with / without overlays), anonymised DICOM of a series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from medview.qt.export import anonymize_series, export_view_png, series_files
from tests.helpers.qt import wait_loaded, wait_shown


@pytest.fixture
def ct_window(qtbot, window, ct_folder):
    window.open_paths([str(ct_folder)])
    wait_loaded(qtbot, window)
    wait_shown(qtbot, window.grid.active)
    return window


def _array(path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    bpl = img.bytesPerLine()
    arr = np.frombuffer(img.constBits(), np.uint8, count=bpl * img.height())
    return arr.reshape(img.height(), bpl)[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def test_png_with_and_without_overlays(qtbot, ct_window, tmp_path):
    vp = ct_window.grid.active
    vp.model.add_annotation("length", [(100, 100), (100, 300)])
    full = export_view_png(vp, tmp_path / "full.png", overlays=True)
    clean = export_view_png(vp, tmp_path / "clean", overlays=False)
    assert clean.suffix == ".png" and full.exists() and clean.exists()
    a, b = _array(full), _array(clean)
    dpr = vp.devicePixelRatioF()
    assert a.shape[:2] == (round(vp.height() * dpr), round(vp.width() * dpr))
    # the clean export has no yellow measurement and no overlay text
    def yellow(x):
        return ((x[..., 0] > 180) & (x[..., 1] > 150) & (x[..., 2] < 120)).sum()

    assert yellow(a) > 50 and yellow(b) == 0
    # the image itself is identical away from the annotations and text
    h, w = a.shape[:2]
    c = (slice(int(h * 0.55), int(h * 0.8)), slice(int(w * 0.3), int(w * 0.7)))
    assert np.array_equal(a[c], b[c])


def test_anonymised_series_export(qtbot, ct_window, tmp_path):
    series = ct_window.library.series()[0]
    out = tmp_path / "anon"
    gen = anonymize_series([series], out)
    progress = []
    try:
        while True:
            progress.append(next(gen))
    except StopIteration as stop:
        report = stop.value
    assert progress[-1] == (3, 3)
    assert len(report.written) == 3 and not report.skipped
    original = pydicom.dcmread(series.frames[0].path)
    for path in report.written:
        assert path.is_relative_to(out) and path.name.startswith("IM")
        ds = pydicom.dcmread(path)
        assert str(ds.PatientName) != str(original.PatientName)
        assert ds.StudyInstanceUID != original.StudyInstanceUID
        assert ds.PixelData  # pixels kept


def test_export_action_runs_in_background(qtbot, ct_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "o"))
    ct_window.export_study_action.trigger()
    dialog = ct_window.export.dialog
    assert dialog.isVisible() and not dialog.export_button.isEnabled()  # no folder yet
    qtbot.mouseClick(_browse_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.folder_edit.text() == str(tmp_path / "o")
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(ct_window.export, "last_report", None) is not None,
                    timeout=20000)
    assert len(ct_window.export.last_report.written) == 3
    # written, but Patient Identity Removed could not be set (no BurnedInAnnotation NO):
    # the notice says so rather than "Opened 3 images"
    notice = ct_window.last_notice
    assert notice.summary == "Anonymised 3 files; skipped 0; 3 to check."
    assert notice.summary_label.text() == notice.summary


def _browse_button(dialog):
    return next(b for b in dialog.findChildren(QPushButton) if b.text() == "Browse…")


def test_anonymised_export_writes_the_pseudonym_like_the_cli(qtbot, ct_window, tmp_path):
    from medview.commands.anonymize import run_anonymize

    ct_window.export_series_action.trigger()
    dialog = ct_window.export.dialog
    dialog.folder_edit.setText(str(tmp_path / "gui"))
    dialog.name_edit.setText("TRIAL\\07")  # a backslash is a value separator in DICOM
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "backslash" in dialog.error_label.text()
    dialog.name_edit.setText("TRIAL^CASE07")
    dialog.id_edit.setText("SUBJ-007")
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(ct_window.export, "last_report", None) is not None,
                    timeout=20000)
    written = ct_window.export.last_report.written
    assert len(written) == 3
    for path in written:
        ds = pydicom.dcmread(path)
        assert (str(ds.PatientName), ds.PatientID) == ("TRIAL^CASE07", "SUBJ-007")
    # the CLI with the same options writes the same pseudonym
    src = ct_window.library.series()[0].frames[0].path
    assert run_anonymize(src, tmp_path / "cli.dcm", "TRIAL^CASE07", "SUBJ-007") == 0
    ds = pydicom.dcmread(tmp_path / "cli.dcm")
    assert (str(ds.PatientName), ds.PatientID) == ("TRIAL^CASE07", "SUBJ-007")


def test_anonymised_export_without_pseudonym_keeps_the_defaults(qtbot, ct_window, tmp_path):
    ct_window.export_series_action.trigger()
    dialog = ct_window.export.dialog
    dialog.folder_edit.setText(str(tmp_path / "gui"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(ct_window.export, "last_report", None) is not None,
                    timeout=20000)
    ds = pydicom.dcmread(ct_window.export.last_report.written[0])
    assert str(ds.PatientName) == "ANONYMOUS" and ds.PatientID.startswith("ANON")
    # the CT says nothing of burned-in text: the notice names each file, and why
    assert ds.PatientIdentityRemoved == "NO"
    sources = {str(p) for p in series_files(ct_window.library.series()[0])}
    lines = [reason for _, reason in ct_window.last_skipped]
    assert len(lines) == 3 and {line.split(": ")[0] for line in lines} == sources
    assert all(line.endswith("burned-in annotation not ruled out (Burned In Annotation is "
                             "absent): PatientIdentityRemoved left NO") for line in lines)


# ----------------------------------------------------------------- PNG overlay identity

def _text_box(a: np.ndarray, corner: str) -> np.ndarray:
    """The corner of the picture where overlay text sits (left/right of the fitted image)."""
    h, w = a.shape[:2]
    rows = slice(0, int(h * 0.12)) if corner[0] == "t" else slice(int(h * 0.88), h)
    cols = slice(0, int(w * 0.2)) if corner[1] == "l" else slice(int(w * 0.8), w)
    return a[rows, cols]


def test_png_anonymised_overlay_leaves_out_the_patient(qtbot, ct_window, tmp_path):
    from medview.view.corners import corner_text

    vp = ct_window.grid.active
    patient = vp.model.series.study.patient
    assert patient.name and patient.id
    named = _array(export_view_png(vp, tmp_path / "named.png", overlays=True))
    anon = _array(export_view_png(vp, tmp_path / "anon.png", overlays=True, anonymous=True))
    clean = _array(export_view_png(vp, tmp_path / "clean.png", overlays=False))
    # top left holds the patient's name and ID: gone in the anonymised picture
    assert not np.array_equal(_text_box(named, "tl"), _text_box(clean, "tl"))
    assert np.array_equal(_text_box(anon, "tl"), _text_box(clean, "tl"))
    # image details (window, zoom, spacing) stay
    assert not np.array_equal(_text_box(anon, "br"), _text_box(clean, "br"))
    m = vp.model
    text = corner_text(m.series, m.frame, m.index, m.current_window(), 1.0, [],
                       anonymous=True)
    lines = " ".join(text.top_left + text.top_right + text.bottom_left + text.bottom_right)
    assert patient.name not in lines and patient.id not in lines
    assert m.series.description and m.series.description not in lines  # free text: may name
    assert f"#{m.series.number} {m.series.modality}" in lines
    assert "W " in lines and "Zoom" in lines


def test_png_export_asks_and_defaults_to_anonymous_outside_the_study_folder(
        qtbot, ct_window, ct_folder, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from medview.qt.export import ExportController, overlay_question

    asked = []

    def answer(self, anonymous_default):
        asked.append(anonymous_default)
        return anonymous_default  # the user accepts the default

    monkeypatch.setattr(ExportController, "ask_anonymous", answer)
    outside, inside = tmp_path / "slides" / "view.png", ct_folder / "view.png"
    outside.parent.mkdir()
    clean = _array(export_view_png(ct_window.grid.active, tmp_path / "clean.png", overlays=False))
    for target in (outside, inside):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        ct_window.export_png_action.trigger()
    assert asked == [True, False]
    assert np.array_equal(_text_box(_array(outside), "tl"), _text_box(clean, "tl"))
    assert not np.array_equal(_text_box(_array(inside), "tl"), _text_box(clean, "tl"))
    # the question's default button follows the folder
    for default in (True, False):
        box = overlay_question(ct_window, default)
        expected = box.anonymous_button if default else box.identified_button
        assert box.defaultButton() is expected
        box.deleteLater()
    # the clean export (no overlays) does not ask
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "c2.png"), ""))
    ct_window.export_clean_action.trigger()
    assert asked == [True, False] and (tmp_path / "c2.png").exists()

