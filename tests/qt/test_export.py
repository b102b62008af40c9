"""Export: the view as PNG (with / without overlays), anonymised DICOM of a series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PySide6.QtGui import QImage

from medview.qt.export import anonymize_series, export_view_png
from tests.qt.helpers import wait_loaded, wait_shown


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
    vp.add_annotation("length", [(100, 100), (100, 300)])
    full = export_view_png(vp, tmp_path / "full.png", overlays=True)
    clean = export_view_png(vp, tmp_path / "clean", overlays=False)
    assert clean.suffix == ".png" and full.exists() and clean.exists()
    a, b = _array(full), _array(clean)
    dpr = vp.devicePixelRatioF()
    assert a.shape[:2] == (round(vp.height() * dpr), round(vp.width() * dpr))
    # the clean export has no yellow measurement and no overlay text
    yellow = lambda x: ((x[..., 0] > 180) & (x[..., 1] > 150) & (x[..., 2] < 120)).sum()
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
    qtbot.waitUntil(lambda: getattr(ct_window.export, "last_report", None) is not None,
                    timeout=20000)
    assert len(ct_window.export.last_report.written) == 3
