"""A full disk during training: the documented message, whole event lines, state.json says failed.

The disk is real: a small tmpfs mounted in a user and mount namespace (``unshare -rm``,
no root needed; the mount vanishes with the namespace), so every ``No space left on
device`` comes from the kernel, part-way through a write, as on a full clinic drive.
What the namespace wrote is copied out before it ends.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.trainer_jobs import TINY_CLASSIFIER, medview_env, write_job
from trainer import events as ev

# Mounts a tmpfs of $1 bytes at $2, runs the rest, copies the tmpfs into $3.
_ON_SMALL_DISK = ('size=$1; disk=$2; out=$3; shift 3; '
                  'mount -t tmpfs -o size="$size" tmpfs "$disk" || exit 97; '
                  '"$@"; code=$?; cp -R "$disk"/. "$out"/; exit $code')


def _namespaces_work() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _namespaces_work(),
                                reason="needs Linux user namespaces (unshare -rm) for a small tmpfs")


def on_small_disk(tmp_path: Path, size: str, *argv, timeout: float = 300):
    """Run ``argv`` with ``tmp_path/disk`` a tmpfs of ``size``; (process, copy of the disk)."""
    disk, out = tmp_path / "disk", tmp_path / "disk-after"
    disk.mkdir()
    out.mkdir()
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", _ON_SMALL_DISK, "sh", size, str(disk),
                           str(out), *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=medview_env())
    assert proc.returncode != 97, f"could not mount a tmpfs: {proc.stderr}"
    return proc, out


def _whole_lines(path: Path) -> list[ev.Event]:
    """Every line of an events file, each of which must parse; the file ends in a newline."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), f"events.jsonl ends in a half line: {text[-80:]!r}"
    return [ev.parse_line(line) for line in text.splitlines()]


FILL = """
import os, sys
from pathlib import Path

def fill(disk):
    fd = os.open(Path(disk) / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
"""

SINK_ON_FULL_DISK = FILL + """
from trainer.sink import EventSink
disk = Path(sys.argv[1])
sink = EventSink("job-1", disk / "events.jsonl", stream=open(os.devnull, "w"))
sink.log("info", "before the disk filled")
fill(disk)
for i in range(100):  # the first few fit in the file's last block; then the disk is full
    sink.log("info", f"batch {i:03d} " + "x" * 150)
os.remove(disk / "filler")  # space is freed (as a failed checkpoint's temp file is)
sink.log("error", "after space was freed")
"""


def test_events_file_never_ends_in_a_half_line(tmp_path):
    proc, after = on_small_disk(tmp_path, "64k", sys.executable, "-c", SINK_ON_FULL_DISK,
                                tmp_path / "disk")
    assert proc.returncode == 0, proc.stderr
    messages = [e.message for e in _whole_lines(after / "events.jsonl")]
    assert messages[0] == "before the disk filled"
    assert messages[-1] == "after space was freed"  # the sink tried again, and the line is whole
    batches = messages[1:-1]
    assert 0 < len(batches) < 100  # some fitted, then the disk was full
    assert batches == [f"batch {i:03d} " + "x" * 150 for i in range(len(batches))]
    assert proc.stderr.count("cannot append to") == 1, proc.stderr  # one warning, not one per event


STATE_ON_FULL_DISK = FILL + """
from trainer import jobs
disk = Path(sys.argv[1])
jobs.write_state(disk, "running", pid=os.getpid(), reason=None)
fill(disk)
jobs.write_state(disk, "failed", reason="disk full: could not write x", ended=True)
"""


def test_state_json_says_failed_on_a_full_disk(tmp_path):
    proc, after = on_small_disk(tmp_path, "64k", sys.executable, "-c", STATE_ON_FULL_DISK,
                                tmp_path / "disk")
    assert proc.returncode == 0, proc.stderr
    state = json.loads((after / "state.json").read_text())
    assert state["state"] == "failed" and state["reason"] == "disk full: could not write x"
    assert state["ended"] and state["pid"]


@pytest.mark.slow
def test_training_on_a_full_disk_fails_with_the_documented_message(demo, tmp_path):
    job = write_job(tmp_path / "job", TINY_CLASSIFIER, dataset=str(demo / "classification"))
    disk = tmp_path / "disk"
    proc, after = on_small_disk(tmp_path, "1m", sys.executable, "-m", "trainer", job,
                                "--output", disk)
    assert proc.returncode == 1, proc.stderr[-2000:]
    state = json.loads((after / "state.json").read_text())
    reason = state["reason"]
    assert state["state"] == "failed"
    assert reason.startswith(f"disk full: could not write {disk}"), reason
    assert reason.endswith("(no space left on device); free some space on that drive and resume "
                           "the job"), reason
    events = _whole_lines(after / "events.jsonl")
    assert isinstance(events[-1], ev.Failed) and events[-1].reason == reason
    assert not list((after / "checkpoints").glob(".*.tmp"))  # no temp file left behind
