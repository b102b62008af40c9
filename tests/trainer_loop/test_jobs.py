"""The on-disk job queue without training: enqueue, list, states, dead processes, the start hook."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trainer import jobs
from trainer.config import JobError

JOB = {"dataset": "cases/labels.csv", "model": {"architecture": "resnet18"}, "name": "chest"}


def test_enqueue_writes_job_and_state(tmp_path, isolated):
    (tmp_path / "jobfiles").mkdir()
    path = tmp_path / "jobfiles" / "chest.json"
    path.write_text(json.dumps(JOB))
    info = jobs.enqueue(path)
    assert info.folder.parent == jobs.queue_dir() == isolated / "user" / "jobs"
    assert info.id.endswith("-chest") and info.state == "queued" and info.pid is None
    queued = json.loads(info.job_file.read_text())
    assert queued["dataset"] == str(tmp_path / "jobfiles" / "cases" / "labels.csv")  # made absolute
    assert queued["id"] == info.id and queued["version"]  # fixed now, so a resumed run keeps it
    status = json.loads((info.folder / "state.json").read_text())
    assert status["state"] == "queued" and status["created"]
    second = jobs.enqueue(JOB, job_id=info.id)  # same id: a new folder, never a shared one
    assert second.id == f"{info.id}-2"
    assert [j.id for j in jobs.list_jobs()] == [info.id, second.id]


def test_enqueue_refuses_invalid_jobs_with_the_field(isolated):
    with pytest.raises(JobError, match="job field 'epochs'"):
        jobs.enqueue(dict(JOB, epochs=0))
    with pytest.raises(JobError, match="job field 'output'"):
        jobs.enqueue(dict(JOB, output="/elsewhere"))
    assert jobs.list_jobs() == []


def test_a_running_job_whose_process_died_is_marked_failed(isolated):
    info = jobs.enqueue(JOB)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that existed and is gone (reaped)
    jobs.write_state(info.folder, "running", pid=proc.pid)
    (info.folder / "checkpoints").mkdir()
    (info.folder / "checkpoints" / "last.pt").write_bytes(b"x")
    dead = jobs.get(info.id)
    assert dead.state == "failed" and f"pid {proc.pid}" in dead.reason and "resume it" in dead.reason
    assert json.loads((info.folder / "state.json").read_text())["state"] == "failed"  # written back


def test_a_recycled_pid_is_not_mistaken_for_the_trainer(isolated):
    import os

    info = jobs.enqueue(JOB)
    jobs.write_state(info.folder, "running", pid=os.getpid())  # alive: this test process
    assert jobs.get(info.id).state == "running"
    status = json.loads((info.folder / "state.json").read_text())
    if status["process_start"] is None:
        pytest.skip("no process start times on this system")
    status["process_start"] = "1"  # same pid, another process
    (info.folder / "state.json").write_text(json.dumps(status))
    assert jobs.get(info.id).state == "failed"


def test_cancel_queued_and_remove(isolated):
    info = jobs.enqueue(JOB)
    assert jobs.cancel(info.id).state == "cancelled"
    assert jobs.start_next() is None  # nothing queued any more
    jobs.remove(info.id)
    assert jobs.list_jobs() == []
    with pytest.raises(jobs.QueueError, match="no job 'nope'"):
        jobs.get("nope")


def test_trainer_command_hook(monkeypatch):
    assert jobs.trainer_command() == [sys.executable, "-m", "trainer"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert jobs.trainer_command() == [sys.executable, "train"]  # the packaged medview executable
    monkeypatch.setattr(jobs, "TRAINER_COMMAND", ["/opt/medview/medview", "train"])
    assert jobs.trainer_command() == ["/opt/medview/medview", "train"]


def test_jobs_cli(tmp_path, isolated, capsys):
    from medview import cli

    path = tmp_path / "chest.json"
    path.write_text(json.dumps(JOB))
    assert cli.main(["jobs", "add", str(path)]) == 0
    job_id = capsys.readouterr().out.split(":")[0]
    assert cli.main(["jobs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(j["id"], j["state"]) for j in listed] == [(job_id, "queued")]
    assert cli.main(["jobs", "cancel", job_id]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert cli.main(["jobs", "show", "nope"]) == 2
    assert "no job 'nope'" in capsys.readouterr().err
