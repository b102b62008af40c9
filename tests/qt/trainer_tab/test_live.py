"""The tab follows a job's events.jsonl: charts grow, time left updates, the queue reacts."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers.trainer_tab import EventWriter, fake_job, make_tab, started, wait_listed


def _curve_len(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def test_the_kept_label_lies_above_scores_of_one(qtbot):
    """The "kept" epoch's label sits in the headroom above 1.0, never over the points there."""
    from medview.qt.trainer_tab.charts import TrainingCharts
    from trainer import events as ev

    charts = TrainingCharts()
    qtbot.addWidget(charts)
    charts.resize(700, 600)
    charts.show()
    charts.add_events([ev.EpochEnd(job="j", epoch=e, epochs=3, train_loss=0.5, val_loss=0.4,
                                   metrics={"accuracy": 1.0, "auc": 1.0}, lr=1e-3, eta_s=0.0) for e in (1, 2, 3)]
                      + [ev.CheckpointSaved(job="j", path="best.safetensors", epoch=2, metric=1.0)])
    charts.redraw()
    qtbot.waitUntil(lambda: charts.best_line.isVisible())
    qtbot.wait(50)  # the label follows the view's layout
    view = charts.metric_plot.getPlotItem().vb
    label = view.mapSceneToView(charts.best_line.label.sceneBoundingRect()).boundingRect()
    assert 0 < label.height() < 0.2 and label.top() > 1.0
    assert label.left() < 2 < label.right()  # on its line


def test_new_points_are_drawn_as_events_arrive(qtbot, tab, demo):
    from trainer import events as ev

    info = fake_job(demo)
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    page = tab.job_page
    assert page.job_id == info.id and tab.stack.currentWidget() is page
    charts = page.charts
    w = EventWriter(info)
    w.write(ev.Log(job=info.id, level="info", message="preparing 12 images"))
    w.write(started(info.id))
    w.write(ev.EpochStarted(job=info.id, epoch=1, epochs=3))
    qtbot.waitUntil(lambda: page.progress.state == "running", timeout=5000)
    eta_before = page.eta_label.text()
    assert "Epoch 1/3" in eta_before

    w.write(ev.Batch(job=info.id, epoch=1, batch=1, batches=4, loss=0.9, images_per_s=10.0))
    qtbot.waitUntil(lambda: _curve_len(charts.batch_curve) == 1, timeout=5000)
    w.write(ev.Batch(job=info.id, epoch=1, batch=2, batches=4, loss=0.8, images_per_s=11.0))
    # half a line first: the tail must wait for its end
    line = ev.Batch(job=info.id, epoch=1, batch=3, batches=4, loss=0.7, images_per_s=12.0).to_json() + "\n"
    w.raw(line[:20])
    qtbot.waitUntil(lambda: _curve_len(charts.batch_curve) == 2, timeout=5000)
    qtbot.wait(400)
    assert _curve_len(charts.batch_curve) == 2
    w.raw(line[20:])
    qtbot.waitUntil(lambda: _curve_len(charts.batch_curve) == 3, timeout=5000)
    assert list(charts.batch_curve.getData()[1]) == pytest.approx([0.9, 0.8, 0.7])
    assert "batch 3/4" in page.eta_label.text() and "(estimating)" in page.eta_label.text()
    assert page.eta_label.text() != eta_before

    w.write(ev.EpochEnd(job=info.id, epoch=1, epochs=3, train_loss=0.8, val_loss=0.85,
                        metrics={"accuracy": 0.6, "auc": 0.7}, lr=1e-3, eta_s=125.0))
    w.write(ev.CheckpointSaved(job=info.id, path="best.safetensors", epoch=1, metric=0.7, metric_name="auc"))
    qtbot.waitUntil(lambda: _curve_len(charts.val_curve) == 1, timeout=5000)
    assert _curve_len(charts.train_curve) == 1
    assert set(charts.metric_curves) == {"accuracy", "auc"}
    assert charts.best_line.isVisible() and charts.best_line.value() == 1
    qtbot.waitUntil(lambda: "2 min" in page.eta_label.text(), timeout=5000)
    assert "(estimating)" not in page.eta_label.text()
    assert page.bar.value() == pytest.approx(1000 / 3, abs=2)
    # the queue table shows the progress of the followed job
    row = tab.queue.row_index(info.id)
    assert "epoch 1/3" in tab.queue.index(row, 2).data()

    for b in (1, 2):
        w.write(ev.Batch(job=info.id, epoch=2, batch=b, batches=4, loss=0.6, images_per_s=12.0))
    w.write(ev.EpochEnd(job=info.id, epoch=2, epochs=3, train_loss=0.6, val_loss=0.62,
                        metrics={"accuracy": 0.8, "auc": None}, lr=5e-4, eta_s=60.0))
    qtbot.waitUntil(lambda: _curve_len(charts.val_curve) == 2, timeout=5000)
    assert _curve_len(charts.batch_curve) == 5
    x, y = charts.metric_curves["auc"].getData()
    assert list(x) == [1.0, 2.0] and y[0] == pytest.approx(0.7) and y[1] != y[1]  # null → NaN gap
    assert "Epoch 2/3" in page.eta_label.text() and "1 min" in page.eta_label.text()
    # every line in the log view that a person should read
    text = page.log.toPlainText()
    assert "preparing 12 images" in text and "epoch 2/3" in text and "checkpoint saved" in text


