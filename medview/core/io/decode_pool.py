"""A small pool of decoder processes: native codecs never run in the app's process.

Like a web browser's image decoders, compressed pixel data (JPEG, JPEG-LS,
JPEG 2000, RLE through GDCM, OpenJPEG, pylibjpeg-rle, Pillow) and plain images
(OpenCV) are decoded in worker processes (:mod:`medview.core.io.decode_worker`):

* a crash (segfault, C++ abort, Rust allocation abort) or a task over its time
  limit costs one worker, which is killed and replaced on the next task; the
  caller gets one :class:`~medview.core.errors.ReadError` line such as
  ``FILE: the JPEG-LS decoder crashed on this file's pixel data``;
* each task may allocate at most ``memory_cap`` bytes (RLIMIT_AS on Linux, a Job
  Object on Windows);
* frames come back through a shared-memory segment per worker (grown on demand),
  so a 2k x 2k radiograph costs one memcpy, not a pickle through a pipe.

Workers start with ``spawn`` on every platform -- never ``fork``, which is unsafe
in a process with Qt threads -- and from the frozen executable too (PyInstaller's
``freeze_support``). The pool starts lazily on the first compressed frame, keeps
its workers warm, and shuts down (unlinking every segment) at exit. Any thread
may call :func:`decode`; a call waits for a free worker.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing import util as mp_util
from pathlib import Path

import numpy as np

from medview.core.errors import ReadError
from medview.core.io import decode_worker

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_CAP = 1536 * 1024 * 1024
START_TIMEOUT_S = 120.0          # a cold frozen start on a slow, virus-scanned PC
KEEP_SEGMENT_MAX = 64 * 1024 * 1024  # bigger segments are dropped after their task
_MIN_SEGMENT = 4 * 1024 * 1024


def default_workers() -> int:
    """As many decoders as the viewer decodes in parallel, within reason (memory)."""
    return max(1, min(4, os.cpu_count() or 1))


class _Crashed(Exception):
    pass


class _TimedOut(Exception):
    pass


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: object
    segment: shared_memory.SharedMemory | None = None
    starting: bool = False  # spawned by prestart(); its "ready" not yet received


class DecodePool:
    """Decoder processes with a timeout, a memory cap and restart-on-crash.

    Parameters
    ----------
    workers : int
        Most processes at once (started on demand, kept warm).
    timeout : float
        Seconds a task may run before its worker is killed.
    memory_cap : int
        Bytes a task may allocate beyond the worker's baseline.
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 memory_cap: int = DEFAULT_MEMORY_CAP) -> None:
        self.max_workers = workers or default_workers()
        self.timeout, self.memory_cap = timeout, memory_cap
        self._ctx = multiprocessing.get_context("spawn")
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0            # started or starting, busy or idle
        self._closed = False
        self._pid = os.getpid()
        # multiprocessing runs this at exit before it terminates daemonic children, and
        # also in a multiprocessing child (which skips atexit); shutdown() checks the pid.
        mp_util.Finalize(None, self.shutdown, exitpriority=10)

    # ------------------------------------------------------------------ public

    def run(self, task: str, args: tuple, path: str | Path, decoder: str) -> np.ndarray:
        """Run ``task(*args)`` in a worker and return its array.

        Raises
        ------
        ReadError
            Naming ``path``: the task's own reason, or that ``decoder`` crashed,
            ran out of time or over the memory cap.
        """
        worker = self._acquire(path)
        keep = False
        try:
            reply = self._call(worker, task, args)
            kind = reply[0]
            if kind == "ok":
                arr = self._read_frame(worker, reply[1], reply[2])
                keep = True
                return arr
            if kind == "error":
                keep = True
                raise ReadError(path, reply[1])
            raise ReadError(path, f"the {decoder} decoder needed more than "
                                  f"{reply[1] // 2**20} MB of memory for this file's pixel data")
        except _Crashed:
            raise ReadError(path, f"the {decoder} decoder crashed on this file's pixel data") from None
        except _TimedOut:
            raise ReadError(path, f"the {decoder} decoder did not finish within "
                                  f"{self.timeout:g} s on this file's pixel data") from None
        except (OSError, ValueError) as exc:  # no shared memory left, or a garbled reply
            raise ReadError(path, f"the {decoder} decoder's frame could not be passed back "
                                  f"({exc})") from None
        finally:
            self._release(worker, keep)

    def prestart(self) -> None:
        """Start one worker now and return without waiting for it, if none is idle.

        A worker's start (a fresh interpreter importing the codecs) takes about half a
        second; a caller that knows it will decode soon (``medview analyze``) overlaps it
        with its own work. The first task waits for the worker to be ready; a worker that
        fails to start is reported then, naming that task's file.
        """
        with self._cond:
            if self._closed or self._idle or self._count >= self.max_workers:
                return
            self._count += 1
        try:
            worker = self._spawn()
        except Exception:  # noqa: BLE001 - the first task starts one again and reports why
            with self._cond:
                self._count -= 1
                self._cond.notify()
            return
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def pids(self) -> list[int]:
        """Process ids of the idle workers (for tests and diagnostics)."""
        with self._cond:
            return [w.process.pid for w in self._idle]

    def shutdown(self) -> None:
        """Stop every worker and unlink every segment (idempotent; atexit calls it)."""
        if os.getpid() != self._pid:  # a forked child holds copies, not ours to stop
            return
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.process.join(2)
            _dispose(worker)

    # ------------------------------------------------------------------ workers

    def _acquire(self, path) -> _Worker:
        worker = None
        with self._cond:
            while True:
                if self._closed:
                    raise ReadError(path, "the decoder processes have been shut down")
                if self._idle:
                    worker = self._idle.pop()
                    if worker.starting:
                        break
                    if worker.process.is_alive():
                        return worker
                    self._count -= 1  # died while idle (killed from outside): replace it
                    _dispose(worker)
                    worker = None
                    continue
                if self._count < self.max_workers:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            if worker is not None:  # prestarted: wait for its "ready"
                return self._await_ready(worker)
            return self._start()
        except BaseException as exc:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
                raise
            raise ReadError(path, f"could not start a decoder process ({exc})") from None

    def _start(self) -> _Worker:
        return self._await_ready(self._spawn())

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=decode_worker.serve, args=(child, self.memory_cap),
                                 name="medview-decoder", daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent, starting=True)

    def _await_ready(self, worker: _Worker) -> _Worker:
        parent, proc = worker.conn, worker.process
        try:
            if not parent.poll(START_TIMEOUT_S):
                raise TimeoutError(f"no answer in {START_TIMEOUT_S:g} s")
            parent.recv()  # ("ready", pid)
        except EOFError:
            _dispose(worker)
            raise RuntimeError(f"it exited while starting, status {proc.exitcode}") from None
        except BaseException:
            _dispose(worker)
            raise
        worker.starting = False
        return worker

    def _release(self, worker: _Worker, keep: bool) -> None:
        if keep and worker.segment is not None and worker.segment.size > KEEP_SEGMENT_MAX:
            _drop_segment(worker)
        with self._cond:
            if keep and not self._closed:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()
        if not keep or self._closed:
            _dispose(worker)

    # ------------------------------------------------------------------ one task

    def _call(self, worker: _Worker, task: str, args: tuple) -> tuple:
        seg = worker.segment
        self._send(worker, (task, args, seg.name if seg else None, seg.size if seg else 0))
        reply = self._receive(worker)
        if reply[0] == "grow":
            _drop_segment(worker)
            size = max(_MIN_SEGMENT, -(-reply[1] // _MIN_SEGMENT) * _MIN_SEGMENT)
            worker.segment = shared_memory.SharedMemory(create=True, size=size)
            self._send(worker, (worker.segment.name, worker.segment.size))
            reply = self._receive(worker)
        return reply

    def _send(self, worker: _Worker, msg) -> None:
        try:
            worker.conn.send(msg)
        except OSError:  # broken pipe: it died between tasks
            raise _Crashed from None

    def _receive(self, worker: _Worker) -> tuple:
        try:
            if not worker.conn.poll(self.timeout):
                raise _TimedOut
            return worker.conn.recv()
        except (EOFError, OSError):  # the process is gone: a crash
            raise _Crashed from None

    @staticmethod
    def _read_frame(worker: _Worker, shape: tuple, dtype: str) -> np.ndarray:
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if count * dt.itemsize > worker.segment.size:
            raise ValueError("the reply claims more data than the segment holds")
        view = np.frombuffer(worker.segment.buf, dt, count)
        try:
            return view.reshape(shape).copy()
        finally:
            del view


def _drop_segment(worker: _Worker) -> None:
    seg, worker.segment = worker.segment, None
    if seg is not None:
        seg.close()
        try:
            seg.unlink()
        except FileNotFoundError:
            pass


def _dispose(worker: _Worker) -> None:
    """Kill (if still alive), reap, and free a worker's pipe and segment."""
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join(5)
    worker.conn.close()
    _drop_segment(worker)


# --------------------------------------------------------------------------- the app's pool

_POOL: DecodePool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> DecodePool:
    """The process-wide pool, created on first use (per process: a forked child gets its own).

    In a multiprocessing child (the trainer's DataLoader workers) it has one decoder, so
    that N loader workers do not start N full pools.
    """
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._pid != os.getpid():
            child = multiprocessing.parent_process() is not None
            _POOL = DecodePool(workers=1 if child else None)
        return _POOL


def _forget_parent_pool() -> None:
    # After fork(), in the child: the parent's workers and segments are not ours to use,
    # and a lock another parent thread held at the fork would never be released.
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_pool)


def decode(task: str, path: str | Path, *args, decoder: str) -> np.ndarray:
    """Run decoder task ``task`` on ``path`` in the shared pool; see :meth:`DecodePool.run`.

    A daemonic multiprocessing child (the trainer's DataLoader workers) may not start
    processes: there the task runs in that process, itself a disposable worker.
    """
    if multiprocessing.current_process().daemon:
        return decode_worker.TASKS[task](str(path), *args)
    # absolute: the worker's working folder is the one it started in
    return pool().run(task, (os.path.abspath(path), *args), path, decoder)


def prestart() -> None:
    """Start a decoder process in the background now; see :meth:`DecodePool.prestart`."""
    if not multiprocessing.current_process().daemon:
        pool().prestart()


def shutdown() -> None:
    """Stop the process-wide pool now (it restarts on the next decode)."""
    global _POOL
    with _POOL_LOCK:
        old, _POOL = _POOL, None
    if old is not None:
        old.shutdown()
