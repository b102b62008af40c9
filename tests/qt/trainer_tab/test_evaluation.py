"""The evaluation report: confusion matrix, ROC, threshold picker, per-class and segmentation metrics."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers.trainer_tab import REPORT_LABELS as Y
from tests.helpers.trainer_tab import REPORT_SCORES as S
from tests.helpers.trainer_tab import EventWriter, binary_report, fake_job, wait_listed, write_json



@pytest.fixture
def view(qtbot):
    from medview.qt.trainer_tab.evaluation_view import EvaluationView

    v = EvaluationView()
    qtbot.addWidget(v)
    v.resize(900, 800)
    v.show()
    qtbot.waitExposed(v)
    return v


def _check_consistent(view):
    from trainer.metrics import sensitivity_specificity

    t = view.threshold
    sens, spec = sensitivity_specificity(np.array(Y), np.array(S), t)
    assert view.sensitivity == pytest.approx(sens) and view.specificity == pytest.approx(spec)
    cm = view.cm  # rows true (lesion, normal), columns predicted
    assert cm.sum() == len(Y)
    assert cm[0, 0] / cm[0].sum() == pytest.approx(sens)
    assert cm[1, 1] / cm[1].sum() == pytest.approx(spec)
    assert f"sensitivity {sens:.3f}" in view.sens_spec_label.text()
    assert f"specificity {spec:.3f}" in view.sens_spec_label.text()
    x, y = view.roc_point.getData()
    assert (x[0], y[0]) == pytest.approx((1 - spec, sens))
    # the per-class table follows the matrix
    assert float(view.table.item(0, 2).text()) == pytest.approx(sens, abs=5e-4)


def test_threshold_slider_recomputes_sensitivity_and_specificity(qtbot, view):
    report = binary_report(Y, S, threshold=0.5)
    view.set_report(report)
    assert view.picker.isVisible() and view.cm_plot.isVisible() and view.roc_plot.isVisible()
    assert view.threshold == 0.5 and not view.reset_button.isEnabled()
    _check_consistent(view)
    assert view.sensitivity == report["metrics"]["sensitivity"]
    # drive the slider with real keys and a drag
    view.slider.setFocus()
    for _ in range(3):
        qtbot.keyClick(view.slider, Qt.Key.Key_PageUp)  # +0.05 each
    assert view.threshold == pytest.approx(0.65)
    _check_consistent(view)
    assert view.sensitivity == pytest.approx(4 / 8) and view.specificity == pytest.approx(11 / 12)
    assert view.reset_button.isEnabled()
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    assert view.threshold == 0.0 and view.sensitivity == 1.0 and view.specificity == 0.0
    _check_consistent(view)
    handle = view.slider.rect().center()
    qtbot.mousePress(view.slider, Qt.MouseButton.LeftButton, pos=handle)
    qtbot.mouseRelease(view.slider, Qt.MouseButton.LeftButton, pos=handle)
    _check_consistent(view)
    qtbot.mouseClick(view.reset_button, Qt.MouseButton.LeftButton)
    assert view.threshold == 0.5
    _check_consistent(view)


def test_multiclass_report_has_no_threshold_picker(qtbot, view):
    classes = ["a", "b", "c"]
    report = {"task": "classification", "classes": classes, "n_test": 6,
              "confusion_matrix": [[2, 0, 0], [0, 1, 1], [0, 0, 2]],
              "metrics": {"accuracy": 5 / 6, "auc": 0.9}, "ci95": {"accuracy": [0.4, 0.97]},
              "roc_one_vs_rest": {c: {"fpr": [0, 0, 1], "tpr": [0, 1, 1], "auc": 1.0} for c in classes},
              "predictions": [], "notes": []}
    view.set_report(report)
    assert not view.picker.isVisible() and view.threshold is None
    assert view.cm.tolist() == report["confusion_matrix"]
    assert len(view.roc_curves) == 3
    assert "0.833" in view.headline.text() and "95% CI 0.40–0.97" in view.headline.text()
    assert view.table.rowCount() == 3


def test_segmentation_report_shows_dice_and_iou(qtbot, view):
    report = {"task": "segmentation", "classes": ["background", "lesion"], "n_test": 3,
              "metrics": {"dice": 0.71, "iou": 0.55, "dice_per_image_mean": 0.6, "dice_per_image_median": 0.65},
              "per_class": {"lesion": {"dice": 0.71, "iou": 0.55}},
              "images_without_foreground": 1, "false_alarms_on_empty_images": 0,
              "predictions": [{"file": "a", "dice": 0.5}, {"file": "b", "dice": 0.7}, {"file": "c", "dice": None}],
              "notes": ["few test images"]}
    view.set_report(report)
    assert "Dice</b> 0.710" in view.headline.text() and "IoU</b> 0.550" in view.headline.text()
    assert view.table.item(0, 0).text() == "lesion" and view.table.item(0, 1).text() == "0.710"
    assert view.hist_plot.isVisible() and not view.cm_plot.isVisible() and not view.picker.isVisible()
    assert view.hist_bars is not None


def test_finished_job_shows_its_evaluation_in_the_tab(qtbot, tab, demo):
    from trainer import events as ev

    info = fake_job(demo, "running", name="judged")
    write_json(info.folder / "model" / "evaluation.json", binary_report(Y, S, threshold=0.45))
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    page = tab.job_page
    assert not page.register_button.isEnabled() and not page.export_button.isEnabled()
    w = EventWriter(info)
    w.write(ev.Evaluation(job=info.id, report=str(info.folder / "model" / "evaluation.json"),
                          metrics={"accuracy": 0.8}))
    w.write(ev.Finished(job=info.id, model=str(info.folder / "model"), best_metric=0.8, metric_name="auc"))
    qtbot.waitUntil(lambda: page.evaluation.threshold == 0.45, timeout=10000)
    assert tab.queue.index(0, 1).data() == "finished"
    assert page.side.currentIndex() == 0 and page.evaluation.isVisible()
    assert page.register_button.isEnabled() and page.export_button.isEnabled()
    assert page.name_edit.text() == "judged" and page.version_edit.text() == "1.0.0"


def test_below_chance_run_is_flagged_and_registering_it_needs_a_confirmation(qtbot, tab, demo, isolated):
    """The trainer's ``below_chance`` verdict (trainer/chance.py) is shown above the evaluation and
    on the job page; Register asks first, and only "Register anyway" installs the model."""
    from medview.inference.registry import Registry
    from tests.helpers.builders import CLASSIFIER, manifest_data, write_model
    from trainer import events as ev
    from trainer.chance import chance_warning

    info = fake_job(demo, "running", name="coin")
    write_model(info.folder / "model", manifest_data(CLASSIFIER, name="coin", version="1.0.0",
                                                     classes=["lesion", "normal"], thresholds={}))
    warning = chance_warning("classification", [{"epoch": 1, "metrics": {"auc": 0.34}}], {"epoch": 1}, 2)
    write_json(info.folder / "model" / "evaluation.json", {**binary_report(Y, S), "below_chance": warning})
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    page = tab.job_page
    w = EventWriter(info)
    w.write(ev.Log(job=info.id, level="warning", message=warning))
    w.write(ev.Finished(job=info.id, model=str(info.folder / "model"), best_metric=0.34, metric_name="auc"))
    qtbot.waitUntil(lambda: page.evaluation.report is not None, timeout=10000)
    banner = page.evaluation.chance_warning
    assert banner.isVisible() and "Not usable" in banner.text() and "AUC is 0.340" in banner.text()
    assert "no better than chance" in page.use_status.text() and page.use_status.isVisible()
    page.grab().save(str(isolated / "below_chance_job_page.png"))

    qtbot.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
    box = page.confirm_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    assert "AUC is 0.340" in box.text()
    refuse, = [b for b in box.buttons() if b.text() == "Don't register"]
    qtbot.mouseClick(refuse, Qt.MouseButton.LeftButton)
    assert not page.registered and not any(e.source == "user" for e in Registry().available())

    qtbot.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
    box = page.confirm_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    anyway, = [b for b in box.buttons() if b.text() == "Register anyway"]
    qtbot.mouseClick(anyway, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.registered, timeout=120000)
    assert Registry().find("coin").source == "user"
