"""The job queue on disk: enqueue, list, start (as a subprocess), cancel, and notice dead jobs.

The queue is a folder, ``<user data dir>/jobs`` (``MEDVIEW_USER_DIR`` overrides the user
data dir, as for the model registry). Each job is a sub-folder::

    .queue.lock           held while a job is chosen and started (:func:`queue_lock`)
    20250501-093000-chest/
        job.json          the job as queued (paths made absolute)
        state.json        {"state": queued|running|finished|failed|cancelled, "pid",
                           "process_start", "host", "created", "started", "ended", "reason",
                           ...}, always written atomically
        events.jsonl      every event of the job, appended by the trainer
        trainer.log       the trainer's stdout and stderr (for a crash's traceback)
        checkpoints/  model/  split.json  job.resolved.json   (see trainer.loop)

A job whose ``job.json`` has a ``search`` block (:mod:`trainer.search_spec`) is a
hyper-parameter search: :func:`job_command` starts :mod:`trainer.search.job` for it instead
of the trainer, and its folder holds ``trials.json``, ``best.json``, ``best_job.json``
and ``runs/`` instead of checkpoints and a model (:mod:`trainer.search.job`).

Anyone may read these files at any time (the trainer tab polls them). A job whose state
says ``running`` but whose process is gone (killed, crashed, machine restarted) is marked
``failed`` the next time it is loaded, with a reason that says its last checkpoint can be
resumed. The process is identified by pid and start time (psutil, every platform), and
only on the computer that runs it (``host``): a user folder shared between computers
shows another computer's job as running there. Nothing here imports torch or Qt.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from medview.core.errors import MedviewError
from trainer.cancel import CANCEL_FILE
from trainer.checkpoints import WriteError, write_json

__all__ = ["STATES", "JobInfo", "QueueError", "QueueBusy", "queue_dir", "queue_lock", "this_host",
           "write_state", "read_state", "enqueue", "list_jobs", "get", "start", "start_next",
           "cancel", "remove", "read_events", "trainer_command", "search_command", "job_command", "process_alive",
           "TRAINER_COMMAND", "SEARCH_COMMAND"]

STATES = ("queued", "running", "finished", "failed", "cancelled")
STATE_NAME, JOB_NAME, LOG_NAME = "state.json", "job.json", "trainer.log"

#: Hook for packaged builds: the command that starts a trainer (the job file and flags are
#: appended). None: ``[sys.executable, "-m", "trainer"]`` where torch is installed, else
#: medview's ``train`` sub-command where torch is: ``[medview-trainer, "train"]`` from the
#: app bundle, which has no torch (the trainer add-on, :mod:`medview.app.trainer_addon`),
#: ``[sys.executable, "train"]`` in the add-on itself.
TRAINER_COMMAND: list[str] | None = None

#: The same for a hyper-parameter search. None: ``[sys.executable, "-m", "trainer.search.job"]``,
#: or medview's ``search`` sub-command as for :data:`TRAINER_COMMAND`.
SEARCH_COMMAND: list[str] | None = None

#: Start times of one process read twice agree to well under this; a recycled pid's differ by more.
_START_TOLERANCE_S = 0.05
#: How long :func:`start` / :func:`start_next` wait for another program holding the queue lock.
LOCK_TIMEOUT_S = 30.0
LOCK_NAME = ".queue.lock"

# Popen objects of trainers this process started: poll() reaps them and tells their fate.
_CHILDREN: dict[int, subprocess.Popen] = {}


class QueueError(MedviewError):
    """A queue operation is not possible (unknown job, already running, …)."""


class QueueBusy(QueueError):
    """Another job is running: the queue runs one at a time."""


@dataclass
class JobInfo:
    """One queued job as found on disk.

    Attributes
    ----------
    id : str
        The folder name.
    folder : Path
    state : str
        One of :data:`STATES`.
    status : dict
        The whole ``state.json``.
    job : dict
        ``job.json`` as queued.
    """

    id: str
    folder: Path
    state: str
    status: dict[str, Any] = field(default_factory=dict)
    job: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"search"`` for a hyper-parameter search (a ``search`` block), ``"pretrain"`` for
        self-supervised pre-training (``"task": "pretrain"``), else ``"train"``."""
        if isinstance(self.job.get("search"), dict):
            return "search"
        return "pretrain" if self.job.get("task") == "pretrain" else "train"

    @property
    def pid(self) -> int | None:
        return self.status.get("pid")

    @property
    def reason(self) -> str | None:
        return self.status.get("reason")

    @property
    def host(self) -> str | None:
        """The computer that runs (or ran) the job's process; None in older files."""
        return self.status.get("host")

    @property
    def elsewhere(self) -> bool:
        """Whether the job's process belongs to another computer sharing the queue folder.

        Its liveness cannot be judged here: it shows as "running on HOST" until that
        computer (or its trainer) writes an outcome.
        """
        return bool(self.host) and self.host != this_host()

    @property
    def job_file(self) -> Path:
        return self.folder / JOB_NAME

    @property
    def events_file(self) -> Path:
        return self.folder / "events.jsonl"

    @property
    def model_dir(self) -> Path:
        return self.folder / "model"

    @property
    def checkpoint(self) -> Path | None:
        last = self.folder / "checkpoints" / "last.pt"
        return last if last.exists() else None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "folder": str(self.folder), "state": self.state, **{
            k: v for k, v in self.status.items() if k != "state"},
            "name": self.job.get("name"), "checkpoint": str(self.checkpoint) if self.checkpoint else None}


