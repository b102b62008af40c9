"""Stopping a trainer: SIGKILL mid-epoch (job failed, checkpoint resumable) and graceful cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.trainer_jobs import TINY_CLASSIFIER, events_of, medview_env, write_job
from trainer import events as ev
from trainer import jobs

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals (Windows: CTRL_BREAK, see cancel.py)")

# Slow enough to be caught mid-epoch: many small batches of a bigger input.
SLOW = dict(TINY_CLASSIFIER, epochs=3, batch_size=2, input={"size": 96, "channels": 1})


def _wait_for(predicate, timeout: float, what: str, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the trainer ended (status {proc.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _events(path: Path) -> list[ev.Event]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(ev.parse_line(line))
        except ev.EventError:
            pass  # a line being written
    return out


def _in_epoch_two(events) -> bool:
    return any(isinstance(e, ev.Batch) and e.epoch == 2 and e.batch < e.batches for e in events)


@pytest.mark.slow
def test_sigkill_mid_epoch_leaves_failed_job_and_resumable_checkpoint(demo, isolated):
    import torch

    info = jobs.enqueue(dict(SLOW, dataset=str(demo / "labels.csv")))
    assert info.state == "queued" and info.folder.parent == isolated / "user" / "jobs"
    info = jobs.start(info.id)
    assert info.state == "running" and info.pid
    try:
        _wait_for(lambda: _in_epoch_two(_events(info.events_file)), 90, "epoch 2",
                  jobs._CHILDREN[info.pid])
    finally:
        os.kill(info.pid, signal.SIGKILL)
    _wait_for(lambda: jobs._CHILDREN[info.pid].poll() is not None, 10, "the kill")
    jobs._CHILDREN.clear()  # as after a restart of the app: only the pid on disk is known
    dead = jobs.get(info.id)
    assert dead.state == "failed"
    assert f"pid {info.pid}" in dead.reason and "resume it to continue" in dead.reason
    last = dead.folder / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)  # loadable with the safe unpickler
    assert state["epoch"] == 1 and state["batch"] == 0 and state["model"]
    resumed = jobs.start(info.id, resume=True)
    proc = jobs._CHILDREN[resumed.pid]
    assert proc.wait(timeout=120) == 0, (dead.folder / "trainer.log").read_text()[-2000:]
    done = jobs.get(info.id)
    assert done.state == "finished"
    evs = _events(done.events_file)
    assert any(isinstance(e, ev.Log) and "resuming from" in e.message for e in evs)
    starts = [e.epoch for e in evs if isinstance(e, ev.EpochStarted)]
    assert starts[-2:] == [2, 3]  # the resumed run went on from epoch 2
    assert (done.folder / "model" / "model.json").exists()


@pytest.mark.slow
def test_sigterm_cancels_gracefully_and_resume_continues_mid_epoch(demo, tmp_path, isolated):
    import torch

    job = write_job(tmp_path / "run", SLOW, dataset=str(demo / "labels.csv"))
    proc = subprocess.Popen([sys.executable, "-m", "trainer", str(job)], cwd=ROOT, env=medview_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events_file = tmp_path / "run" / "events.jsonl"
    try:
        _wait_for(lambda: any(isinstance(e, ev.Batch) and e.epoch == 1 and 1 <= e.batch < e.batches - 2
                              for e in _events(events_file)), 90, "a batch of epoch 1", proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 3, err[-2000:]
    events = events_of(out)
    assert events[-1].type == "cancelled"
    saved = [e for e in events if isinstance(e, ev.CheckpointSaved)][-1]
    state = torch.load(saved.path, weights_only=True)
    assert state["epoch"] == 1 and 0 < state["batch"] < state["epochs"] * 100  # mid-epoch
    assert json.loads((tmp_path / "run" / "state.json").read_text())["state"] == "cancelled"
    batch = state["batch"]
    proc = subprocess.run([sys.executable, "-m", "trainer", str(job), "--resume"], cwd=ROOT, env=medview_env(),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = events_of(proc.stdout)
    first = next(e for e in events if isinstance(e, ev.Batch))
    assert (first.epoch, first.batch) == (1, batch + 1)  # went on after the saved batch
    assert events[-1].type == "finished"


@pytest.mark.slow
def test_cancel_file_and_queue_cancel(demo, isolated):
    # Windows-safe fallback: the cancel file (jobs.cancel also signals; both lead to the same end).
    info = jobs.start(jobs.enqueue(dict(SLOW, dataset=str(demo / "labels.csv"))).id)
    _wait_for(lambda: any(isinstance(e, ev.Batch) for e in _events(info.events_file)), 90, "a batch",
              jobs._CHILDREN[info.pid])
    (info.folder / "cancel").touch()
    proc = jobs._CHILDREN[info.pid]
    assert proc.wait(timeout=60) == 3
    assert jobs.get(info.id).state == "cancelled"
    assert _events(info.events_file)[-1].type == "cancelled"
    # a queued job is cancelled at once; a running one through jobs.cancel
    queued = jobs.enqueue(dict(SLOW, dataset=str(demo / "labels.csv")))
    assert jobs.cancel(queued.id).state == "cancelled"
    running = jobs.start(info.id, resume=True)
    _wait_for(lambda: len([e for e in _events(running.events_file) if e.type == "job_started"]) >= 2, 90,
              "the resumed start", jobs._CHILDREN[running.pid])
    assert jobs.cancel(running.id, timeout=60).state == "cancelled"
