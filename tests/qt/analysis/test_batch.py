"""Batch analysis: a series in the background, the table, the volume, the CSV, a dropped folder."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.helpers.qt import send_drop, url_mime
from tests.helpers.qt_analysis import open_and_show, select_model


def _rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_series_batch_fills_the_table_and_writes_one_csv_row_per_image(
        qtbot, window, installed, engines, ct_series_dir, tmp_path, monkeypatch):
    vp = open_and_show(qtbot, window, [ct_series_dir])
    panel = window.analysis
    engines.square = True
    select_model(panel, "prostate-demo")
    qtbot.mouseClick(panel.series_button, Qt.MouseButton.LeftButton)
    dlg = panel.batch_dialog
    assert dlg is not None and dlg.isVisible()
    qtbot.waitUntil(lambda: dlg.job is not None and not dlg.running, timeout=60000)
    job = dlg.job
    assert job.state == "done" and len(job.rows) == 4
    assert dlg.table_model.rowCount() == 4 and dlg.progress.value() == 4
    assert dlg.table_model.headerData(3, Qt.Orientation.Horizontal) == "Area prostate"
    assert "mm²" in dlg.table_model.data(dlg.table_model.index(0, 3))
    area = job.rows[0].areas["prostate"].value
    assert area == pytest.approx(32 * 32 * 0.49, rel=0.02)
    # volume over the series: sum of areas × 2.5 mm
    vol = dlg.volume()
    assert vol.complete and vol.spacing.mm == pytest.approx(2.5)
    assert vol.mm3["prostate"] == pytest.approx(sum(r.areas["prostate"].value
                                                    for r in job.rows) * 2.5)
    assert "Volume (4 of 4 slices, 2.5 mm apart" in dlg.summary_label.text()
    # the viewer shows batch results at once (cached), with the series volume
    assert panel.result_view.analysis is not None
    assert "Volume over all 4 slices" in panel.result_view.areas.text()

    out = tmp_path / "out" / "batch.csv"
    out.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(out), "")))
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    rows = _rows(out)
    assert len(rows) == 4
    assert {r["file"] for r in rows} == {str(f.path) for f in vp.model.series.frames}
    r0 = rows[0]
    assert (r0["model"], r0["version"], r0["engine"], r0["device"]) == (
        "prostate-demo", "0.1", "torch", "cpu")
    assert r0["area_unit"] == "mm2" and float(r0["area_prostate"]) == pytest.approx(area, rel=1e-3)
    assert float(r0["ms"]) > 0 and r0["error"] == ""
    assert [p.name for p in out.parent.iterdir()] == ["batch.csv"]  # no temporary left


def test_classifier_batch_over_a_dropped_folder(qtbot, window, installed, engines,
                                                ct_series_dir, tmp_path):
    panel = window.analysis
    select_model(panel, "chest-demo")
    dlg = panel.open_batch()
    (ct_series_dir / "notes.txt").write_text("not an image")
    send_drop(dlg, url_mime([ct_series_dir]))
    qtbot.waitUntil(lambda: dlg.job is not None and not dlg.running, timeout=60000)
    job = dlg.job
    assert job.state == "done" and len(job.rows) == 4 and len(job.skipped) == 1
    assert dlg.table_model.headerData(3, Qt.Orientation.Horizontal) == "P(normal)"
    assert dlg.table_model.data(dlg.table_model.index(0, 3)).endswith("%")
    out = dlg.export_csv(tmp_path / "cls.csv")
    rows = _rows(out)
    assert len(rows) == 4
    for r in rows:
        p = float(r["p_normal"]) + float(r["p_abnormal"])
        assert p == pytest.approx(1.0, abs=1e-5) and r["label"] in ("normal", "abnormal")
    assert dlg.volume() is None  # a folder, and a classifier: no volume


def test_batch_can_be_cancelled(qtbot, window, installed, engines, ct_series_dir):
    open_and_show(qtbot, window, [ct_series_dir])
    panel = window.analysis
    select_model(panel, "prostate-demo")
    engines.delay = 0.4
    dlg = panel.open_batch("series", start=True)
    qtbot.waitUntil(lambda: len(dlg.job.rows) >= 1, timeout=60000)
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    assert dlg.job.state == "cancelled" and not dlg.running
    n = len(dlg.job.rows)
    qtbot.waitUntil(lambda: not panel.service.busy, timeout=10000)
    assert len(dlg.job.rows) == n < 4
    assert "Cancelled after" in dlg.status_label.text()


def test_csv_cells_never_become_formulas(tmp_path):
    from medview.qt.analysis.batch import _text_cell, write_csv_atomic

    assert _text_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _text_cell("normal") == "normal"
    path = write_csv_atomic(tmp_path / "x.csv", ["a"], [["=1+1"]])
    assert _rows(path) == [{"a": "=1+1"}]  # the writer is given the escaped text by callers


def test_csv_write_failure_leaves_the_old_file(tmp_path, monkeypatch):
    from medview.qt.analysis import batch

    target = tmp_path / "r.csv"
    target.write_text("old\n")

    class Boom:
        def __init__(self, f):
            pass

        def writerow(self, row):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch.csv, "writer", Boom)
    with pytest.raises(OSError):
        batch.write_csv_atomic(target, ["a"], [[1]])
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]
