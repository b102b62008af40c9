"""Work off the GUI thread: generic workers and the frame decoder.

Two pieces, both built on :class:`QThreadPool` + :class:`QRunnable` with a
separate signals :class:`QObject` (the superqt pattern: a QRunnable is not a
QObject and cannot emit):

* :class:`Worker` runs any function (or generator function) in the pool and
  reports ``started / progress / returned / errored / finished``. Generators
  report each ``yield`` as progress and stop between yields when cancelled.
* :class:`FrameLoader` decodes frames by priority. A runnable does not carry
  its frame: it takes the most urgent job *when it starts*, so a slice the
  user scrolls to jumps ahead of a long background prefetch without anything
  being cancelled or re-queued in Qt.

Signals are emitted from pool threads and delivered (queued) in the GUI
thread; nothing here touches widgets.
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from medview.core.errors import plain_reason

# --------------------------------------------------------------------------- generic worker


class WorkerSignals(QObject):
    """What a :class:`Worker` reports. Lives in the thread that created it."""

    started = Signal()
    progress = Signal(object)   # each value a generator yields
    returned = Signal(object)   # the function's return value
    errored = Signal(object)    # the exception
    finished = Signal()         # always last


class Worker(QRunnable):
    """Run ``fn(*args, **kwargs)`` in a thread pool.

    If ``fn`` is a generator function, each yielded value is emitted as
    ``progress`` and :meth:`cancel` stops it at the next yield. Plain functions
    can poll :meth:`is_cancelled` if they are passed ``worker.is_cancelled``.

    The creator must keep a reference until ``finished`` (see :class:`Workers`):
    auto-deletion is off so that the signals object outlives the run.
    """

    def __init__(self, fn: Callable, *args, pass_worker: bool = False, **kwargs) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        if pass_worker:  # fn(worker, *args): it can emit progress and poll is_cancelled
            self._args = (self, *args)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # pool thread
        emit = self._emit
        emit("started")
        try:
            result = self._fn(*self._args, **self._kwargs)
            if inspect.isgenerator(result):
                gen = result
                result = None
                while True:
                    if self._cancel.is_set():
                        gen.close()
                        break
                    try:
                        value = next(gen)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    emit("progress", value)
            if not self._cancel.is_set():
                emit("returned", result)
        except BaseException as exc:  # noqa: BLE001 - reported, never raised into Qt: an
            emit("errored", exc)      # exception escaping a QRunnable aborts the app
        finally:
            emit("finished")

    def _emit(self, name: str, *args) -> None:
        try:
            getattr(self.signals, name).emit(*args)
        except RuntimeError:  # the receiver side was deleted (application quitting)
            self._cancel.set()


class Workers(QObject):
    """Owns running :class:`Worker` objects until they finish; starts them in a pool."""

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._running: set[Worker] = set()

    def start(self, fn: Callable, *args, on_return: Callable | None = None,
              on_error: Callable | None = None, on_progress: Callable | None = None,
              on_finished: Callable | None = None, priority: int = 0,
              pass_worker: bool = False, **kwargs) -> Worker:
        """Run ``fn`` in the pool; callbacks are connected before it can start."""
        worker = Worker(fn, *args, pass_worker=pass_worker, **kwargs)
        if on_return is not None:
            worker.signals.returned.connect(on_return)
        if on_error is not None:
            worker.signals.errored.connect(on_error)
        if on_progress is not None:
            worker.signals.progress.connect(on_progress)
        if on_finished is not None:
            worker.signals.finished.connect(on_finished)
        worker.signals.finished.connect(lambda w=worker: self._running.discard(w))
        self._running.add(worker)
        self.pool.start(worker, priority)
        return worker

    def cancel_all(self) -> None:
        for w in list(self._running):
            w.cancel()

    def shutdown(self, msecs: int) -> bool:
        """Cancel every worker and wait up to ``msecs`` for the pool to be idle (the window
        is closing; see ``main_window._QUIT_WAIT_MS``). Returns whether it became idle."""
        self.cancel_all()
        return self.pool.waitForDone(msecs)

    @property
    def busy(self) -> bool:
        return bool(self._running)


# --------------------------------------------------------------------------- frame decoding

# Priorities: higher runs first.
P_CURRENT = 1000     # the slice on screen
P_NEIGHBOUR = 800    # minus distance: slices next to it
P_THUMBNAIL = 600    # one frame per series for the browser
P_PREFETCH = 100     # the rest of a displayed series, in order


class FrameSignals(QObject):
    decoded = Signal(object)        # frame key (str(path), index)
    failed = Signal(object, str)    # frame key, one-line reason
    thumbnail = Signal(int, object)  # series id, QImage
    series_progress = Signal(int, int, int)  # series id, decoded, total


class _Job:
    __slots__ = ("frame", "priority", "kind", "series_id", "alive", "renderer")

    def __init__(self, frame, priority: int, kind: str, series_id: int) -> None:
        self.frame, self.priority, self.kind, self.series_id = frame, priority, kind, series_id
        self.alive = True
        self.renderer = None


class _TakeNext(QRunnable):
    """Takes whichever job is most urgent when a pool thread becomes free."""

    def __init__(self, loader: FrameLoader) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._loader = loader

    def run(self) -> None:
        self._loader._run_one()


def _emit(signal, *args) -> None:
    """Emit from a pool thread; quietly nothing once the window that listens is gone
    (a decode still running while the app quits: "Signal source has been deleted")."""
    try:
        signal.emit(*args)
    except RuntimeError:
        pass


def default_thread_count() -> int:
    """Decoder threads: all cores but leave the GUI responsive on a 2-core PC."""
    return max(2, min(6, (os.cpu_count() or 2)))


class FrameLoader(QObject):
    """Decodes frames in a thread pool, most urgent first.

    ``request(frame, priority)`` queues a frame unless it is decoded or already
    queued at a higher priority; ``decoded(key)`` follows once it is in the
    shared pixel cache (``frame.stored()`` is then instant). ``track(series)``
    reports ``series_progress`` for the browser.
    """

    def __init__(self, threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads or default_thread_count())
        self.signals = FrameSignals()
        self.decoded, self.failed = self.signals.decoded, self.signals.failed
        self.thumbnail, self.series_progress = self.signals.thumbnail, self.signals.series_progress
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int, int, str, _Job]] = []
        self._queued: dict[tuple, _Job] = {}      # key -> live job (frame decode)
        self._running: set[tuple] = set()
        self._errors: dict[tuple, str] = {}
        self._seq = itertools.count()
        self._tracked: dict[int, tuple[Any, set]] = {}  # series id -> (series, decoded keys)
        self._series_of_key: dict[tuple, set[int]] = {}
        self.thumbnail_size = 96
        self.signals.decoded.connect(self._on_decoded)
        self.signals.failed.connect(self._on_failed)

    # -- requests -------------------------------------------------------------

    def error_for(self, frame) -> str | None:
        """The reason a frame failed to decode, if it did."""
        return self._errors.get(frame.key)

    def request(self, frame, priority: int = P_CURRENT, order: int | None = None) -> bool:
        """Queue ``frame`` for decoding; True when it is already decoded.

        Among equal priorities the newest request runs first (the slice the
        user is looking at now beats one scrolled past), unless ``order`` is
        given (lower first).
        """
        if frame.is_decoded:
            return True
        key = frame.key
        if key in self._errors:
            return False
        with self._lock:
            if key in self._running:
                return False
            job = self._queued.get(key)
            if job is not None:
                if job.priority >= priority:
                    return False
                job.alive = False
            job = _Job(frame, priority, "frame", 0)
            self._queued[key] = job
            tie = -next(self._seq) if order is None else order
            heapq.heappush(self._heap, (-priority, tie, next(self._seq), "frame", job))
        self.pool.start(_TakeNext(self))
        return False

    def request_many(self, frames: Iterable, priority: int) -> None:
        for f in frames:
            self.request(f, priority)

    def request_around(self, series, index: int, radius: int = 6) -> None:
        """The slice on screen first, then its neighbours by distance."""
        frames = series.frames
        if not frames:
            return
        self.request(frames[index], P_CURRENT)
        for d in range(1, radius + 1):
            for i in (index + d, index - d):
                if 0 <= i < len(frames):
                    self.request(frames[i], P_NEIGHBOUR - d)

    def prefetch(self, series, around: int = 0, budget_bytes: int | None = None) -> None:
        """Decode a series in the background (lowest priority), tracking progress.

        Frames go in slice order; when the whole series would not fit in
        ``budget_bytes`` (default: 60 % of the pixel cache), only the frames
        nearest ``around`` are queued, so a prefetch never evicts itself.
        """
        self.track(series)
        frames = series.frames
        if not frames:
            return
        if budget_bytes is None:
            budget_bytes = int(0.6 * frames[0].cache.max_bytes)
        try:
            rows, cols = frames[0].shape
        except Exception:  # noqa: BLE001 - a nonsense header: each decode will say why
            rows, cols = 1, 1
        per_frame = max(1, rows * cols * 2)
        limit = max(1, budget_bytes // per_frame)
        indices = range(len(frames))
        if len(frames) > limit:
            indices = sorted(sorted(indices, key=lambda i: abs(i - around))[:limit])
        for i in indices:
            self.request(frames[i], P_PREFETCH, order=i)  # in slice order

    def request_thumbnail(self, series, renderer: Callable) -> None:
        """Decode the middle frame of ``series`` and emit a small QImage made by
        ``renderer(frame) -> QImage`` (called in the pool thread)."""
        if not series.frames:
            return
        frame = series.frames[len(series.frames) // 2]
        job = _Job(frame, P_THUMBNAIL, "thumb", series.id)
        job.renderer = renderer  # type: ignore[attr-defined]
        with self._lock:
            heapq.heappush(self._heap, (-P_THUMBNAIL, next(self._seq), next(self._seq), "thumb", job))
        self.pool.start(_TakeNext(self))

    def cancel_all(self) -> None:
        """Drop every queued job (running ones finish)."""
        with self._lock:
            for *_, job in self._heap:
                job.alive = False
            self._heap.clear()
            self._queued.clear()

    def forget(self) -> None:
        """Cancel everything and forget tracked series and errors (study closed)."""
        self.cancel_all()
        self._tracked.clear()
        self._series_of_key.clear()
        self._errors.clear()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the pool is idle (tests, benchmarks and :meth:`shutdown`)."""
        return self.pool.waitForDone(msecs)

    def shutdown(self, msecs: int) -> bool:
        """Drop queued jobs and wait up to ``msecs`` for the running decodes (the window is
        closing; see ``main_window._QUIT_WAIT_MS``). Returns whether the pool became idle."""
        self.cancel_all()
        return self.wait(msecs)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queued)

    # -- progress -------------------------------------------------------------

    def track(self, series) -> None:
        if series.id in self._tracked:
            return
        done = {f.key for f in series.frames if f.is_decoded}
        self._tracked[series.id] = (series, done)
        for f in series.frames:
            self._series_of_key.setdefault(f.key, set()).add(series.id)
        self.series_progress.emit(series.id, len(done), len(series.frames))

    def progress_of(self, series) -> tuple[int, int] | None:
        entry = self._tracked.get(series.id)
        if entry is None:
            return None
        return len(entry[1]), len(series.frames)

    def _on_decoded(self, key) -> None:  # GUI thread
        for sid in self._series_of_key.get(key, ()):
            series, done = self._tracked[sid]
            if key not in done:
                done.add(key)
                self.series_progress.emit(sid, len(done), len(series.frames))

    def _on_failed(self, key, reason: str) -> None:  # GUI thread
        self._errors[key] = reason
        self._on_decoded(key)  # counts as handled for progress

    # -- pool side ------------------------------------------------------------

    def _pop(self) -> _Job | None:
        with self._lock:
            while self._heap:
                *_, kind, job = heapq.heappop(self._heap)
                if not job.alive:
                    continue
                if kind == "frame":
                    key = job.frame.key
                    if self._queued.get(key) is job:
                        del self._queued[key]
                    self._running.add(key)
                return job
        return None

    def _run_one(self) -> None:  # pool thread
        job = self._pop()
        if job is None:
            return
        frame = job.frame
        if job.kind == "thumb":
            try:
                image = job.renderer(frame)  # type: ignore[attr-defined]
            except BaseException:  # noqa: BLE001 - no thumbnail; the viewport says why
                return
            if image is not None:
                _emit(self.signals.thumbnail, job.series_id, image)
            return
        try:
            frame.stored()
        # Anything, incl. BaseException subclasses from native decoders (pyo3's
        # PanicException): nothing may escape a pool thread.
        except BaseException as exc:  # noqa: BLE001
            _emit(self.signals.failed, frame.key, plain_reason(exc))
        else:
            _emit(self.signals.decoded, frame.key)
        finally:
            with self._lock:
                self._running.discard(frame.key)