def queue_dir() -> Path:
    """``<user data dir>/jobs`` (``MEDVIEW_USER_DIR`` overrides the user data dir)."""
    from medview.inference.registry import user_data_dir

    return user_data_dir() / "jobs"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------- state.json

def read_state(folder: str | Path) -> dict[str, Any]:
    """``state.json`` of a job folder ({} when missing or unreadable)."""
    try:
        data = json.loads((Path(folder) / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_KEEP = object()


def write_state(folder: str | Path, state: str, *, pid: Any = _KEEP, reason: Any = _KEEP,
                ended: bool = False) -> dict[str, Any]:
    """Update ``state.json`` atomically (other fields are kept).

    ``running`` records the start time and the process: its id, its start time (so a
    recycled pid is not mistaken for the trainer) and the computer it runs on (``host``:
    only that computer can tell whether the process still lives, when the user folder
    is shared).
    """
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    folder = Path(folder)
    data = read_state(folder)
    data.setdefault("created", _now())
    data["state"] = state
    if pid is not _KEEP:
        data["pid"] = pid
        data["process_start"] = _process_start(pid) if pid else None
        data["host"] = this_host() if pid else None
    if reason is not _KEEP:
        data["reason"] = reason
    if state == "running":
        data["started"] = _now()
        data["ended"] = None
    if ended:
        data["ended"] = _now()
    data["updated"] = _now()
    try:
        write_json(folder / STATE_NAME, data)
    except WriteError as err:
        # A full disk must not leave a failed job saying "running": state.json's own
        # blocks are enough for its new text, written in place (not atomic: a reader
        # may briefly find it unreadable, which lists the job as failed anyway).
        if err.errno != errno.ENOSPC or not _overwrite_in_place(folder / STATE_NAME, data):
            raise
    return data


def _overwrite_in_place(path: Path, data: dict[str, Any]) -> bool:
    """Rewrite ``path`` inside the space it already has on disk; False if it cannot."""
    text = (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    try:
        st = os.stat(path)
        room = st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
        if not st.st_size or len(text) > room:
            return False
        with open(path, "r+b") as fh:
            fh.write(text)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        return False
    return True


# ----------------------------------------------------------------------- processes

def this_host() -> str:
    """This computer's name, as recorded in ``state.json`` (``host``)."""
    return socket.gethostname()


def _process_start(pid: int) -> float | None:
    """Start time of a process (seconds since the epoch), to tell a recycled pid apart."""
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 3)
    except (psutil.Error, OSError):
        return None


def process_alive(pid: int | None, process_start: float | None = None) -> bool:
    """Whether process ``pid`` on this computer runs, and is the one started at ``process_start``.

    psutil reads the start time on every platform (Windows and macOS included), so a
    recycled pid is not taken for the trainer; an ended process its parent has not
    collected yet (a zombie) counts as ended. ``process_start`` that is not a number
    (older ``state.json`` files) is not compared.
    """
    import psutil

    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process with this pid: alive, identity unknown
        return True
    if isinstance(process_start, (int, float)) and not isinstance(process_start, bool):
        return abs(started - process_start) < _START_TOLERANCE_S
    return True


def trainer_command() -> list[str]:
    """How to start a trainer process (see :data:`TRAINER_COMMAND`).

    Raises
    ------
    QueueError
        No torch here and no trainer add-on: the reason says where to put it.
    """
    if TRAINER_COMMAND:
        return list(TRAINER_COMMAND)
    return _torch_process("train", "trainer")


def search_command() -> list[str]:
    """How to start a hyper-parameter search process (see :data:`SEARCH_COMMAND`)."""
    if SEARCH_COMMAND:
        return list(SEARCH_COMMAND)
    return _torch_process("search", "trainer.search.job")


def _torch_process(sub_command: str, module: str) -> list[str]:
    """``python -m MODULE`` from a source install; medview's sub-command where torch is."""
    from medview.app import trainer_addon

    if trainer_addon.has_torch() and not getattr(sys, "frozen", False):
        return [sys.executable, "-m", module]
    try:
        return [*trainer_addon.torch_medview(), sub_command]
    except trainer_addon.AddonMissing as err:
        raise QueueError(str(err)) from None


def job_command(info: JobInfo, *, resume: bool = False, register: bool = False,
                start_next: bool = False) -> list[str]:
    """The command line that runs a queued job (a training run or a search).

    A search writes into the job's folder (``--out``) and has neither a checkpoint to
    resume nor a model to register: ``resume`` and ``register`` apply to training only.
    """
    if info.kind == "search":
        args = [*search_command(), str(info.job_file), "--out", str(info.folder)]
    else:
        args = [*trainer_command(), str(info.job_file)]
        args += ["--resume"] * resume + ["--register"] * register
    return args + ["--start-next"] * start_next


# ----------------------------------------------------------------------- the queue

def enqueue(job: dict | str | Path, *, queue: str | Path | None = None, job_id: str | None = None) -> JobInfo:
    """Validate a job and add it to the queue (state ``queued``).

    Parameters
    ----------
    job : dict, or path of a job file
        Relative paths in a job file are relative to its folder; they are written
        absolute into the queued ``job.json``. With a ``search`` block it is a
        hyper-parameter search (:mod:`trainer.search_spec`).
    queue : path, optional
        Default :func:`queue_dir`.
    job_id : str, optional
        Folder name; default ``YYYYmmdd-HHMMSS-<name>``.

    Raises
    ------
    trainer.config.JobError
        Naming the first invalid field.
    """
    from trainer.config import JobError, parse_job
    from trainer.search_spec import SEARCH_KEY, split_search

    base = None
    if not isinstance(job, dict):
        path = Path(job)
        try:
            job = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as err:
            raise JobError("(file)", f"{path}: {err}") from None
        base = path.parent
    data, search = split_search(dict(job))
    parsed = parse_job(data, base_dir=base)
    if parsed.output:
        raise JobError("output", "a queued job writes into its own queue folder; remove this field")
    data = _absolute_paths(data, parsed)
    data.setdefault("name", parsed.name)
    if search is None:
        data.setdefault("version", parsed.version)
    else:  # no version fixed: each training queued from the result gets its own
        data[SEARCH_KEY] = search.to_dict()
    root = Path(queue) if queue is not None else queue_dir()
    root.mkdir(parents=True, exist_ok=True)
    suffix = "-search" if search is not None else ""
    stem = job_id or f"{datetime.now():%Y%m%d-%H%M%S}-{parsed.name}{suffix}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem)[:100]
    folder, n = root / stem, 2
    while True:
        try:
            folder.mkdir()
            break
        except FileExistsError:
            folder, n = root / f"{stem}-{n}", n + 1
    data["id"] = folder.name
    # state.json first: a folder is listed once its job.json exists, and must have a state then
    write_state(folder, "queued", pid=None, reason=None)
    write_json(folder / JOB_NAME, data)
    return _load(folder)


def _absolute_paths(data: dict, parsed) -> dict:
    data = json.loads(json.dumps(data))
    if parsed.task == "pretrain":  # a folder or a list of folders (trainer.pretrain.job)
        data["dataset"] = list(parsed.dataset)
        return data
    if isinstance(data.get("dataset"), str):
        data["dataset"] = parsed.dataset.path
    elif isinstance(data.get("dataset"), dict):
        data["dataset"]["path"] = parsed.dataset.path
    if isinstance(data.get("model"), dict) and parsed.model.weights:
        data["model"]["weights"] = parsed.model.weights
    return data


def _load(folder: Path) -> JobInfo:
    status = read_state(folder)
    try:
        job = json.loads((folder / JOB_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        job = {}
    info = JobInfo(folder.name, folder, status.get("state", "failed" if not status else "queued"), status, job)
    if not status:
        info.status = {"state": "failed", "reason": "state.json is missing or unreadable"}
        info.state = "failed"
    return _notice_death(info)


def _notice_death(info: JobInfo) -> JobInfo:
    """A ``running`` job of this computer whose process has gone is marked failed (kept on disk)."""
    if not _looks_dead(info):
        return info
    info.status = read_state(info.folder) or info.status  # it may have just finished
    info.state = info.status.get("state", info.state)
    if not _looks_dead(info):
        return info
    ckpt = info.checkpoint
    reason = (f"the trainer process (pid {info.pid}) ended without reporting an outcome (killed, crashed "
              "or the computer restarted)")
    if info.kind == "search":
        reason += "; run it again to start the search over"
    else:
        reason += f"; resume it to continue from {ckpt}" if ckpt else "; no checkpoint was saved yet"
    try:
        info.status = write_state(info.folder, "failed", reason=reason, ended=True)
    except OSError:
        info.status = dict(info.status, state="failed", reason=reason)
    info.state = "failed"
    return info


def _looks_dead(info: JobInfo) -> bool:
    return (info.state == "running" and not info.elsewhere
            and not process_alive(info.pid, info.status.get("process_start")))


def list_jobs(queue: str | Path | None = None) -> list[JobInfo]:
    """Every job in the queue, oldest first (dead ``running`` jobs become ``failed``)."""
    root = Path(queue) if queue is not None else queue_dir()
    if not root.is_dir():
        return []
    found = [_load(p) for p in root.iterdir() if p.is_dir() and (p / JOB_NAME).exists()]
    return sorted(found, key=lambda j: (j.status.get("created", ""), j.id))


def get(job_id: str, queue: str | Path | None = None) -> JobInfo:
    """One job by its id (folder name).

    Raises
    ------
    QueueError
        If there is no such job.
    """
    root = Path(queue) if queue is not None else queue_dir()
    folder = root / job_id
    if not (folder / JOB_NAME).exists():
        names = ", ".join(j.id for j in list_jobs(root)) or "none"
        raise QueueError(f"no job '{job_id}' in {root} (jobs: {names})")
    return _load(folder)


def queue_lock(queue: str | Path | None = None):
    """The queue's lock file (:mod:`filelock`): held while a job is chosen and started.

    Starting is check-then-act (is a job running? which is next? is this one still
    queued?); the GUI, ``medview jobs``/``medview train --queue`` and a finishing
    trainer (``--start-next``) may all do it at once, on one computer or several
    sharing the user folder, and without the lock two of them could start two jobs.

    Raises
    ------
    QueueError
        From the returned context manager, if another program holds the lock for
        :data:`LOCK_TIMEOUT_S`.
    """
    import contextlib

    from filelock import FileLock, Timeout

    root = Path(queue) if queue is not None else queue_dir()
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / LOCK_NAME), timeout=LOCK_TIMEOUT_S)

    @contextlib.contextmanager
    def held():
        try:
            lock.acquire()
        except Timeout:
            raise QueueError(f"the job queue {root} is locked by another program (its "
                             f"{LOCK_NAME} was held for {LOCK_TIMEOUT_S:g} s); try again") from None
        try:
            yield
        finally:
            lock.release()
    return held()


def start(job_id: str, *, resume: bool = False, register: bool = False, start_next: bool = False,
          queue: str | Path | None = None, if_idle: bool = False) -> JobInfo:
    """Start a job's trainer (or search) as a subprocess (see :func:`job_command`).

    Parameters
    ----------
    resume : bool
        Continue from the job's last checkpoint (for a failed or cancelled job; a
        search starts over).
    register : bool
        Install the model in the registry when the job finishes (training only).
    start_next : bool
        When it ends, the trainer starts the next queued job (a queue that runs itself).
    if_idle : bool
        Only when no other job runs (the queue runs one job at a time); else
        :class:`QueueBusy`. Checked under the queue lock, as is everything here.

    Raises
    ------
    QueueError
        If the job is running already; :class:`QueueBusy` (``if_idle``) if another is.
    """
    with queue_lock(queue):
        if if_idle:
            busy = [j for j in list_jobs(queue) if j.state == "running" and j.id != job_id]
            if busy:
                raise QueueBusy(f"job '{busy[0].id}' is running{_where(busy[0])}; "
                                f"'{job_id}' starts when the queue reaches it")
        return _start(get(job_id, queue), resume=resume, register=register, start_next=start_next)


def _start(info: JobInfo, *, resume: bool, register: bool, start_next: bool) -> JobInfo:
    """Start ``info``'s process and mark it running (the caller holds the queue lock)."""
    if info.state == "running":
        raise QueueError(f"job '{info.id}' is already running{_where(info)} (pid {info.pid})")
    (info.folder / CANCEL_FILE).unlink(missing_ok=True)
    args = job_command(info, resume=resume, register=register, start_next=start_next)
    kwargs: dict[str, Any] = {}
    if os.name == "nt":
        # Own process group: CTRL_BREAK_EVENT reaches it (graceful cancel); no console window.
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
    else:
        kwargs["start_new_session"] = True  # a Ctrl-C meant for the GUI's terminal does not reach it
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(info.folder / LOG_NAME, "ab") as log:
        proc = subprocess.Popen(args, cwd=str(info.folder), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, **kwargs)
    _CHILDREN[proc.pid] = proc
    status = read_state(info.folder)
    if status.get("state") != "running" or status.get("pid") != proc.pid:
        write_state(info.folder, "running", pid=proc.pid, reason=None)
    return _load(info.folder)


def _where(info: JobInfo) -> str:
    return f" on {info.host}" if info.elsewhere else ""


def start_next(queue: str | Path | None = None, *, register: bool = False) -> JobInfo | None:
    """Start the oldest queued job, unless a job is running; returns it (or None).

    The check and the start happen under the queue lock, so of several programs
    calling this at once exactly one starts the job.
    """
    with queue_lock(queue):
        jobs = list_jobs(queue)
        if any(j.state == "running" for j in jobs):
            return None
        queued = [j for j in jobs if j.state == "queued"]
        if not queued:
            return None
        return _start(queued[0], resume=False, register=register, start_next=True)


def cancel(job_id: str, *, timeout: float = 30.0, queue: str | Path | None = None) -> JobInfo:
    """Cancel a job: a queued one at once; a running one gracefully, killed after ``timeout``.

    A running trainer is asked through the cancel file and a signal (SIGTERM; on Windows
    CTRL_BREAK_EVENT): it finishes its batch, saves a checkpoint and reports
    ``cancelled``. If it is still alive after ``timeout`` seconds it is killed and the job
    is marked cancelled here; its last checkpoint stays resumable.
    """
    info = get(job_id, queue)
    if info.state == "queued":
        write_state(info.folder, "cancelled", reason="cancelled before it started", ended=True)
        return _load(info.folder)
    if info.state != "running":
        return info
    (info.folder / CANCEL_FILE).touch()
    if info.elsewhere:
        return _cancel_elsewhere(info, timeout)
    pid = info.pid
    _signal(pid, graceful=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(pid, info.status.get("process_start")):
        time.sleep(0.2)
    if process_alive(pid, info.status.get("process_start")):
        _signal(pid, graceful=False)
        end = time.monotonic() + 10
        while time.monotonic() < end and process_alive(pid, info.status.get("process_start")):
            time.sleep(0.1)
        kept = "the trials finished so far are kept" if info.kind == "search" else "its last checkpoint can be resumed"
        write_state(info.folder, "cancelled", reason=f"did not stop within {timeout:g} s and was killed; {kept}",
                    ended=True)
    elif read_state(info.folder).get("state") == "running":
        write_state(info.folder, "cancelled", reason="cancelled", ended=True)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.poll()
    return _load(info.folder)


def _cancel_elsewhere(info: JobInfo, timeout: float) -> JobInfo:
    """Another computer's job: its pid means nothing here, so only the cancel file asks it.

    Its trainer looks for the file every 0.5 s and writes ``cancelled`` itself; if
    ``state.json`` still says running after ``timeout`` (that computer is off, or cannot
    see the folder), the job is marked cancelled here on the user's word.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_state(info.folder).get("state") == "running":
        time.sleep(0.2)
    if read_state(info.folder).get("state") == "running":
        write_state(info.folder, "cancelled", ended=True,
                    reason=f"{info.host} did not answer the cancel request within {timeout:g} s; "
                           "marked cancelled here (if it still runs there, it stops at its next "
                           "look at the cancel file)")
    return _load(info.folder)


def _signal(pid: int, graceful: bool) -> None:
    try:
        if os.name == "nt":
            os.kill(pid, signal.CTRL_BREAK_EVENT if graceful else signal.SIGTERM)  # SIGTERM: TerminateProcess
        else:
            os.kill(pid, signal.SIGTERM if graceful else signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def remove(job_id: str, queue: str | Path | None = None) -> None:
    """Delete a job's folder (not while it runs)."""
    import shutil

    info = get(job_id, queue)
    if info.state == "running":
        raise QueueError(f"job '{job_id}' is running; cancel it first")
    shutil.rmtree(info.folder)


def read_events(job_id: str, queue: str | Path | None = None) -> list:
    """The job's events so far (lines that do not parse, e.g. one being written, are skipped)."""
    from trainer.events import EventError, parse_line

    info = get(job_id, queue)
    try:
        lines = info.events_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(parse_line(line))
        except EventError:
            continue
    return out
