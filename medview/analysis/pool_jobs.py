"""The AI panel's work without Qt: requests, batches, the result cache, and the jobs
that run in a pool thread.

The pool jobs are generator functions: each ``yield`` is a progress message and a point
where a cancel stops the job; ``worker`` is whatever runs them and answers
``is_cancelled()`` (:class:`medview.qt.workers.Worker` in the GUI). They take what they
need as arguments and touch no widget, so the same code runs under a test without a
QApplication. :class:`medview.qt.analysis.service.AnalysisService` schedules them and
brings their results back to the GUI thread.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from medview.core.imports import load

# request states
CHECKING = "checking"        # its image is decoded and preprocessed (before any engine work)
WAITING = "waiting"          # for its model to load
QUEUED = "queued"            # in the pool
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"
_OPEN = (CHECKING, WAITING, QUEUED, RUNNING)

CACHE_BYTES = 256 * 1024 * 1024


def failure_text(err: BaseException | str) -> str:
    """What went wrong, in one line for the AI panel.

    medview's own errors (a model or manifest problem names the model and the field;
    an unreadable image names the file) are shown as they are; anything unexpected
    is prefixed with its type.
    """
    from medview.core.errors import MedviewError, ReadError, one_line

    if isinstance(err, ReadError):
        return f"{err.path.name}: {err.reason}"
    if isinstance(err, MedviewError):
        return err.message
    text = one_line(err, limit=None)
    return text if isinstance(err, str) else f"{type(err).__name__}: {text}"


@dataclass(frozen=True)
class ModelId:
    """Which model: name, version and the SHA-256 its manifest records for the weights."""

    name: str
    version: str
    sha256: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @classmethod
    def of(cls, entry) -> ModelId:
        """The id of a registry :class:`~medview.inference.registry.ModelEntry`."""
        m = entry.manifest
        return cls(m.name, m.version, m.weights.sha256 if m is not None else "")


@dataclass
class Analysis:
    """One frame's result (what the cache holds and the panel shows).

    Attributes
    ----------
    result : ClassificationResult or SegmentationResult
    heatmap : numpy.ndarray or None
        A classifier's heat map at the frame's size, when it was asked for.
    heatmap_class : str or None
        The class the heat map explains.
    heatmap_method : str
        What the heat map is (``Analyzer.heatmap_method``): ``"Grad-CAM"``, or
        ``"decision map"`` for a model that scores an image by its own class map.
    ms_heatmap : float
        Time taken by the heat map.
    layers : dict
        Overlay layers made so far (:func:`medview.analysis.overlays.layer_for`
        mode → RGBA array); the one the viewer needs is made in the pool thread.
    """

    result: Any
    heatmap: Any = None
    heatmap_class: str | None = None
    heatmap_method: str = "Grad-CAM"
    ms_heatmap: float = 0.0
    layers: dict = field(default_factory=dict)

    def layer(self, mode: str | None):
        """The overlay layer for ``mode``, made now if it was not made before."""
        from medview.analysis.overlays import layer_for

        if mode not in self.layers:
            self.layers[mode] = layer_for(self, mode)
        return self.layers[mode]

    @property
    def nbytes(self) -> int:
        n = 1024
        for arr in (getattr(self.result, "mask", None), self.heatmap, *self.layers.values()):
            n += int(getattr(arr, "nbytes", 0))
        return n


def cache_key(frame, model: ModelId) -> tuple:
    return (frame.key, model.name, model.version, model.sha256)


class ResultCache:
    """Analyses by (frame, model version), least recently used dropped first (thread-safe).

    The memory budget counts masks, heat maps and overlay layers, also layers added
    after an analysis was stored (sizes are summed at each ``put``).
    """

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, Analysis] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Analysis | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, analysis: Analysis) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = analysis
            total = sum(a.nbytes for a in self._items.values())
            while total > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.nbytes

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(a.nbytes for a in self._items.values())

    def areas_for(self, frames, model: ModelId) -> dict:
        """Frame key → class areas, for the frames of ``frames`` with a segmentation result."""
        out = {}
        for f in frames:
            a = self.get(cache_key(f, model))
            if a is not None and getattr(a.result, "areas", None) is not None:
                out[f.key] = a.result.areas
        return out

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_ids = itertools.count(1)


class Request:
    """One frame to analyse for one slot (viewport); its ``state`` says where it is."""

    def __init__(self, slot: Hashable, frame, model: ModelId, explain: bool,
                 layer: str | None = None, scope: dict | None = None) -> None:
        self.id = next(_ids)
        self.slot, self.frame, self.model, self.explain = slot, frame, model, explain
        self.layer = layer
        #: ``Analyzer.analyze`` keywords: ``outside_scope``, ``accept_unknown_body_part``
        self.scope = dict(scope or {})
        self.state = CHECKING
        self.cached = False
        self.worker: Any = None   # what runs it (a medview.qt.workers.Worker in the GUI)
        self.message = ""
        self.pre = None  # the checked, preprocessed image
        self.created = time.perf_counter()

    @property
    def is_open(self) -> bool:
        return self.state in _OPEN

    def __repr__(self) -> str:
        label = getattr(self.frame, "label", "?")
        return f"<Request {self.id} {self.model.key} {label} {self.state}>"


@dataclass
class BatchRow:
    """One image of a batch (no pixels: masks stay in the cache)."""

    index: int
    file: str
    frame: int
    frame_key: tuple | None
    label: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    areas: dict = field(default_factory=dict)
    ms: float = 0.0
    cached: bool = False
    error: str = ""
    #: model, version, engine, device, precision, sop_instance_uid of the result
    provenance: dict = field(default_factory=dict)


class BatchJob:
    """A batch over frames (or over files still to be read); rows arrive in order."""

    def __init__(self, model: ModelId, frames: Sequence | None = None,
                 paths: Sequence[str] | None = None, title: str = "",
                 accept_unknown_body_part: bool | None = None) -> None:
        self.id = next(_ids)
        self.model = model
        # Each image's scope is checked; one outside it is a row that says why.
        self.accept_unknown_body_part = accept_unknown_body_part
        self.frames = list(frames) if frames is not None else None
        self.paths = [str(p) for p in paths] if paths is not None else None
        self.title = title
        self.state = WAITING
        self.rows: list[BatchRow] = []
        self.total = len(self.frames) if self.frames is not None else 0
        self.skipped: list = []
        self.worker: Any = None   # what runs it (a medview.qt.workers.Worker in the GUI)
        self.message = ""
        self.started = time.perf_counter()
        self.seconds = 0.0

    @property
    def is_open(self) -> bool:
        return self.state in _OPEN


# --------------------------------------------------------------------------- pool jobs
# Each runs in a pool thread; the service passes everything it needs.


def load_model_job(worker, entry, options: dict, notice, times):
    """Pool thread: the model's ONNX graph (no torch); or, where torch runs it on a CUDA GPU
    or by choice, the inference process started and the model loaded there (torch never
    enters this process); or, for a model without a graph, torch and the network with its
    weights here. Then its engine for this PC.

    Yields ``(message, seconds expected for the rest of the load)``; ``times`` is the
    :class:`~medview.analysis.load_times.LoadTimes` that estimates and records.
    """
    from medview.analysis import runtime
    from medview.analysis.load_times import MODEL, RUNTIME, about

    name = f"{entry.name} {entry.version}"
    key = f"{entry.name}@{entry.version}"
    measure = options.get("measure") == "now"
    model_s = times.estimate(MODEL, key)
    analyze = load("medview.inference.analyze")
    device, engine = options["device"], options["engine"]
    on_graph = analyze.runs_on_graph(entry, device, engine)
    in_worker = not on_graph and analyze.runs_in_worker(entry, device, engine)
    process = load("medview.inference.engines.process_engine").shared_process() \
        if in_worker else None
    with runtime.quiet_gc():
        if process is not None and process.pid is None:
            left = times.estimate(RUNTIME) + model_s
            yield f"Starting the AI process ({about(left)})…", left
            t0 = time.perf_counter()
            process.start()
            times.record(RUNTIME, time.perf_counter() - t0)
        elif process is None and not on_graph and "torch" not in sys.modules:
            left = times.estimate(RUNTIME) + model_s
            yield f"Loading the AI runtime ({about(left)}, first time only)…", left
            t0 = time.perf_counter()
            runtime.import_torch()
            times.record(RUNTIME, time.perf_counter() - t0)
        yield f"Loading the model ({about(model_s)}): {name}…", model_s
        t0 = time.perf_counter()
        AuditLog = load("medview.inference.audit").AuditLog
        model = analyze.open_model(entry, device, engine, in_worker=in_worker)
        if measure:
            yield f"Choosing the fastest engine for {name} (measured once on this PC)…", 0.0
        t1 = time.perf_counter()
        analyzer = analyze.Analyzer(model, audit=AuditLog(), device=device, engine=engine,
                                    precision=options["precision"], on_notice=notice,
                                    measure=measure, in_worker=in_worker)
        engine_s = time.perf_counter() - t1
        if not measure:
            times.record(MODEL, time.perf_counter() - t0, key)
    return analyzer, engine_s


def measure_job(worker, analyzer):
    """Pool thread, lowest priority: measure the engines and switch to the fastest."""
    from medview.analysis import runtime

    yield "measuring"
    with runtime.quiet_gc():
        return analyzer.measure_engine(cancelled=worker.is_cancelled)


def check_job(worker, frame, manifest):
    """Pool thread: decode and preprocess the image (no model, no engine)."""
    yield "Reading the image…"
    return load("medview.inference.analyze").prepare(frame, manifest)


def analyze_job(worker, analyzer, frame, explain: bool, layer: str | None, pre=None,
                 scope: dict | None = None):
    """Pool thread: one frame (its heat map for a classifier, if asked; the overlay
    layer the viewer will draw, so that a large image costs the GUI thread nothing).
    ``pre``: the frame checked and preprocessed already; ``scope``: the keywords of
    ``Analyzer.analyze`` about the model's declared input."""
    if pre is None:
        yield "Reading the image…"
        pre = load("medview.inference.analyze").prepare(frame, analyzer.manifest)
    yield f"Running {analyzer.manifest.name}…"
    result = analyzer.analyze(frame, pre, **(scope or {}))
    analysis = Analysis(result)
    if explain and result.task == "classification":
        analysis.heatmap_method = analyzer.heatmap_method
        yield f"Computing the heat map ({analysis.heatmap_method})…"
        names = list(analyzer.manifest.classes)
        target = result.label or max(result.probabilities, key=result.probabilities.get)
        t0 = time.perf_counter()
        analysis.heatmap = analyzer.explain(frame, names.index(target), pre)
        analysis.heatmap_class = target
        analysis.ms_heatmap = (time.perf_counter() - t0) * 1000.0
    if layer is not None:
        analysis.layer(layer)
    return analysis


