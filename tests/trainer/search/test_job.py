"""Hyper-parameter searches as queued jobs: the search block, the runner command, the
search's events / state.json / cancel, and the readers of its result files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer import events as ev
from trainer import jobs
from trainer.config import JobError
from trainer.search.results import SearchResultError, current_run, read_best_job, read_status, read_trials

JOB = {"dataset": "cases/labels.csv", "model": {"architecture": "resnet18"}, "name": "chest"}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """12 images of 64 px (5 patients): a 2 × 2 × 1 search takes seconds."""
    from medview.demo.demo_data import write_demo_data

    out = tmp_path_factory.mktemp("search-data") / "data"
    write_demo_data(out, n=6, size=64, seed=3)
    return out


def tiny_search(data: Path, **search) -> dict:
    return {"name": "tiny", "dataset": str(data / "labels.csv"), "model": {"architecture": "mobilenet_v3_small"},
            "preset": "advanced", "input": {"size": 64, "channels": 1}, "epochs": 4, "freeze_epochs": 0,
            "workers": 0, "search": {"trials": 2, "folds": 2, "epochs": 1, **search}}


def _events(info) -> list[ev.Event]:
    try:
        lines = info.events_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [ev.parse_line(line) for line in lines if line.strip()]


def _wait_exit(info, timeout: float = 120) -> int:
    proc = jobs._CHILDREN[info.pid]
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


# ----------------------------------------------------------------------- queue and command

def test_a_search_block_makes_a_search_job(isolated):
    info = jobs.enqueue(dict(JOB, search={"trials": 4}))
    assert info.kind == "search" and info.id.endswith("-chest-search")
    queued = json.loads(info.job_file.read_text())
    assert queued["search"] == {"trials": 4, "folds": 3, "epochs": 3, "seed": 0}  # defaults written out
    assert "version" not in queued  # each training queued from the result gets its own
    assert jobs.enqueue(JOB).kind == "train"
    assert info.to_dict()["kind"] == "search"


def test_an_invalid_search_block_names_the_field(isolated):
    with pytest.raises(JobError, match=r"job field 'search.folds': must be at least 2"):
        jobs.enqueue(dict(JOB, search={"folds": 1}))
    with pytest.raises(JobError, match=r"job field 'search.trial': unknown field.*'trials'"):
        jobs.enqueue(dict(JOB, search={"trial": 3}))
    assert jobs.list_jobs() == []


def test_the_trainer_refuses_a_search_job_and_says_what_runs_it():
    from trainer.config import parse_job

    with pytest.raises(JobError, match="trainer.search.job"):
        parse_job(dict(JOB, search={}))


def test_job_command_for_search_and_training(isolated, monkeypatch):
    search = jobs.enqueue(dict(JOB, search={}))
    train = jobs.enqueue(JOB)
    assert jobs.job_command(search, resume=True, register=True, start_next=True) == [
        sys.executable, "-m", "trainer.search.job", str(search.job_file), "--out", str(search.folder), "--start-next"]
    assert jobs.job_command(train, resume=True, register=True) == [
        sys.executable, "-m", "trainer", str(train.job_file), "--resume", "--register"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert jobs.job_command(search)[:2] == [sys.executable, "search"]  # medview's own sub-command
    monkeypatch.setattr(jobs, "SEARCH_COMMAND", ["/opt/medview/medview", "search"])
    assert jobs.job_command(search)[:3] == ["/opt/medview/medview", "search", str(search.job_file)]


def test_a_dead_search_is_failed_with_a_search_reason(isolated):
    info = jobs.enqueue(dict(JOB, search={}))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    jobs.write_state(info.folder, "running", pid=proc.pid)
    dead = jobs.get(info.id)
    assert dead.state == "failed" and "start the search over" in dead.reason and "checkpoint" not in dead.reason


def test_medview_search_subcommand_reports_an_invalid_job(tmp_path, isolated, capsys):
    from medview import cli

    job = tmp_path / "job.json"
    job.write_text(json.dumps(dict(JOB, search={"folds": 1})))
    assert cli.main(["search", str(job), "--out", str(tmp_path / "out")]) == 2
    events = [ev.parse_line(line) for line in capsys.readouterr().out.splitlines()]
    assert isinstance(events[-1], ev.Failed) and "search.folds" in events[-1].reason
    assert json.loads((tmp_path / "out" / "state.json").read_text())["state"] == "failed"


# ----------------------------------------------------------------------- real searches in the queue

def test_a_queued_search_runs_to_its_result(tiny_data, isolated):
    info = jobs.start(jobs.enqueue(tiny_search(tiny_data)).id, start_next=True)
    assert _wait_exit(info) == 0, (info.folder / "trainer.log").read_text()[-2000:]
    done = jobs.get(info.id)
    assert done.state == "finished" and done.reason is None
    events = _events(done)
    assert events[0].type == "job_started" and events[0].split["test"] == 0
    assert [e.message.split(":")[0] for e in events if isinstance(e, ev.Log)][1:3] == ["trial 1/2", "trial 2/2"]
    assert isinstance(events[-1], ev.Finished) and events[-1].model == str(done.folder / "best_job.json")
    assert all(e.job == done.id for e in events)
    metric, trials = read_trials(done.folder)
    assert metric == "accuracy" and [t.number for t in trials] == [1, 2]
    best = max(trials, key=lambda t: t.mean)
    best_job = read_best_job(done.folder)
    assert (best_job["lr"], best_job["batch_size"], best_job["optimizer"]) == (best.lr, best.batch_size,
                                                                               best.optimizer)
    assert "search" not in best_job and "id" not in best_job
    assert jobs.enqueue(best_job).kind == "train"  # the result queues as a plain training job
    status = read_status(done.folder)
    assert status.error is None and status.has_best_job and status.position == (2, 2)


def test_too_few_patients_fails_with_one_line(tiny_data, isolated):
    info = jobs.start(jobs.enqueue(tiny_search(tiny_data, folds=40)).id)
    assert _wait_exit(info) == 1
    failed = jobs.get(info.id)
    assert failed.state == "failed" and "40-fold cross-validation needs at least 40 patients" in failed.reason
    assert "\n" not in failed.reason and _events(failed)[-1].type == "failed"


def test_cancel_keeps_the_finished_trials(tiny_data, isolated):
    info = jobs.start(jobs.enqueue(tiny_search(tiny_data, trials=20, epochs=2)).id)
    deadline = time.monotonic() + 120
    while not any(isinstance(e, ev.Log) and e.message.startswith("trial 1/") for e in _events(info)):
        assert time.monotonic() < deadline and jobs._CHILDREN[info.pid].poll() is None, "no trial finished"
        time.sleep(0.2)
    cancelled = jobs.cancel(info.id, timeout=60)
    assert cancelled.state == "cancelled" and "of 20 trials" in cancelled.reason, cancelled.reason
    assert _events(cancelled)[-1].type == "cancelled"
    assert json.loads((info.folder / "best.json").read_text())["cancelled"] is True
    assert read_best_job(info.folder)["optimizer"] in ("adam", "adamw", "sgd")


# ----------------------------------------------------------------------- result readers

def test_readers_turn_damaged_files_into_one_line(tmp_path):
    assert read_trials(tmp_path) == (None, []) and current_run(tmp_path) is None
    (tmp_path / "trials.json").write_text('{"trials": [')
    with pytest.raises(SearchResultError, match=r"^trials.json is damaged \(") as err:
        read_trials(tmp_path)
    assert "\n" not in str(err.value)
    (tmp_path / "trials.json").write_text(json.dumps({"trials": [{"number": 1, "params": {"lr": "fast"}}]}))
    with pytest.raises(SearchResultError, match=r"trial entry 1, 'params.lr' must be a finite number"):
        read_trials(tmp_path)
    status = read_status(tmp_path)  # never raises
    assert status.trials == [] and "trial entry 1" in status.error
    with pytest.raises(SearchResultError, match="no best_job.json"):
        read_best_job(tmp_path)
    (tmp_path / "best_job.json").write_text("[1, 2]")
    with pytest.raises(SearchResultError, match="not a JSON object"):
        read_best_job(tmp_path)
    (tmp_path / "runs" / "trial-002" / "fold-3").mkdir(parents=True)
    (tmp_path / "runs" / "trial-010").mkdir()
    assert current_run(tmp_path) == (10, 1)
