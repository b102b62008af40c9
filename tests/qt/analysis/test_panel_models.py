"""No model, importing one, broken models, the model list following the model folders."""

from __future__ import annotations

import json
import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.helpers.builders import CLASSIFIER, manifest_data
from tests.helpers.builders import install
from tests.helpers.qt_analysis import analyze, grab_array, open_and_show, select_model


def test_no_model_says_so_and_offers_import(qtbot, window):
    panel = window.analysis
    assert panel.state == "no-model"
    assert panel.picker.empty_box.isVisible()
    assert "No AI model is installed" in panel.picker.empty_label.text()
    assert panel.picker.empty_import_button.isVisible()
    assert not panel.controls.isVisible()
    assert "medview models import" in panel.picker.empty_label.toolTip()  # where it looked
    assert panel.analyze() is None  # nothing to run, nothing breaks


def test_import_button_imports_a_folder_and_selects_it(qtbot, window, sources, engines,
                                                        monkeypatch, isolated):
    panel = window.analysis
    asked = []

    def fake_dialog(parent, caption, start):
        asked.append(caption)
        return str(sources["classifier"])

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake_dialog))
    qtbot.mouseClick(panel.picker.empty_import_button, Qt.MouseButton.LeftButton)
    assert asked
    # the import runs as a medview subprocess; the folder may show before it reports
    qtbot.waitUntil(lambda: "Imported chest-demo 1.0.0" in panel.status_label.full_text(),
                    timeout=120000)
    entry = panel.picker.current()
    assert (entry.name, entry.version, entry.source) == ("chest-demo", "1.0.0", "user")
    assert (isolated / "user" / "models" / "chest-demo-1.0.0" / "model.json").is_file()
    assert panel.state == "idle" and panel.controls.isVisible()
    assert "Imported chest-demo 1.0.0" in panel.status_label.full_text()

    # importing it again asks before replacing; "No" leaves it alone
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.No))
    assert panel.import_model(sources["classifier"]) is False


def test_import_error_is_one_line_naming_model_and_field(qtbot, window, tmp_path, monkeypatch):
    bad = tmp_path / "bad-model"
    bad.mkdir()
    data = manifest_data(CLASSIFIER, input={"size": [64, -3], "channels": 1})
    (bad / "model.json").write_text(json.dumps(data))
    (bad / "weights.safetensors").write_bytes(b"not weights")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a: str(bad)))
    panel = window.analysis
    qtbot.mouseClick(panel.picker.empty_import_button, Qt.MouseButton.LeftButton)
    text = panel.status_label.full_text()
    assert "chest-demo" in text and "input.size" in text and "\n" not in text
    assert panel.status_label.isVisible()
    assert panel.state == "no-model"


def test_import_of_corrupt_weights_fails_in_one_line(qtbot, window, tmp_path, monkeypatch,
                                                     sources):
    bad = tmp_path / "corrupt"
    shutil.copytree(sources["classifier"], bad)
    (bad / "weights.safetensors").write_bytes(b"\x00" * 100)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a: str(bad)))
    panel = window.analysis
    qtbot.mouseClick(panel.picker.empty_import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "weights" in panel.status_label.full_text(), timeout=60000)
    text = panel.status_label.full_text()
    assert "chest-demo" in text and "weights.safetensors" in text
    assert panel.state == "no-model"


def test_broken_model_folder_is_named_and_the_good_one_still_works(
        qtbot, window, installed, engines, ct_series_dir):
    broken = installed / "broken-1"
    broken.mkdir()
    data = manifest_data(CLASSIFIER, name="broken", output={"activation": "maybe"})
    (broken / "model.json").write_text(json.dumps(data))
    panel = window.analysis
    panel.refresh_models()
    problem = panel.picker.problem_label.full_text()
    assert "broken" in problem and "output.activation" in problem
    assert panel.picker.problem_label.isVisible()
    assert {e.name for e in panel.picker._entries} == {"chest-demo", "prostate-demo"}


def test_corrupt_weights_at_analysis_name_the_model_and_viewer_keeps_working(
        qtbot, window, installed, engines, ct_series_dir):
    # weights altered after import: the SHA-256 check refuses them when loading
    weights = installed / "chest-demo" / "weights.safetensors"
    data = json.loads((installed / "chest-demo" / "model.json").read_text())
    data["weights"] = {"file": "weights.safetensors", "sha256": "0" * 64}
    (installed / "chest-demo" / "model.json").write_text(json.dumps(data))
    vp = open_and_show(qtbot, window, [ct_series_dir])
    panel = window.analysis
    select_model(panel, "chest-demo")
    failed = []
    panel.service.failed.connect(lambda r, m: failed.append(m))
    qtbot.mouseClick(panel.analyze_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(failed), timeout=60000)
    text = panel.status_label.full_text()
    assert "chest-demo" in text and "weights.safetensors" in text and "SHA-256" in text
    assert panel.state == "idle"
    assert weights.is_file()
    # the viewer still scrolls and paints; the other model still analyses
    before = grab_array(vp)
    vp.model.set_index(2)
    qtbot.waitUntil(vp.model.is_current_decoded, timeout=10000)
    vp.repaint()
    assert (grab_array(vp) != before).any()
    select_model(panel, "prostate-demo")
    req, analysis = analyze(qtbot, panel)
    assert analysis.result.model == "prostate-demo"


def test_model_list_follows_the_user_model_folder(qtbot, window, sources, isolated):
    panel = window.analysis
    assert panel.state == "no-model"
    install(isolated, sources["segmenter"])   # e.g. the trainer registers a model
    qtbot.waitUntil(lambda: panel.picker.current() is not None, timeout=10000)
    assert panel.picker.current().name == "prostate-demo"
    shutil.copytree(sources["classifier"], isolated / "user" / "models" / "chest-demo")
    qtbot.waitUntil(lambda: len(panel.picker._entries) == 2, timeout=10000)
    assert panel.picker.current().name == "prostate-demo"  # the choice is kept
    shutil.rmtree(isolated / "user" / "models" / "prostate-demo")
    qtbot.waitUntil(lambda: len(panel.picker._entries) == 1, timeout=10000)
    assert panel.picker.current().name == "chest-demo"


def test_refresh_models_slot_and_the_picker_tooltip(qtbot, window, sources, isolated):
    panel = window.analysis
    install(isolated, sources["classifier"])
    panel.refresh_models()
    assert panel.picker.current().name == "chest-demo"
    tip = panel.picker.combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert "Intended use" in tip and "normal, abnormal" in tip