@pytest.mark.parametrize("outcome", ["failed", "cancelled"])
def test_terminal_event_updates_the_job_list(qtbot, tab, demo, outcome):
    from trainer import events as ev

    info = fake_job(demo)
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    w = EventWriter(info)
    w.write(started(info.id))
    w.write(ev.EpochStarted(job=info.id, epoch=1, epochs=2))
    qtbot.waitUntil(lambda: tab.queue.rows[0].state == "running", timeout=5000)
    if outcome == "failed":
        w.write(ev.Failed(job=info.id, reason="disk full while writing the checkpoint", detail="Traceback …"))
    else:
        w.write(ev.Cancelled(job=info.id))
    state_cell = tab.queue.index(0, 1)
    qtbot.waitUntil(lambda: state_cell.data() == outcome, timeout=5000)
    # state.json still says running (the trainer writes it after the event): the event wins
    from trainer.jobs import read_state

    assert read_state(info.folder)["state"] == "running"
    wait_listed(qtbot, tab)
    assert tab.queue.index(0, 1).data() == outcome
    page = tab.job_page
    assert page.state == outcome
    assert page.start_button.isVisible() and not page.cancel_button.isVisible()
    if outcome == "failed":
        assert "disk full" in page.eta_label.text()
        assert "disk full" in page.log.toPlainText()
        assert tab.queue.rows[0].reason == "disk full while writing the checkpoint"
    else:
        assert "Cancelled" in page.eta_label.text()


def test_queue_survives_recreating_the_tab(qtbot, settings, demo):
    from trainer import jobs

    done = fake_job(demo, "finished", name="first")
    failed = fake_job(demo, "failed", name="second")
    queued = fake_job(demo, "queued", name="third")
    tab = make_tab(qtbot, settings)
    wait_listed(qtbot, tab, 3)
    expected = {done.id: "finished", failed.id: "failed", queued.id: "queued"}
    assert tab.queue.states() == expected
    assert [tab.queue.index(i, 0).data() for i in range(3)] == ["first", "second", "third"]
    assert tab.queue_button.isVisible() and "1 waiting" in tab.queue_button.text()
    tab.shutdown()
    tab.close()
    tab.deleteLater()

    jobs.cancel(queued.id)  # changed on disk while no tab was open
    tab2 = make_tab(qtbot, settings)
    wait_listed(qtbot, tab2, 3)
    assert tab2.queue.states() == dict(expected, **{queued.id: "cancelled"})
    assert not tab2.queue_button.isVisible()
    # the newest job is shown on opening
    qtbot.waitUntil(lambda: tab2.job_page.job_id == queued.id, timeout=5000)
    tab2.shutdown()


