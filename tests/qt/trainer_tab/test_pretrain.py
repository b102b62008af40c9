"""Pre-training in the Trainer tab: the page writes a valid pretrain job, its job page
charts the self-supervised loss (no accuracy, no evaluation), summarises the backbone and
registers it, after which the training form offers it under "Start from"."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from PySide6.QtCore import Qt

from tests.helpers.trainer_tab import EventWriter, fake_job, wait_listed, write_test_backbone


def _folders(tmp_path, n=2):
    out = []
    for i in range(n):
        d = tmp_path / f"archive-{2024 + i}"
        d.mkdir()
        out.append(str(d))
    return out


def test_pretrain_page_writes_a_valid_job(qtbot, tab, demo, tmp_path):
    from trainer import jobs
    from trainer.config import parse_job

    busy = fake_job(demo, "running", name="busy")  # a job runs: the new one waits in the queue
    wait_listed(qtbot, tab, 1)
    qtbot.mouseClick(tab.pretrain_button, Qt.MouseButton.LeftButton)
    assert tab.stack.currentWidget() is tab.pretrain_scroll
    form = tab.pretrain_form
    assert not tab.pretrain_start.isEnabled()
    assert form.arch_combo.currentText() == "resnet18" and form.budget.minutes() == 60
    for w in (form.folder_list, form.arch_combo, form.budget.spin, form.name_edit):
        assert w.toolTip()
    # a folder without images: said after the search, and nothing can start
    (empty,) = _folders(tmp_path, 1)
    form.add_folder(empty)
    qtbot.waitUntil(lambda: form.found == (0, 0, 0), timeout=20000)
    assert form.found_label.text() == "No readable images in these folders."
    qtbot.waitUntil(lambda: form.error is not None and "fewer than 2 readable images" in form.error, timeout=5000)
    assert not tab.pretrain_start.isEnabled() and form.error_label.isVisible()
    form.folder_list.item(0).setSelected(True)
    qtbot.mouseClick(form.remove_button, Qt.MouseButton.LeftButton)
    assert form.folders() == [] and form.found_label.text() == ""
    # two folders of the archive (the demo's DICOM and PNG images), and the same one twice
    a, b = str(tmp_path / "2024"), str(tmp_path / "2025")
    shutil.copytree(demo / "classification" / "lesion", a)
    shutil.copytree(demo / "classification" / "normal", b)
    form.add_folder(a)
    form.add_folder(b)
    form.add_folder(a)  # once only
    assert form.folders() == [a, b]
    qtbot.waitUntil(lambda: form.found is not None, timeout=20000)
    images, studies, skipped = form.found
    assert (images, skipped) == (12, 0) and studies >= 2
    assert form.found_label.text() == f"12 images from {studies} studies."
    qtbot.waitUntil(lambda: form.name_edit.placeholderText() == "2024-backbone", timeout=5000)
    assert "name" not in form.job_dict()  # the trainer's default, shown as the placeholder
    qtbot.mouseClick(form.budget.buttons[480], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(form.name_edit, "clinic-archive")
    qtbot.waitUntil(lambda: form.error is None and tab.pretrain_start.isEnabled(), timeout=5000)
    job = form.job_dict()
    assert job == {"task": "pretrain", "name": "clinic-archive", "dataset": [a, b],
                   "model": {"architecture": "resnet18"}, "time_budget_minutes": 480}
    parsed = parse_job(job)
    assert (parsed.dataset, parsed.architecture, parsed.time_budget_minutes) == ((a, b), "resnet18", 480)
    # a folder that is not there, and a bad name, are named before anything is queued
    form.add_folder(tmp_path / "missing")
    qtbot.waitUntil(lambda: form.error is not None and not tab.pretrain_start.isEnabled(), timeout=5000)
    assert "missing" in form.error and form.error_label.isVisible()
    form.folder_list.clearSelection()
    form.folder_list.item(2).setSelected(True)
    qtbot.mouseClick(form.remove_button, Qt.MouseButton.LeftButton)
    form.name_edit.setText("Clinic Archive")
    qtbot.waitUntil(lambda: form.error is not None and "name" in form.error, timeout=5000)
    form.name_edit.setText("clinic-archive")
    qtbot.waitUntil(lambda: tab.pretrain_start.isEnabled(), timeout=5000)
    assert tab.pretrain_start.text() == "Add to queue" and "waits in the queue" in tab.pretrain_note.text()
    form.grab().save(str(tmp_path / "pretrain_form.png"))
    qtbot.mouseClick(tab.pretrain_start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(tab.queue.rows) == 2, timeout=20000)
    info = next(i for i in jobs.list_jobs() if i.id != busy.id)
    assert info.kind == "pretrain" and info.state == "queued"
    queued = json.loads(info.job_file.read_text())
    assert {k: queued[k] for k in job} == job
    assert tab.queue.row(info.id).name == "clinic-archive (pre-training)"
    qtbot.waitUntil(lambda: tab.job_page.job_id == info.id, timeout=5000)
    assert "pre-training" in tab.job_page.title.text()


def _pretrain_job(folder: str):
    from trainer import jobs

    info = jobs.enqueue({"task": "pretrain", "name": "clinic-archive", "version": "1", "dataset": folder,
                         "model": {"architecture": "resnet18"}, "time_budget_minutes": 30})
    jobs.write_state(info.folder, "running", pid=os.getpid(), reason=None)
    return jobs.get(info.id)


def _curve_len(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def test_pretrain_job_page_charts_the_loss_and_registers_the_backbone(qtbot, tab, tmp_path, isolated):
    from medview.inference.backbones import list_backbones
    from trainer import events as ev
    from trainer import jobs

    (folder,) = _folders(tmp_path, 1)
    info = _pretrain_job(folder)
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    page = tab.job_page
    assert page.kind == "pretrain"
    charts = page.charts
    w = EventWriter(info)
    w.write(ev.JobStarted(job=info.id, task="pretrain", model="resnet18", split={"train": 40}, device="cpu",
                          dataset={"task": "pretrain", "source": [folder], "n_found": 40, "n_images": 40,
                                   "n_studies": 7}))
    w.write(ev.EpochStarted(job=info.id, epoch=1, epochs=3))
    for b, loss in enumerate((-0.2, -0.45, -0.6), 1):  # SimSiam: a negative cosine similarity
        w.write(ev.Batch(job=info.id, epoch=1, batch=b, batches=3, loss=loss, images_per_s=20.0))
    w.write(ev.EpochEnd(job=info.id, epoch=1, epochs=3, train_loss=-0.42, val_loss=None,
                        metrics={"spread": 0.81}, lr=0.05, eta_s=125.0))
    w.write(ev.CheckpointSaved(job=info.id, path=str(info.folder / "checkpoints" / "last.pt"), epoch=1,
                               metric=None))
    qtbot.waitUntil(lambda: _curve_len(charts.train_curve) == 1, timeout=5000)
    charts.redraw()
    assert list(charts.batch_curve.getData()[1]) == pytest.approx([-0.2, -0.45, -0.6])
    # the loss alone: no validation curve, no accuracy chart, no evaluation
    assert charts.loss_plot.isVisible() and not charts.metric_plot.isVisible()
    assert not charts.val_curve.isVisible()
    assert [label.text for _item, label in charts.legend.items] == ["train (each batch)", "train (epoch mean)"]
    assert charts.loss_plot.getViewBox().viewRange()[1][0] < -0.6  # the negative loss is on the chart
    side = page.side
    assert not side.isTabVisible(side.indexOf(page.eval_scroll))
    assert side.isTabVisible(side.indexOf(page.backbone_view))
    assert "Epoch 1/3" in page.eta_label.text() and "2 min" in page.eta_label.text()
    text = page.log.toPlainText()
    assert "pre-training resnet18 on cpu; 40 images from 7 studies" in text
    assert "epoch 1/3: loss -0.42, spread 0.81; lr 0.05" in text and "checkpoint saved (epoch 1)" in text
    assert "validation" not in text

    for b in (1, 2, 3):
        w.write(ev.Batch(job=info.id, epoch=2, batch=b, batches=3, loss=-0.7 - b / 100, images_per_s=20.0))
    w.write(ev.EpochEnd(job=info.id, epoch=2, epochs=2, train_loss=-0.72, val_loss=None,
                        metrics={"spread": 0.78}, lr=0.04, eta_s=0.0))
    backbone = write_test_backbone(info.folder / "backbone", "clinic-archive", "resnet18", version="1",
                                   images=40, studies=7, duration_s=95.0, method="simsiam",
                                   datasets=[folder], source=f"pretrain job {info.id}")
    w.write(ev.Finished(job=info.id, model=str(backbone), best_metric=None))
    jobs.write_state(info.folder, "finished", reason=None, ended=True)
    qtbot.waitUntil(lambda: _curve_len(charts.train_curve) == 2, timeout=5000)
    # the time budget cut the plan from 3 epochs to 2: the axis follows the latest plan
    assert charts.loss_plot.getViewBox().viewRange()[0][1] == pytest.approx(2 * 1.03)
    view = page.backbone_view
    qtbot.waitUntil(lambda: view.info is not None, timeout=10000)
    assert side.currentWidget() is view
    summary = view.summary.text()
    for part in ("clinic-archive 1", "resnet18", ">40<", ">7<", "1 min 35 s", "simsiam", folder):
        assert part in summary, part
    assert page.eta_label.text().startswith("Finished") and "after 2 epochs" in page.eta_label.text()
    assert "Stopped early" not in page.eta_label.text()
    assert not page.use_row.isVisible()  # no model to register or export
    assert view.register_button.isVisible() and view.register_button.isEnabled()
    page.grab().save(str(tmp_path / "pretrain_page.png"))
    # register: installed in the user folder, and the training form offers it at once
    qtbot.mouseClick(view.register_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.registered, timeout=90000)  # a medview subprocess
    assert view.register_button.text() == "Registered" and not view.register_button.isEnabled()
    assert "Start from" in view.status.text()
    assert [(e.source, e.info.name) for e in list_backbones()] == [("user", "clinic-archive")]
    qtbot.waitUntil(lambda: [b.name for b in tab.setup_form.start_from.backbones] == ["clinic-archive"],
                    timeout=10000)
    # opened again later (e.g. after a restart): the same page, already registered
    tab.show_new_job()
    tab.select_job(info.id)
    qtbot.waitUntil(lambda: page.backbone_view.registered, timeout=10000)


PRETRAIN_TIMEOUT_MS = 300_000  # 12 images of 64 px, a few epochs: ~30 s idle, more on a loaded 2-core PC


@pytest.mark.slow
def test_real_pretrain_job_cancelled_resumed_registered_then_trained_from(qtbot, tab, demo):
    """The real trainer process: the page's job (made tiny) runs, is cancelled and resumed
    from the page, its backbone is registered, and a classification job from the training
    form starts from it."""
    from trainer import jobs

    qtbot.mouseClick(tab.pretrain_button, Qt.MouseButton.LeftButton)
    form = tab.pretrain_form
    form.add_folder(demo / "classification")
    form.name_edit.setText("tiny-archive")
    form.budget.set_minutes(5)
    qtbot.waitUntil(lambda: tab.pretrain_start.isEnabled(), timeout=5000)
    tiny = {"input": {"size": 64}, "epochs": 6, "batch_size": 4, "workers": 0, "version": "1"}
    tab._queue_new({**form.job_dict(), **tiny}, tab.pretrain_start, tab.pretrain_note)  # Start, made tiny
    page = tab.job_page
    qtbot.waitUntil(lambda: page.job_id is not None and page.kind == "pretrain", timeout=30000)
    job_id = page.job_id
    qtbot.waitUntil(lambda: page.charts.n_epochs >= 1, timeout=PRETRAIN_TIMEOUT_MS)
    assert "pre-training resnet18" in page.log.toPlainText() and "12 images from" in page.log.toPlainText()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.state == "cancelled", timeout=120000)
    wait_listed(qtbot, tab)
    qtbot.waitUntil(lambda: page.start_button.isVisible() and page.start_button.text() == "Resume", timeout=20000)
    done_before = page.charts.n_epochs
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.progress.state in ("finished", "failed"), timeout=PRETRAIN_TIMEOUT_MS)
    assert page.progress.state == "finished", page.progress.reason
    assert 1 <= done_before < page.charts.n_epochs
    assert not page.charts.metric_plot.isVisible() and page.charts.n_batches >= page.charts.n_epochs
    view = page.backbone_view
    qtbot.waitUntil(lambda: view.info is not None, timeout=30000)
    assert (view.info.name, view.info.architecture, view.info.images) == ("tiny-archive", "resnet18", 12)
    qtbot.mouseClick(view.register_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.registered, timeout=60000)

    # a classification job from the training form starts from it
    tab.show_new_job()
    tab.dataset_page.set_path(demo / "classification")
    setup = tab.setup_form
    qtbot.waitUntil(lambda: setup.task == "classification" and bool(setup.start_from.backbones), timeout=30000)
    assert setup.select_model({"architecture": "resnet18"})
    qtbot.waitUntil(lambda: setup.model_spec().get("backbone") == "tiny-archive", timeout=5000)
    qtbot.mouseClick(setup.preset_buttons["advanced"], Qt.MouseButton.LeftButton)
    for key, value in {"epochs": 1, "freeze_epochs": 0, "batch_size": 4, "workers": 0, "input.size": 64,
                       "split.val": "0.25", "split.test": "0.25"}.items():
        setup.set_field(key, value)
    qtbot.waitUntil(lambda: setup.error is None and tab.start_button.isEnabled(), timeout=10000)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job_id not in (None, job_id), timeout=30000)
    qtbot.waitUntil(lambda: "tensors loaded from backbone tiny-archive 1" in page.log.toPlainText(),
                    timeout=PRETRAIN_TIMEOUT_MS)
    jobs.cancel(page.job_id, timeout=60)
