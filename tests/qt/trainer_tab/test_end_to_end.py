"""A real, tiny training job started from the tab inside the main window: events arrive,
charts fill, the evaluation shows, the model is registered into the AI panel and exported."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import Qt

from tests.helpers.qt import main_window

JOB_TIMEOUT_MS = 300_000  # a dozen 64 px images, 1 epoch: ~10 s idle, more on a loaded 2-core machine


@pytest.fixture
def window(qtbot, settings):
    """The main window at 1400 × 900: the Trainer tab's charts need the room."""
    with main_window(qtbot, settings, size=(1400, 900)) as win:
        yield win


@pytest.mark.slow
def test_real_training_job_from_the_tab(qtbot, window, demo, tmp_path):
    assert window.trainer_tab is None  # built when first opened
    window.trainer_action.trigger()
    host = window.trainer_tab
    assert window.tabs.currentWidget() is host
    qtbot.waitUntil(lambda: host.tab is not None, timeout=10000)
    tab = host.tab
    page, form = tab.dataset_page, tab.setup_form

    page.set_path(demo / "classification")
    qtbot.waitUntil(lambda: page.dataset is not None, timeout=30000)
    qtbot.waitUntil(lambda: form.task == "classification", timeout=5000)
    assert form.select_model({"architecture": "mobilenet_v3_small"})
    qtbot.mouseClick(form.preset_buttons["advanced"], Qt.MouseButton.LeftButton)
    form.name_edit.setText("tiny-chest")
    form.version_edit.setText("0.1.0")
    for key, value in {"epochs": 1, "freeze_epochs": 0, "batch_size": 4, "workers": 0, "input.size": 64,
                       "input.channels": 1, "split.val": "0.25", "split.test": "0.25"}.items():
        form.set_field(key, value)
    qtbot.waitUntil(lambda: form.error is None and tab.start_button.isEnabled(), timeout=10000)
    t0 = time.monotonic()
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)

    jp = tab.job_page
    qtbot.waitUntil(lambda: jp.job_id is not None and tab.stack.currentWidget() is jp, timeout=30000)
    info = tab.queue.row(jp.job_id).info
    assert info.state == "running" and info.pid
    if os.name != "nt":
        try:  # the trainer runs below the viewer's priority
            assert os.getpriority(os.PRIO_PROCESS, info.pid) >= 10
        except ProcessLookupError:
            pass
    qtbot.waitUntil(lambda: jp.progress.state == "finished", timeout=JOB_TIMEOUT_MS)
    took = time.monotonic() - t0
    qtbot.waitUntil(lambda: tab.queue.index(tab.queue.row_index(jp.job_id), 1).data() == "finished",
                    timeout=10000)
    assert jp.charts.n_batches >= 1 and jp.charts.n_epochs == 1
    # curves are redrawn on a throttle timer: wait for it rather than read them at once
    qtbot.waitUntil(lambda: jp.charts.val_curve.getData()[0] is not None, timeout=5000)
    assert len(jp.charts.val_curve.getData()[0]) == 1 and jp.charts.metric_curves
    assert jp.eta_label.text().startswith("Finished")
    qtbot.waitUntil(lambda: jp.evaluation.report is not None, timeout=30000)
    assert jp.evaluation.threshold is not None and jp.evaluation.cm.sum() == jp.evaluation.report["n_test"]
    assert "job_started" not in jp.log.toPlainText() and "started: classification" in jp.log.toPlainText()

    # Register: the AI panel lists the model at once
    assert not window.analysis.picker.select("tiny-chest", "0.1.0")
    qtbot.mouseClick(jp.register_button, Qt.MouseButton.LeftButton)
    if jp.report.get("below_chance"):  # a 1-epoch model may be no better than chance: confirm
        qtbot.waitUntil(jp.confirm_box.isVisible, timeout=5000)
        anyway, = [b for b in jp.confirm_box.buttons() if b.text() == "Register anyway"]
        qtbot.mouseClick(anyway, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: jp.registered, timeout=120000)
    assert window.analysis.picker.select("tiny-chest", "0.1.0")
    assert "Registered as tiny-chest 0.1.0" in jp.use_status.text()

    # Export ONNX (a subprocess)
    out = tmp_path / "tiny.onnx"
    proc = jp.export_onnx(str(out))
    assert proc is not None
    qtbot.waitUntil(lambda: "Exported" in jp.use_status.text() or "failed" in jp.use_status.text(),
                    timeout=180000)
    assert out.is_file() and out.stat().st_size > 1000, jp.use_status.text()
    print(f"training job from click to finished: {took:.1f} s")
