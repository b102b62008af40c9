"""The AI panel's work off the GUI thread: load models, analyse frames, run batches.

:class:`AnalysisService` is the only way the GUI reaches a model. Everything slow runs
as a :class:`medview.qt.workers.Worker` (generator functions: each ``yield`` is a
progress message and a point where a cancel stops the job) in the service's own small
thread pool, and comes back as Qt signals in the GUI thread:

* **Checking** comes first: a request decodes and preprocesses its image before any
  model or engine work, so a damaged file fails at once with its one line.
* **Loading** a model (opening its ONNX graph, or for a model without one the torch
  import and building the network; then its engine) is a job of its own, started by the
  first checked request that needs the model; requests wait for it, and the status messages
  say what happens and about how long it takes
  (:mod:`medview.analysis.load_times`). The model runs at once on the engine already
  chosen for it on this PC, or else on fp32 torch (exact by definition); the engines are
  **measured in the background** once nothing else is running, and the model switches to
  the winner (``engineChanged``). Option ``measure="now"`` measures during the load instead.
* **Requests** belong to a *slot* (a viewport). A new request for a slot supersedes the
  slot's unfinished one: the old one is cancelled and its result is never delivered.
  :meth:`AnalysisService.cancel` does the same without a successor. A job that is past
  its last yield cannot be interrupted, so the GUI side also drops any late result of a
  request that is no longer current.
* **Results** are cached per (frame, model name, version, weights SHA-256): asking again
  answers at once, in the calling thread, without running the engine.
* **Batches** analyse a list of frames (or the files under dropped paths) one by one,
  reusing and filling the cache, and report one row per image.

Only one engine runs at a time (the engines hold a lock), so two pool threads keep a
two-core PC responsive: one can preprocess while the other runs the network.

The jobs themselves, the requests and the cache are Qt-free (:mod:`medview.analysis.pool_jobs`);
this module schedules them and turns their results into signals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal

from medview.analysis.pool_jobs import (CANCELLED, DONE, FAILED, QUEUED, RUNNING, SUPERSEDED,
                                        WAITING, Analysis, BatchJob, ModelId, Request,
                                        ResultCache, analyze_job, batch_job, cache_key,
                                        check_job, engine_info, failure_text, load_model_job,
                                        measure_job)
from medview.app import torch_commands
from medview.qt.workers import Worker, Workers

log = logging.getLogger(__name__)

# pool priorities (higher first)
P_CHECK, P_LOAD, P_INTERACTIVE, P_BATCH, P_MEASURE = 40, 30, 20, 10, 0
POOL_THREADS = 2


class _Model:
    __slots__ = ("id", "entry", "state", "analyzer", "error", "worker", "info")

    def __init__(self, model: ModelId, entry) -> None:
        self.id, self.entry = model, entry
        self.state = "loading"
        self.analyzer = None
        self.error = ""
        self.worker: Worker | None = None
        self.info: dict = {}


# --------------------------------------------------------------------------- the service


class AnalysisService(QObject):
    """Models, analyses and batches for the GUI; see the module docstring.

    Parameters
    ----------
    device, engine, precision : str
        Passed to :class:`~medview.inference.analyze.Analyzer` ("auto" each by default).
    threads : int
        Pool threads (two: one engine runs at a time anyway).
    measure : {"background", "now"}
        When a model's engines are measured on a PC that has no choice cached for it:
        in the background once nothing else runs (the model runs on fp32 torch
        meanwhile), or during the load, while the first request waits.
    load_times : LoadTimes, optional
        Estimates of the load steps (default: the user cache folder's).
    """

    modelStatus = Signal(str, str)         # model key, what loading does now
    modelEta = Signal(str, float)          # model key, seconds the rest of the load should take
    modelReady = Signal(str, object)       # model key, info dict (engine, device, ...)
    engineChanged = Signal(str, object)    # model key, info dict after a background measurement
    modelFailed = Signal(str, str)         # model key, one-line reason
    started = Signal(object)               # Request
    progress = Signal(object, str)         # Request, message
    finished = Signal(object, object)      # Request, Analysis
    failed = Signal(object, str)           # Request, one-line reason
    cancelled = Signal(object)             # Request (cancelled or superseded)
    notice = Signal(str)                   # engine notices (e.g. GPU out of memory)
    batchStatus = Signal(object, str)      # BatchJob, message
    batchRow = Signal(object, object)      # BatchJob, BatchRow
    batchFinished = Signal(object)         # BatchJob (state done / cancelled / failed)
    importFinished = Signal(object)        # ModelEntry installed
    importFailed = Signal(str)             # one-line reason

    def __init__(self, device: str = "auto", engine: str = "auto", precision: str = "auto",
                 threads: int = POOL_THREADS, parent: QObject | None = None,
                 measure: str = "background", load_times=None) -> None:
        super().__init__(parent)
        from medview.analysis.load_times import LoadTimes

        self.options = {"device": device, "engine": engine, "precision": precision,
                        "measure": measure}
        self.load_times = load_times if load_times is not None else LoadTimes()
        self._unmeasured: list[_Model] = []   # on the fp32 default, to measure when idle
        self._measuring: tuple[Worker, _Model] | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self.workers = Workers(self.pool, self)
        self.cache = ResultCache()
        self._models: dict[str, _Model] = {}
        self._active: dict[Hashable, Request] = {}
        self._waiting: dict[str, list] = {}
        self._batches: list[BatchJob] = []
        self.engine_runs = 0   # analyses actually run (cache hits excluded)

    # ------------------------------------------------------------------ models

    def model_state(self, model: ModelId) -> str:
        """``"absent"``, ``"loading"``, ``"ready"`` or ``"failed"``."""
        m = self._models.get(model.key)
        if m is None or m.id != model:
            return "absent"
        return m.state

    def model_info(self, model: ModelId) -> dict:
        m = self._models.get(model.key)
        return dict(m.info) if m is not None and m.id == model else {}

    def analyzer(self, model: ModelId):
        m = self._models.get(model.key)
        return m.analyzer if m is not None and m.id == model and m.state == "ready" else None

    def load_model(self, entry) -> str:
        """Start loading ``entry`` (a registry ModelEntry) unless loaded or loading."""
        model = ModelId.of(entry)
        m = self._models.get(model.key)
        if m is not None and m.id == model and m.state in ("loading", "ready"):
            return m.state
        if m is not None and m.worker is not None:
            m.worker.cancel()
        m = _Model(model, entry)
        self._models[model.key] = m
        self.modelStatus.emit(model.key, f"Loading {model.label}…")
        m.worker = self.workers.start(
            load_model_job, entry, dict(self.options), self.notice.emit, self.load_times,
            pass_worker=True, priority=P_LOAD,
            on_progress=lambda msg, m=m: self._load_progress(m, msg),
            on_return=lambda out, m=m: self._loaded(m, *out),
            on_error=lambda exc, m=m: self._load_failed(m, exc),
            on_finished=lambda m=m: self._load_finished(m))
        return m.state

    def forget_models(self, keep: Sequence[ModelId] = ()) -> None:
        """Drop loaded models not in ``keep`` (e.g. removed or replaced on disk)."""
        keep = set(keep)
        for key, m in list(self._models.items()):
            if m.id not in keep:
                if m.worker is not None:
                    m.worker.cancel()
                del self._models[key]
                for item in self._waiting.pop(key, []):
                    self._fail(item, f"model '{m.id.name}' version {m.id.version} was removed")

    def _current(self, m: _Model) -> bool:
        return self._models.get(m.id.key) is m

    def _load_progress(self, m: _Model, item) -> None:
        if self._current(m):
            message, eta = item
            self.modelEta.emit(m.id.key, float(eta))
            self.modelStatus.emit(m.id.key, str(message))

    def _loaded(self, m: _Model, analyzer, engine_seconds: float) -> None:
        if not self._current(m):
            return
        eng = analyzer.engine
        m.analyzer, m.state = analyzer, "ready"
        m.info = engine_info(eng)
        m.info["seconds"] = engine_seconds
        self.modelReady.emit(m.id.key, dict(m.info))
        if m.info["selection"] == "default" and self.options.get("measure") == "background":
            self._unmeasured.append(m)
        for item in self._waiting.pop(m.id.key, []):
            if isinstance(item, BatchJob):
                if item.is_open:
                    self._start_batch(item, analyzer)
            elif item.is_open and self._active.get(item.slot) is item:
                self._start_request(item, analyzer)
        self._measure_when_idle()

    # ------------------------------------------------------------------ measuring

    @property
    def idle(self) -> bool:
        """No request, batch or model load is open (background work may run)."""
        return (not any(r.is_open for r in self._active.values())
                and not any(j.is_open for j in self._batches)
                and not any(m.state == "loading" for m in self._models.values()))

    def _measure_when_idle(self) -> None:
        """Measure the engines of one model on its fp32 default, once nothing else runs
        (measuring takes both cores for seconds: never while the user waits)."""
        if self._measuring is not None or not self._unmeasured or not self.idle:
            return
        m = self._unmeasured.pop(0)
        if not self._current(m) or m.analyzer is None or \
                engine_info(m.analyzer.engine)["selection"] != "default":
            self._measure_when_idle()
            return
        worker = self.workers.start(
            measure_job, m.analyzer, pass_worker=True, priority=P_MEASURE,
            on_error=lambda exc, m=m: log.info("measuring the engines of %s stopped: %s",
                                               m.id.label, failure_text(exc)),
            on_finished=lambda m=m: self._measure_finished(m))
        self._measuring = (worker, m)

    def _pause_measuring(self) -> None:
        """The user wants something: stop measuring (it starts again when idle)."""
        if self._measuring is not None:
            worker, m = self._measuring
            if not worker.is_cancelled():
                worker.cancel()
                self._unmeasured.insert(0, m)

    def _measure_finished(self, m: _Model) -> None:
        # also after a cancel that came too late to stop the switch
        self._measuring = None
        if self._current(m) and m.analyzer is not None:
            info = engine_info(m.analyzer.engine)
            if info["selection"] != m.info.get("selection"):
                m.info = {**m.info, **info}
                self.engineChanged.emit(m.id.key, dict(m.info))
        self._measure_when_idle()

    def _load_failed(self, m: _Model, exc) -> None:
        if not self._current(m):
            return
        m.state, m.error = "failed", failure_text(exc)
        self.modelFailed.emit(m.id.key, m.error)
        for item in self._waiting.pop(m.id.key, []):
            self._fail(item, m.error)

    def _load_finished(self, m: _Model) -> None:
        m.worker = None
        if self._current(m) and m.state == "loading":  # cancelled before it was done
            del self._models[m.id.key]

    # ------------------------------------------------------------------ requests

    def current(self, slot: Hashable) -> Request | None:
        """The slot's unfinished request, if any."""
        r = self._active.get(slot)
        return r if r is not None and r.is_open else None

    def cached(self, frame, model: ModelId) -> Analysis | None:
        return self.cache.get(cache_key(frame, model))

    def analyze(self, slot: Hashable, frame, entry, explain: bool = False,
                layer: str | None = None, scope: dict | None = None) -> Request:
        """Analyse ``frame`` with the model of registry ``entry`` for ``slot``.

        ``explain`` asks for a classifier's Grad-CAM; ``layer`` for the overlay layer
        (:func:`~medview.analysis.overlays.layer_for` mode) to be made in the pool
        thread too. A cached result is delivered before this returns (``finished``, then the
        request is ``done`` with ``cached`` True). Otherwise the slot's previous
        unfinished request is superseded and this one waits for its model or runs.
        ``scope``: ``outside_scope`` ("Run anyway") and ``accept_unknown_body_part``.
        """
        model = ModelId.of(entry)
        req = Request(slot, frame, model, explain, layer, scope)
        hit = self.cache.get(cache_key(frame, model))
        wants_cam = explain and entry.manifest.task == "classification"
        if hit is not None and (hit.heatmap is not None or not wants_cam):
            self._supersede(slot)
            req.state, req.cached = DONE, True
            self.finished.emit(req, hit)
            return req
        self._supersede(slot)
        self._active[slot] = req
        self._pause_measuring()
        req.worker = self.workers.start(
            check_job, frame, entry.manifest, pass_worker=True, priority=P_CHECK,
            on_progress=lambda msg, r=req: self._req_progress(r, msg),
            on_return=lambda pre, r=req, e=entry: self._checked(r, e, pre),
            on_error=lambda exc, r=req: self._fail(r, failure_text(exc)))
        return req

    def _checked(self, req: Request, entry, pre) -> None:
        """The image is good: now the model (loaded first if need be)."""
        if not req.is_open or self._active.get(req.slot) is not req:
            return
        req.pre, req.state = pre, WAITING
        state = self.load_model(entry)
        if state == "ready":
            self._start_request(req, self._models[req.model.key].analyzer)
        else:
            self._waiting.setdefault(req.model.key, []).append(req)

    def cancel(self, slot: Hashable) -> bool:
        """Cancel the slot's unfinished request (its result will never be delivered)."""
        req = self.current(slot)
        if req is None:
            return False
        req.state = CANCELLED
        if req.worker is not None:
            req.worker.cancel()
        self._active.pop(slot, None)
        self._drop_unneeded_load(req.model)
        self.cancelled.emit(req)
        self._measure_when_idle()
        return True

    def _supersede(self, slot: Hashable) -> None:
        old = self.current(slot)
        if old is None:
            return
        old.state = SUPERSEDED
        if old.worker is not None:
            old.worker.cancel()
        self._active.pop(slot, None)
        self.cancelled.emit(old)

    def _drop_unneeded_load(self, model: ModelId) -> None:
        """A load that no request or batch waits for any more is cancelled."""
        waiting = [i for i in self._waiting.get(model.key, []) if i.is_open]
        self._waiting[model.key] = waiting
        m = self._models.get(model.key)
        if not waiting and m is not None and m.state == "loading" and m.worker is not None:
            m.worker.cancel()

    def _start_request(self, req: Request, analyzer) -> None:
        req.state = QUEUED
        pre, req.pre = req.pre, None
        req.worker = self.workers.start(
            analyze_job, analyzer, req.frame, req.explain, req.layer, pre, req.scope,
            pass_worker=True,
            priority=P_INTERACTIVE,
            on_progress=lambda msg, r=req: self._req_progress(r, msg),
            on_return=lambda analysis, r=req: self._req_done(r, analysis),
            on_error=lambda exc, r=req: self._fail(r, failure_text(exc)))

    def _req_progress(self, req: Request, message) -> None:
        if req.is_open:
            if req.state == QUEUED:  # the first message: it runs now
                req.state = RUNNING
                self.started.emit(req)
            req.message = str(message)
            self.progress.emit(req, req.message)

    def _req_done(self, req: Request, analysis: Analysis) -> None:
        self.engine_runs += 1
        # A superseded result is still right for its frame: keep it for later.
        self.cache.put(cache_key(req.frame, req.model), analysis)
        if not req.is_open:
            return
        req.state = DONE
        if self._active.get(req.slot) is req:
            del self._active[req.slot]
        self.finished.emit(req, analysis)
        self._measure_when_idle()

    def _fail(self, item, message: str) -> None:
        if not item.is_open:
            return
        item.state, item.message = FAILED, message
        if isinstance(item, BatchJob):
            self._end_batch(item)
            return
        if self._active.get(item.slot) is item:
            del self._active[item.slot]
        self.failed.emit(item, message)
        self._measure_when_idle()

    # ------------------------------------------------------------------ batches

    def run_batch(self, entry, frames: Sequence | None = None,
                  paths: Sequence[str] | None = None, title: str = "",
                  accept_unknown_body_part: bool | None = None) -> BatchJob:
        """Analyse ``frames`` (or every image under ``paths``) with ``entry``'s model; an
        image outside the model's declared input becomes a row that says why."""
        job = BatchJob(ModelId.of(entry), frames, paths, title, accept_unknown_body_part)
        self._batches.append(job)
        self._pause_measuring()
        state = self.load_model(entry)
        if state == "ready":
            self._start_batch(job, self._models[job.model.key].analyzer)
        else:
            self._waiting.setdefault(job.model.key, []).append(job)
        return job

    def cancel_batch(self, job: BatchJob) -> None:
        if not job.is_open:
            return
        job.state = CANCELLED
        if job.worker is not None:
            job.worker.cancel()
        self._drop_unneeded_load(job.model)
        self._end_batch(job)

    def _start_batch(self, job: BatchJob, analyzer) -> None:
        job.state = QUEUED
        job.started = time.perf_counter()
        job.worker = self.workers.start(
            batch_job, analyzer, job, self.cache, pass_worker=True, priority=P_BATCH,
            on_progress=lambda item, j=job: self._batch_progress(j, item),
            on_return=lambda n, j=job: self._batch_done(j),
            on_error=lambda exc, j=job: self._fail(j, failure_text(exc)))

    def _batch_progress(self, job: BatchJob, item) -> None:
        if not job.is_open:
            return
        job.state = RUNNING
        kind = item[0]
        if kind == "status":
            job.message = item[1]
            self.batchStatus.emit(job, item[1])
        elif kind == "skipped":
            job.skipped = item[1]
        elif kind == "total":
            job.total = item[1]
            self.batchStatus.emit(job, f"0 of {job.total} images")
        elif kind == "row":
            row = item[1]
            if not row.cached and not row.error:
                self.engine_runs += 1
            job.rows.append(row)
            self.batchRow.emit(job, row)

    def _batch_done(self, job: BatchJob) -> None:
        if not job.is_open:
            return
        job.state = DONE
        self._end_batch(job)

    def _end_batch(self, job: BatchJob) -> None:
        job.seconds = time.perf_counter() - job.started
        if job in self._batches:
            self._batches.remove(job)
        self.batchFinished.emit(job)
        self._measure_when_idle()

    # ------------------------------------------------------------------ import

    def import_model(self, source: str | Path, manifest: str | Path | None = None,
                     replace_existing: bool = False) -> Worker:
        """Import a model into the user folder (checked, its ONNX graph made) by a
        ``medview models import`` subprocess, so this process never loads torch."""
        def job(worker):
            yield "Checking the model…"
            return torch_commands.import_model(source, manifest, replace_existing)

        return self.workers.start(job, pass_worker=True, priority=P_LOAD,
                                  on_return=self.importFinished.emit,
                                  on_error=lambda exc: self.importFailed.emit(failure_text(exc)))

    # ------------------------------------------------------------------ life

    @property
    def busy(self) -> bool:
        return self.workers.busy

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Cancel everything (the window closes); wait a little for running jobs, then
        unload the models of the inference process (it stops when it hosts none)."""
        for slot in list(self._active):
            self.cancel(slot)
        for job in list(self._batches):
            self.cancel_batch(job)
        self.workers.cancel_all()
        self.pool.waitForDone(wait_ms)
        for m in self._models.values():
            # never waits: a model still running is unloaded as its run ends
            if m.analyzer is not None and m.analyzer.in_worker:
                m.analyzer.close()