def test_a_dead_running_job_is_shown_failed_with_the_trainer_output(qtbot, tab, demo):
    """The trainer crashed without a `failed` event: the reason and trainer.log are shown."""
    from trainer import jobs

    info = fake_job(demo, "queued", name="crashed")
    jobs.write_state(info.folder, "running", pid=2**22 + 12345, reason=None)  # no such process
    (info.folder / "trainer.log").write_text("Traceback (most recent call last):\nMemoryError\n")
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    assert tab.queue.rows[0].state == "failed"
    page = tab.job_page
    qtbot.waitUntil(lambda: "MemoryError" in page.log.toPlainText(), timeout=5000)
    assert "ended without reporting an outcome" in page.log.toPlainText()
    assert page.start_button.text() == "Run again"


def test_cancel_button_cancels_a_queued_job(qtbot, tab, demo):
    info = fake_job(demo, "queued", name="waiting")
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    page = tab.job_page
    assert page.cancel_button.isVisible() and page.start_button.text() == "Start now"
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.queue.index(0, 1).data() == "cancelled", timeout=10000)
    qtbot.waitUntil(lambda: page.state == "cancelled", timeout=5000)
    assert not page.cancel_button.isVisible()


DIRECT_RUN = """
import os, sys, time
from pathlib import Path
from trainer import events as ev
from trainer import jobs
from trainer.sink import EventSink

folder = Path(sys.argv[1])
jobs.write_state(folder, "running", pid=os.getpid(), reason=None)  # as run_job does
sink = EventSink(folder.name, folder / "events.jsonl", stream=open(os.devnull, "w"))
sink.emit(ev.JobStarted(job=folder.name, task="classification", model="mobilenet_v3_small",
                        dataset={"n_samples": 12}, split={"train": 8, "val": 2, "test": 2}, device="cpu"))
sink.emit(ev.EpochStarted(job=folder.name, epoch=1, epochs=3))
sink.emit(ev.Batch(job=folder.name, epoch=1, batch=1, batches=4, loss=0.5, images_per_s=None))
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(__import__("os").name == "nt", reason="SIGKILL")
def test_a_killed_direct_run_is_shown_failed_not_running(qtbot, tab, demo):
    """``python -m trainer job.json`` run by hand (not started by the queue), then killed:
    its events stop at "running"; the tab must say failed, in the list and on the page."""
    import os
    import signal
    import subprocess
    import sys

    from tests.helpers.paths import ROOT

    info = fake_job(demo, "queued", name="direct")
    run = subprocess.Popen([sys.executable, "-c", DIRECT_RUN, str(info.folder)], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
    assert run.stdout.readline().strip() == "ready"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    wait_listed(qtbot, tab, 1)
    assert tab.queue.rows[0].state == "failed"
    tab.select_job(info.id)
    page = tab.job_page
    qtbot.waitUntil(lambda: page.progress.state is not None, timeout=5000)  # the events are read
    assert page.state == "failed" and page.state_label.text() == "failed"
    assert not page.cancel_button.isVisible() and page.start_button.text() == "Run again"
    assert tab.queue.rows[0].state == "failed"
    assert "ended without reporting an outcome" in page.eta_label.text()


def test_another_computers_job_shows_running_there(qtbot, tab, demo, tmp_path):
    """A user folder shared by two computers: the other one's job is not judged dead here."""
    import json

    from trainer import jobs

    info = fake_job(demo, "queued", name="elsewhere")
    jobs.write_state(info.folder, "running", pid=2**22 + 12345, reason=None)  # no such pid here
    status = json.loads((info.folder / "state.json").read_text())
    (info.folder / "state.json").write_text(json.dumps(dict(status, host="radiology-pc-2")))
    EventWriter(info).write(started(info.id))
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    page = tab.job_page
    qtbot.waitUntil(lambda: page.progress.state is not None, timeout=5000)
    state_index = tab.queue.index(0, 1)
    assert tab.queue.data(state_index) == "running on radiology-pc-2"
    assert page.state_label.text() == "running on radiology-pc-2"
    assert page.cancel_button.isVisible()  # through the cancel file, which that computer watches
    tab.grab().save(str(tmp_path / "elsewhere.png"))
    print("screenshot:", tmp_path / "elsewhere.png")
