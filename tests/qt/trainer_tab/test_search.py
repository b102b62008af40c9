"""Settings search from the Trainer tab: queue a real tiny search, watch its trials fill the
table, train with the best settings; and the one-line reasons of bad input."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import Qt

from tests.helpers.trainer_tab import fake_job, wait_dataset, wait_listed

SEARCH_TIMEOUT_MS = 240_000  # 2 trials × 2 folds × 1 epoch of 12 images: ~10 s idle, more when loaded

TRIALS = {"metric": "accuracy", "folds": 2, "epochs": 1, "planned": 3, "trials": [
    {"number": 1, "params": {"lr": 1e-3, "batch_size": 8, "optimizer": "adam"}, "fold_scores": [0.5, 0.75],
     "mean": 0.625, "metric": "accuracy", "seconds": 12.0},
    {"number": 2, "params": {"lr": 3e-4, "batch_size": 16, "optimizer": "sgd"}, "fold_scores": [0.75, 1.0],
     "mean": 0.875, "metric": "accuracy", "seconds": 11.5}]}


def _tiny_search_form(qtbot, tab, demo):
    page, form, options = tab.dataset_page, tab.setup_form, tab.search_options
    page.set_path(demo / "classification")
    wait_dataset(qtbot, page)
    qtbot.waitUntil(lambda: form.task == "classification", timeout=5000)
    assert form.select_model({"architecture": "mobilenet_v3_small"})
    qtbot.mouseClick(form.preset_buttons["advanced"], Qt.MouseButton.LeftButton)
    form.name_edit.setText("tiny-search")
    for key, value in {"epochs": 4, "freeze_epochs": 0, "workers": 0, "input.size": 64, "input.channels": 1}.items():
        form.set_field(key, value)
    qtbot.mouseClick(options.search_radio, Qt.MouseButton.LeftButton)
    return options


def _search_job(demo, state: str = "running"):
    from trainer import jobs

    info = jobs.enqueue({"name": "fake", "dataset": str(demo / "classification"),
                         "model": {"architecture": "mobilenet_v3_small"}, "search": {"trials": 3, "folds": 2}})
    if state == "running":
        jobs.write_state(info.folder, "running", pid=os.getpid(), reason=None)
    else:
        jobs.write_state(info.folder, state, reason="cancelled (SIGTERM) after 2 of 3 trials", ended=True)
    return jobs.get(info.id)


@pytest.mark.slow
def test_a_real_search_from_the_tab_then_train_with_its_best_settings(qtbot, tab, demo):
    from trainer import jobs

    options = _tiny_search_form(qtbot, tab, demo)
    assert options.trials.isVisible() and "Tries 8 combinations" in options.explain.text()
    options.trials.setValue(2)
    options.folds.setValue(2)
    options.epochs.setValue(1)
    qtbot.waitUntil(lambda: tab.setup_form.error is None and tab.start_button.isEnabled(), timeout=10000)
    assert "In all 2 epochs of training over all the images, about 0.5× the training itself (4 epochs)" \
        in options.explain.text()
    assert tab.start_button.text() == "Find best settings"
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)

    jp = tab.job_page
    qtbot.waitUntil(lambda: jp.job_id is not None and jp.kind == "search", timeout=30000)
    search_id = jp.job_id
    view = jp.search_view
    assert jp.content.currentWidget() is view and not jp.side.isTabVisible(0)
    assert tab.queue.row(search_id).name == "tiny-search (search)"
    qtbot.waitUntil(lambda: jp.progress.state == "finished", timeout=SEARCH_TIMEOUT_MS)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2 and view.train_button.isVisible(), timeout=10000)
    best = json.loads((jp.folder / "best.json").read_text())["best"]
    assert view.model.best_number == best["number"]
    row = [t.number for t in view.model.trials].index(best["number"])
    assert view.model.index(row, 0).data().startswith("★")
    assert view.model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert view.model.index(row, 5).data().count(".") == 2  # a score per fold
    assert "Best settings:" in view.summary.text() and f"{best['params']['lr']:.2e}" in view.summary.text()
    assert jp.eta_label.text().startswith("Finished: 2 trials") and not jp.use_row.isVisible()
    assert "trial 2/2" in jp.log.toPlainText() and "best settings are in" in jp.log.toPlainText()

    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: jp.job_id not in (None, search_id), timeout=30000)
    train_id = jp.job_id
    assert jp.kind == "train" and jp.content.currentWidget() is jp.charts
    queued = json.loads(jobs.get(train_id).job_file.read_text())
    assert (queued["lr"], queued["batch_size"], queued["optimizer"]) == (
        best["params"]["lr"], best["params"]["batch_size"], best["params"]["optimizer"])
    assert "search" not in queued and queued["epochs"] == 4 and queued["name"] == "tiny-search"
    jobs.cancel(train_id, timeout=60)
    jobs.remove(train_id)


def test_too_few_patients_for_the_folds_is_named_before_queuing(qtbot, tab, demo):
    options = _tiny_search_form(qtbot, tab, demo)
    n = options.n_groups
    options.folds.setValue(n + 1)
    qtbot.waitUntil(lambda: options.error is not None, timeout=5000)
    assert f"at least {n + 1} patients; this data set has {n}" in options.error_label.text()
    assert options.error_label.isVisible() and not tab.start_button.isEnabled()
    options.folds.setValue(2)
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=10000)
    options.set_search(False)
    assert tab.start_button.text() in ("Start training", "Add to queue") and not options.trials.isVisible()


def test_running_search_shows_its_trials_and_a_damaged_file_as_one_line(qtbot, tab, demo):
    info = _search_job(demo)
    (info.folder / "runs" / "trial-003" / "fold-2").mkdir(parents=True)
    (info.folder / "trials.json").write_text(json.dumps(TRIALS))
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    jp, view = tab.job_page, tab.job_page.search_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=10000)
    assert view.model.best_number == 2 and "Best so far:" in view.summary.text()
    assert not view.train_button.isVisible()  # not before the search has ended
    assert jp.eta_label.text().startswith("Trial 3 of 3 · fold 2 of 2 · 2 finished")
    assert jp.bar.value() == int(5 / 6 * 1000)

    (info.folder / "trials.json").write_text('{"trials": [{"number": 1,')
    view.refresh()
    qtbot.waitUntil(lambda: view.note.isVisible(), timeout=10000)
    assert view.note.text().startswith("Cannot show the trials: trials.json is damaged (")
    assert "\n" not in view.note.text()


def test_cancelled_search_offers_its_best_so_far(qtbot, tab, demo):
    info = _search_job(demo, state="cancelled")
    (info.folder / "trials.json").write_text(json.dumps(TRIALS))
    (info.folder / "best_job.json").write_text("not json")
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    jp, view = tab.job_page, tab.job_page.search_view
    qtbot.waitUntil(lambda: view.train_button.isVisible(), timeout=10000)
    assert jp.eta_label.text() == "Cancelled after 2 of 3 trials. The best settings so far can still be trained."
    assert jp.start_button.text() == "Run again"
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)  # a damaged result: a reason, no crash
    qtbot.waitUntil(lambda: "Could not queue" in view.note.text(), timeout=10000)
    assert "best_job.json is damaged" in view.note.text() and len(tab.queue.rows) == 1


def test_a_training_job_page_is_unchanged_by_searches(qtbot, tab, demo):
    info = fake_job(demo, state="queued")
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    jp = tab.job_page
    assert jp.kind == "train" and jp.content.currentWidget() is jp.charts and jp.side.isTabVisible(0)