def batch_job(worker, analyzer, job: BatchJob, cache: ResultCache):
    """Pool thread: every frame of a batch; yields ("total", n) then ("row", BatchRow)."""
    frames = job.frames
    if frames is None:
        load_paths = load("medview.core.io.folder").load_paths

        yield ("status", "Reading the files…")
        library = load_paths(job.paths, cancelled=worker.is_cancelled)
        frames = library.frames()
        yield ("skipped", list(library.skipped))
    yield ("total", len(frames))
    for i, frame in enumerate(frames):
        key = cache_key(frame, job.model)
        analysis = cache.get(key)
        cached = analysis is not None
        row = BatchRow(i, str(frame.path), frame.index + 1, frame.key, cached=cached)
        try:
            if analysis is None:
                analysis = Analysis(analyzer.analyze(
                    frame, accept_unknown_body_part=job.accept_unknown_body_part))
                cache.put(key, analysis)
        except Exception as err:  # noqa: BLE001 - one bad image never stops a batch
            row.error = failure_text(err)
        else:
            r = analysis.result
            row.label, row.probabilities = r.label, dict(r.probabilities)
            row.areas = dict(getattr(r, "areas", {}) or {})
            row.ms = r.ms
            row.provenance = {k: getattr(r, k) for k in (
                "model", "version", "engine", "device", "precision", "sop_instance_uid")}
            row.provenance["scope"] = r.scope.short()
            row.provenance["unlike_training"] = (r.familiarity.unlike_training
                                                 if r.familiarity is not None else "")
        yield ("row", row)
    return len(frames)


def engine_info(eng) -> dict:
    """What the GUI shows of an engine: name, device, precision, how it was chosen."""
    selection = getattr(eng, "selection", None) or {}
    return {"engine": eng.name, "device": eng.device, "precision": eng.precision,
            "describe": eng.describe(), "selection": selection.get("source", "")}
