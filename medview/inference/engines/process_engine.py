"""Run torch in a separate inference process, so that the GUI process never imports it.

With a CUDA GPU the GUI's analyses run the torch CUDA engine, and torch (~650 MB of
libraries, seconds to import, a CUDA context) would otherwise live in the GUI process
for good. :class:`InferenceProcess` is one child process (:mod:`medview.inference.torch_process`)
that imports torch and hosts the models; :class:`ProcessEngine` is an
:class:`~medview.inference.engines.base.Engine` whose ``run`` sends the batch there and
gets the logits back, so the analysis code around it does not change.

* **One process for every model** (one CUDA context), started on first use and stopped
  when its last model is closed and at exit. Requests go one at a time (one engine runs
  at a time anyway); arrays travel pickled through a pipe (a 224 px image is 0.6 MB).
* **A crash** (a CUDA driver fault, the OOM killer) ends only that process: the
  analysis that was running fails with one line naming the model, and the next use
  starts a new process and loads the model again (its engine choice is cached).
* Started with ``spawn`` — never ``fork``, which is unsafe in a process with Qt
  threads — and from the frozen executable too (``freeze_support``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import util as mp_util
from pathlib import Path

import numpy as np

from . import selection
from .base import Engine, EngineError

#: torch's import on a cold, virus-scanned clinic PC can take a minute
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 5.0
#: silence after which a working process counts as hung and is killed (a notice resets it);
#: far above a slow CPU's model load, engine measurement or one analysis
ANSWER_TIMEOUT_S = 300.0
_POLL_S = 0.1


class ProcessStopped(EngineError):
    """The inference process ended while it was asked something (it crashed)."""


@dataclass
class _Hosted:
    """What the app knows of one model in the process."""

    id: int
    load: tuple                       # ("load", id, manifest, folder, options)
    notice: Callable[[str], None]
    generation: int = -1              # the process start it was loaded in
    info: dict = field(default_factory=dict)


class InferenceProcess:
    """The inference process: started on demand, restarted after a crash.

    Thread-safe: one request at a time. Use :func:`shared_process` rather than making
    one (every model shares one process, hence one torch and one CUDA context).
    """

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._proc = None
        self._conn = None
        self._hosted: dict[int, _Hosted] = {}
        self._unload: list[int] = []   # released while another request held the lock
        self._ids = itertools.count(1)
        self._pid = os.getpid()
        #: what the process said when it started: ``pid``, ``torch``, ``cuda``, ``gpu``
        self.facts: dict = {}
        #: how many times a process was started (a model loaded in an older one is reloaded)
        self.generation = 0
        # runs at exit (before multiprocessing ends daemonic children) and in a child
        mp_util.Finalize(None, self.stop, exitpriority=10)

    @property
    def pid(self) -> int | None:
        """The process id while it runs, else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def start(self) -> dict:
        """Start the process unless it runs; its :attr:`facts`.

        Raises
        ------
        EngineError
            If it cannot start or does not answer within :data:`START_TIMEOUT_S`.
        """
        with self._lock:
            if not self._alive():
                self._start()
            return dict(self.facts)

    def stop(self) -> None:
        """Stop the process (idempotent); a later request starts a new one.

        If a request holds the process for longer than :data:`STOP_TIMEOUT_S` (at exit,
        a long run), the process is killed: that request fails, nothing hangs."""
        if os.getpid() != self._pid:  # a spawned child's copy: not ours to stop
            return
        if self._lock.acquire(timeout=STOP_TIMEOUT_S):
            try:
                self._stop()
            finally:
                self._lock.release()
        elif self._proc is not None:
            self._proc.kill()

    def stop_if_idle(self) -> None:
        """Stop the process if it hosts no model."""
        with self._lock:
            if not self._hosted:
                self._stop()

    # ------------------------------------------------------------------ models

    def host(self, manifest, folder: Path, options: dict,
             notice: Callable[[str], None]) -> _Hosted:
        """Load a model into the process (started if need be); raises like :meth:`request`."""
        model_id = next(self._ids)
        hosted = _Hosted(model_id, ("load", model_id, manifest, str(folder), dict(options)),
                         notice)
        with self._lock:
            self._hosted[model_id] = hosted
            try:
                self._ensure_loaded(hosted)
            except BaseException:
                del self._hosted[model_id]
                self._tidy()
                raise
            self._flush()
        return hosted

    def request(self, hosted: _Hosted, op: str, *args,
                cancelled: Callable[[], bool] | None = None) -> tuple:
        """Ask the process ``op`` about a hosted model; its answer (after ``"ok"``).

        A process that crashed since the model was loaded is started again and the model
        loaded again first. ``cancelled`` is polled while waiting and, when true, sent on as
        ``("cancel",)`` (measuring stops with :class:`selection.MeasureCancelled`).

        Raises
        ------
        ProcessStopped
            If the process ended while answering (it is started again on the next request).
        EngineError
            With the process's one line, if the operation failed there.
        """
        with self._lock:
            try:
                if hosted.id not in self._hosted:
                    raise EngineError("engine is closed")
                self._ensure_loaded(hosted)
                return self._ask((op, hosted.id, *args), hosted.notice, cancelled)
            finally:
                self._tidy()

    def release(self, hosted: _Hosted) -> None:
        """Unload a model; the process stops when it hosts none.

        Never waits: when a request holds the process (or this runs inside one, from a
        garbage collection), the request unloads it as it ends."""
        if self._hosted.pop(hosted.id, None) is None:
            return
        if hosted.generation == self.generation:
            self._unload.append(hosted.id)
        if self._lock.acquire(blocking=False):
            try:
                self._tidy()
            finally:
                self._lock.release()

    # ------------------------------------------------------------------ internals (locked)

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _tidy(self) -> None:
        """Unload released models; stop the process when it hosts none."""
        self._flush()
        if not self._hosted:
            self._stop()

    def _flush(self) -> None:
        """Unload the models released while another request held the process."""
        while self._unload and self._alive():
            try:
                self._ask(("unload", self._unload.pop()), lambda line: None)
            except EngineError:
                pass
        self._unload.clear()

    def _stop(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if proc is None:
            return
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
        proc.join(STOP_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join(STOP_TIMEOUT_S)
        conn.close()

    def _start(self) -> None:
        from medview.inference import torch_process

        self._stop()  # a dead process's pipe and handle
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=torch_process.serve, args=(child,),
                                 name="medview-inference", daemon=True)
        try:
            proc.start()
        except Exception as exc:  # noqa: BLE001 - no process: say so in one line
            raise EngineError(f"the inference process cannot start ({exc})") from None
        finally:
            child.close()
        self._proc, self._conn = proc, parent
        try:
            if not parent.poll(START_TIMEOUT_S):
                raise EngineError(f"the inference process did not start within "
                                  f"{START_TIMEOUT_S:g} s")
            kind, facts = parent.recv()
            if kind != "ready":
                raise EngineError(f"the inference process cannot start: {facts}")
        except (EOFError, OSError):
            proc.join(STOP_TIMEOUT_S)
            self._stop()
            raise EngineError(f"the inference process exited while starting (exit status "
                              f"{proc.exitcode}); is torch installed?") from None
        except BaseException:
            self._stop()
            raise
        self.facts = dict(facts)
        self.generation += 1

    def _ensure_loaded(self, hosted: _Hosted) -> None:
        if not self._alive():
            self._start()
        if hosted.generation != self.generation:
            (hosted.info,) = self._ask(hosted.load, hosted.notice)
            hosted.generation = self.generation

    def _ask(self, msg: tuple, notice, cancelled=None) -> tuple:
        conn = self._conn
        try:
            conn.send(msg)
            asked_to_cancel = False
            deadline = time.monotonic() + ANSWER_TIMEOUT_S
            while True:
                if not conn.poll(_POLL_S):
                    if cancelled is not None and not asked_to_cancel and cancelled():
                        conn.send(("cancel",))
                        asked_to_cancel = True
                    if time.monotonic() > deadline:
                        self._proc.kill()
                        self._stop()
                        raise ProcessStopped(f"the inference process did not answer within "
                                             f"{ANSWER_TIMEOUT_S:g} s and was stopped")
                    continue
                reply = conn.recv()
                if reply[0] != "notice":
                    break
                notice(reply[1])
                deadline = time.monotonic() + ANSWER_TIMEOUT_S
        except (EOFError, OSError):
            proc = self._proc
            proc.join(STOP_TIMEOUT_S)
            code = proc.exitcode
            self._stop()
            raise ProcessStopped(f"the inference process stopped (exit status {code})") from None
        if reply[0] == "ok":
            return reply[1:]
        if reply[0] == "cancelled":
            raise selection.MeasureCancelled("engine measurement cancelled")
        raise EngineError(reply[1])


_shared: InferenceProcess | None = None
_shared_lock = threading.Lock()


def shared_process() -> InferenceProcess:
    """The app's one inference process (made on first call; started on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = InferenceProcess()
        return _shared


class ProcessEngine(Engine):
    """A model run by torch in the inference process.

    Parameters
    ----------
    manifest : Manifest
        The model's manifest.
    folder : pathlib.Path
        The model folder (the process loads the weights from it, SHA-256 checked).
    device, engine, precision : str
        As for :func:`~medview.inference.engines.create_engine`, which builds the engine
        in the process (``device="auto"``: CUDA where torch sees a GPU).
    cache_dir : pathlib.Path, optional
        The engine cache (default: the user cache folder).
    on_notice : callable, optional
        Receives the engine factory's one-line notices.
    measure : bool
        As for ``create_engine``; :meth:`measure` measures later.
    cancelled : callable, optional
        Polled while measuring.
    process : InferenceProcess, optional
        Default :func:`shared_process`.

    Raises
    ------
    EngineError
        When the process cannot start or cannot load the model (one line naming it).
    """

    def __init__(self, manifest, folder: Path, *, device: str = "auto", engine: str = "auto",
                 precision: str = "auto", cache_dir: Path | None = None,
                 on_notice: Callable[[str], None] | None = None, measure: bool = True,
                 cancelled: Callable[[], bool] | None = None,
                 process: InferenceProcess | None = None) -> None:
        self.model_name = manifest.name
        self.label = f"model '{manifest.name}' {manifest.version}"
        self.input_shape = tuple(manifest.input_shape)  # type: ignore[assignment]
        self.task = manifest.task
        self.process = process or shared_process()
        options = {"device": device, "engine": engine, "precision": precision,
                   "measure": measure, "cache_dir": str(cache_dir) if cache_dir else None}
        try:
            self._hosted = self.process.host(manifest, folder, options,
                                             on_notice or (lambda line: None))
        except EngineError as exc:
            raise EngineError(self._named(exc.message)) from None
        self._finalizer = mp_util.Finalize(self, self.process.release, args=(self._hosted,))

    name = property(lambda self: self._hosted.info.get("name", "torch"))  # type: ignore[assignment]
    device = property(lambda self: self._hosted.info.get("device", "cpu"))  # type: ignore[assignment]
    precision = property(lambda self: self._hosted.info.get("precision", "fp32"))  # type: ignore[assignment]
    selection = property(lambda self: self._hosted.info.get("selection"))  # type: ignore[assignment]

    @property
    def pid(self) -> int | None:
        """The inference process's id while it runs."""
        return self.process.pid

    def describe(self) -> str:
        return f"{super().describe()} (inference process)"

    def _run(self, batch: np.ndarray) -> np.ndarray:
        (logits,) = self._request("run", batch)
        return logits

    def gradcam(self, image: np.ndarray, class_index: int) -> np.ndarray:
        """Grad-CAM of one preprocessed image (C, H, W), computed by torch in the process
        (:func:`medview.inference.gradcam.gradcam`)."""
        with self.lock:
            (cam,) = self._request("gradcam", np.ascontiguousarray(image, np.float32),
                                   int(class_index))
        return cam

    def measure(self, cancelled: Callable[[], bool] | None = None) -> bool:
        """Measure the engines in the process (on a copy of the network) and switch to the
        fastest; True if the engine changed. Raises ``selection.MeasureCancelled``."""
        with self.lock:
            changed, info = self._request("measure", cancelled=cancelled)
        self._hosted.info = info
        return bool(changed)

    def _request(self, op: str, *args, cancelled=None) -> tuple:
        try:
            return self.process.request(self._hosted, op, *args, cancelled=cancelled)
        except ProcessStopped as exc:
            raise ProcessStopped(f"{self.label}: {exc.message}; it starts again with the "
                                 "next analysis") from None
        except EngineError as exc:
            raise EngineError(self._named(exc.message)) from None

    def _named(self, line: str) -> str:
        """``line`` naming the model (the process's model errors name it already)."""
        return line if f"'{self.model_name}'" in line else f"{self.label}: {line}"

    def close(self) -> None:
        self._finalizer()
