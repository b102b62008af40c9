"""The on-disk job queue without training: enqueue, list, states, dead processes, the start hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from tests.helpers.paths import ROOT
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
    assert status["process_start"] == pytest.approx(psutil.Process().create_time(), abs=0.01)
    status["process_start"] = 1.0  # same pid, another process (started in 1970)
    (info.folder / "state.json").write_text(json.dumps(status))
    assert jobs.get(info.id).state == "failed"


def test_process_identity_is_checked_on_windows_too(monkeypatch):
    """No /proc there: the start time comes from psutil, so a recycled pid is still told apart."""
    class WindowsOs:  # what trainer.jobs sees of os: the platform branch, nothing else
        name = "nt"

        def __getattr__(self, key):
            return getattr(os, key)

    me = psutil.Process().create_time()
    monkeypatch.setattr(jobs, "os", WindowsOs())
    assert jobs.process_alive(os.getpid(), me)
    assert not jobs.process_alive(os.getpid(), me - 3600)  # a pid recycled an hour later


@pytest.mark.skipif(sys.platform == "win32", reason="no zombie processes on Windows")
def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)  # ended, not yet collected by its parent (this test)
    assert not jobs.process_alive(proc.pid)
    proc.wait()


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


# ----------------------------------------------------------------------- shared folders, races

def _as_if_on(folder, host: str) -> None:
    status = json.loads((folder / "state.json").read_text())
    status["host"] = host
    (folder / "state.json").write_text(json.dumps(status))


def test_running_records_this_host(isolated):
    import socket

    info = jobs.enqueue(JOB)
    jobs.write_state(info.folder, "running", pid=os.getpid())
    assert jobs.get(info.id).host == socket.gethostname() and not jobs.get(info.id).elsewhere


def test_another_computers_job_is_not_judged_here(isolated):
    """A user folder shared by two computers: a pid of the other one means nothing here."""
    first, second = jobs.enqueue(JOB), jobs.enqueue(JOB)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # no such process here; it may well run on the other computer
    jobs.write_state(first.folder, "running", pid=proc.pid)
    _as_if_on(first.folder, "radiology-pc-2")
    info = jobs.get(first.id)
    assert (info.state, info.host, info.elsewhere) == ("running", "radiology-pc-2", True)
    assert json.loads((first.folder / "state.json").read_text())["state"] == "running"
    assert jobs.start_next() is None  # the queue still runs one job at a time
    with pytest.raises(jobs.QueueBusy, match="running on radiology-pc-2"):
        jobs.start(second.id, if_idle=True)
    assert jobs.get(second.id).state == "queued"


def test_cancelling_another_computers_job_signals_nothing_here(isolated, tmp_path):
    info = jobs.enqueue(JOB)
    local = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        jobs.write_state(info.folder, "running", pid=local.pid)  # the same number, elsewhere
        _as_if_on(info.folder, "radiology-pc-2")
        done = jobs.cancel(info.id, timeout=0.5)
        assert local.poll() is None, "a local process with the other computer's pid was signalled"
        assert done.state == "cancelled" and "radiology-pc-2 did not answer" in done.reason
        assert (info.folder / "cancel").exists()  # what the trainer there looks for
    finally:
        local.kill()
        local.wait()


RACER = """
import sys, time
from trainer import jobs
jobs.TRAINER_COMMAND = [sys.executable, "-c",
    "import os, sys, time\\nend = time.time() + 120\\n"
    "while time.time() < end and not os.path.exists(sys.argv[1]): time.sleep(0.1)", sys.argv[2]]
go = float(sys.argv[1])
while time.time() < go:
    time.sleep(0.001)
info = jobs.start_next()
print(info.id if info else "-")
"""


def test_racing_programs_start_the_next_job_exactly_once(isolated, tmp_path):
    """GUI, CLI and a finishing trainer may all call start_next at once: one job starts, once."""
    queued = [jobs.enqueue(JOB, job_id=f"job{i}") for i in range(3)]
    stop = tmp_path / "stop"
    go = time.time() + 4  # every racer has imported the queue module by then
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(go), str(stop)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True) for _ in range(6)]
    try:
        outputs = [r.communicate(timeout=120)[0].strip() for r in racers]
        assert all(r.returncode == 0 for r in racers), outputs
        started = [o for o in outputs if o != "-"]
        assert started == [queued[0].id], outputs
        states = {j.id: j.state for j in jobs.list_jobs()}
        assert states == {"job0": "running", "job1": "queued", "job2": "queued"}
        log = (queued[0].folder / "trainer.log")
        assert log.exists()
    finally:
        stop.touch()
