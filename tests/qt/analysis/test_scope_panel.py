"""The AI panel refuses images a model was not made for, says why, and lets a person run
it anyway, marked and audited (issue 12) — in a real window, with the shipped demo model."""

from __future__ import annotations

import re

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from medview.demo.demo_data import write_demo_data
from medview.inference.audit import AuditLog
from tests.helpers.datafiles import find
from tests.helpers.builders import install
from tests.helpers.qt_analysis import analyze, open_and_show, select_model, wait_idle

SHIPPED = Path(__file__).resolve().parents[3] / "models"


@pytest.fixture
def demo_classifier(isolated) -> str:
    install(isolated, SHIPPED / "demo-lesion-classifier")
    return "demo-lesion-classifier"


@pytest.fixture
def chest_dx(tmp_path) -> Path:
    write_demo_data(tmp_path / "demo", n=2, size=128, seed=4)
    one = sorted((tmp_path / "demo" / "classification").rglob("*.dcm"))[0]
    folder = tmp_path / "dx"
    folder.mkdir()
    return Path(shutil.copy2(one, folder / one.name))


def test_an_mr_is_refused_in_words_then_run_anyway_is_marked_and_audited(
        qtbot, window, demo_classifier, engines, isolated):
    panel = window.analysis
    open_and_show(qtbot, window, [find("MR2_UNCR.dcm")])
    select_model(panel, demo_classifier)
    assert panel.intended_label.text() == "For: chest radiographs (DX/CR, PA/AP)"
    assert panel.unknown_check.isVisible() and not panel.unknown_check.isChecked()
    view = panel.result_view
    # Shown before anything runs: not analysed, why, and the way out.
    assert view.headline.text() == "Not analysed: outside this model's intended input"
    assert view.warning.text().startswith("This model is for chest radiographs (DX/CR, "
                                          "PA/AP); this image is an MR")
    assert view.run_anyway.isVisible()
    assert "DEMO" in view.card.text() and "Intended input: chest radiographs" in view.card.text()
    # Analyse: still refused, no engine run.
    qtbot.mouseClick(panel.analyze_button, Qt.MouseButton.LeftButton)
    assert engines.runs == 0 and view.run_anyway.isVisible()
    assert "not analysed, outside demo-lesion-classifier's intended input" in \
        panel.status_label.full_text()

    done = []
    panel.service.finished.connect(lambda r, a: done.append(a))
    qtbot.mouseClick(view.run_anyway, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(done), timeout=120000)
    wait_idle(qtbot, panel)
    result = done[-1].result
    assert not result.scope.inside and result.scope.overridden
    assert view.headline.text().startswith("Model output: ")
    assert view.warning.isVisible()
    assert view.warning.text().startswith("Run anyway, outside this model's intended input")
    assert "unlike the images the model was trained on" in view.warning.text()
    assert "OUTSIDE intended input (run anyway)" in view.provenance.text()
    record = AuditLog(isolated / "user" / "audit.jsonl").read()[-1]
    assert record["run_anyway"] is True and record["inside_scope"] is False
    assert record["unlike_training"] is True


def test_a_chest_dx_is_analyzed_with_a_score_not_a_diagnosis(
        qtbot, window, demo_classifier, engines, chest_dx):
    panel = window.analysis
    open_and_show(qtbot, window, [chest_dx])
    select_model(panel, demo_classifier)
    assert panel.result_view.headline.text() == "Not analysed yet"
    _, analysis = analyze(qtbot, panel, timeout=120000)
    r = analysis.result
    assert r.scope.inside and r.scope.checked and not r.familiarity.unlike_training
    headline = panel.result_view.headline.text()
    assert headline.startswith("Model output: ") and "threshold" in headline or \
        headline == "Model output: no class above its threshold"
    assert "Prediction" not in headline and "Found" not in headline
    assert not panel.result_view.warning.isVisible()
    assert "inside intended input" in panel.result_view.provenance.text()


def test_unknown_body_part_is_a_per_model_choice(qtbot, window, demo_classifier, engines,
                                                 tmp_path, settings):
    import pydicom

    ds = pydicom.dcmread(find("RG1_UNCR.dcm"))
    del ds.BodyPartExamined
    folder = tmp_path / "cr"
    folder.mkdir()
    ds.save_as(folder / "cr.dcm")
    panel = window.analysis
    open_and_show(qtbot, window, [folder / "cr.dcm"])
    select_model(panel, demo_classifier)
    view = panel.result_view
    assert "unknown body parts are refused" in view.warning.text()
    panel.unknown_check.setChecked(True)  # the user accepts them for this model
    assert settings.value("ai/accept_unknown_body_part/demo-lesion-classifier") in (True, "true")
    assert view.headline.text() == "Not analysed yet"
    assert panel.scope_of(window.grid.active.model.frame, panel.picker.current()).inside


def test_an_exported_png_names_the_model_and_scope_with_its_overlay(
        qtbot, window, demo_classifier, engines, chest_dx, tmp_path):
    from medview.qt.export import export_view_png

    panel = window.analysis
    vp = open_and_show(qtbot, window, [chest_dx])
    select_model(panel, demo_classifier)
    analyze(qtbot, panel, timeout=120000)
    caption = vp.model.overlay_captions()
    # the shipped model runs from its ONNX graph: ONNX Runtime, or OpenVINO once measured
    assert len(caption) == 1 and re.fullmatch(
        r"AI demo-lesion-classifier \d+\.\d+\.\d+ · (onnxruntime|openvino) \S+ · inside intended "
        r"input · decision support only", caption[0]), caption
    with_ai = export_view_png(vp, tmp_path / "ai.png")
    panel.overlay_check.setChecked(False)  # the layer goes, and its caption with it
    assert vp.model.overlay_captions() == []
    without = export_view_png(vp, tmp_path / "plain.png")
    from PIL import Image
    import numpy as np

    a, b = (np.asarray(Image.open(p).convert("L"), np.int16) for p in (with_ai, without))
    h = a.shape[0]
    # the caption is text in the bottom-left corner that the plain export lacks
    assert np.abs(a[h - 60:, :a.shape[1] // 2] - b[h - 60:, :b.shape[1] // 2]).max() > 100
