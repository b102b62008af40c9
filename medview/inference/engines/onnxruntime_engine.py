"""ONNX Runtime engine (CPU execution provider only)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from medview.core.imports import load
from medview.offline import disable_telemetry

from .base import Engine, EngineError, cpu_identifier

log = logging.getLogger(__name__)


def _ort():
    disable_telemetry()  # ORT_DISABLE_TELEMETRY=1 must be set before the library loads
    ort = load("onnxruntime")

    # Windows builds of ONNX Runtime log ETW telemetry events instead; switch those off too.
    try:
        ort.disable_telemetry_events()
    except AttributeError:  # pragma: no cover - very old or very new builds
        pass
    return ort


def ort_version() -> str | None:
    """The installed onnxruntime version, or None."""
    try:
        return _ort().__version__
    except ImportError:
        return None


class OnnxRuntimeEngine(Engine):
    """Run an ONNX file with ONNX Runtime's CPU execution provider.

    All graph optimisations are on; one inference runs at a time with ``threads``
    intra-op threads (one per physical core) and no inter-op parallelism, so it never
    oversubscribes the cores. Only ``CPUExecutionProvider`` is requested (never a remote
    provider such as ``AzureExecutionProvider``).

    Parameters
    ----------
    onnx_path : path-like
        The model, as written by :func:`medview.inference.onnx_export.export_onnx`.
    input_shape : tuple of int
        ``(C, H, W)``.
    task : str
        ``"classification"`` or ``"segmentation"``.
    threads : int
        Intra-op threads; 0 lets ONNX Runtime pick (its default is the physical cores).
    cache_dir : path-like, optional
        Where the graph, once optimised for this CPU and ONNX Runtime version, is kept;
        later sessions load it with no optimisation to do: for ResNet-18 the session's
        peak memory halves (~230 → ~110 MB) and it starts faster. Without it every
        session optimises the graph again.
    precision : {"fp32", "int8"}
        What the graph computes in: ``"int8"`` for a quantised (QDQ) graph
        (:mod:`medview.inference.quantize`). A label: the graph decides the arithmetic.
    """

    name = "onnxruntime"
    device = "cpu"
    precision = "fp32"

    def __init__(self, onnx_path: str | os.PathLike[str], input_shape: tuple[int, int, int],
                 task: str, *, threads: int = 0,
                 cache_dir: str | os.PathLike[str] | None = None, precision: str = "fp32") -> None:
        ort = _ort()
        self.precision = precision
        self.input_shape = tuple(int(v) for v in input_shape)  # type: ignore[assignment]
        self.task = task
        so = ort.SessionOptions()
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = max(0, int(threads))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3  # errors only
        source = Path(onnx_path)
        optimised = _optimised_path(source, Path(cache_dir), ort.__version__) if cache_dir else None
        try:
            self._session = _session(ort, so, source, optimised)
        except Exception as exc:  # ORT raises its own exception types
            raise EngineError(f"ONNX Runtime could not load {onnx_path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise RuntimeError("engine is closed")
        # Only the logits: a graph's further outputs (class maps) are computed on demand.
        return self._session.run([self._output], {self._input: batch})[0]

    @property
    def output_names(self) -> tuple[str, ...]:
        """The graph's outputs, in order (the first is the logits)."""
        return tuple(o.name for o in self._session.get_outputs())

    def run_all(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output of the graph for ``batch`` (checked as :meth:`run` checks it),
        e.g. the logits and the class activation maps (:mod:`medview.inference.cam`)."""
        batch = self.checked(batch)
        if self._session is None:
            raise RuntimeError("engine is closed")
        with self.lock:
            outputs = self._session.run(None, {self._input: batch})
        return [np.asarray(o, np.float32) for o in outputs]

    def close(self) -> None:
        self._session = None


def _optimised_path(source: Path, folder: Path, version: str) -> Path:
    """Where ``source`` optimised for this CPU and ONNX Runtime version is kept."""
    stat = source.stat()
    key = f"{stat.st_size}|{stat.st_mtime_ns}|{version}|{cpu_identifier()}"
    return folder / f"{_digest(str(source.resolve()))[:12]}-{_digest(key)[:16]}.onnx"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _session(ort, so, source: Path, optimised: Path | None):
    """A session on ``source``: from its optimised copy where there is one (nothing left to
    optimise), else optimising it now and keeping the result there (best effort)."""
    level = ort.GraphOptimizationLevel
    if optimised is not None and optimised.is_file():
        so.graph_optimization_level = level.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(optimised), sess_options=so,
                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a damaged copy: remake it
            log.info("optimised graph %s unusable (%s); optimising again", optimised, exc)
            optimised.unlink(missing_ok=True)
    so.graph_optimization_level = level.ORT_ENABLE_ALL
    tmp = None
    if optimised is not None:
        try:
            optimised.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{optimised.name}.", dir=optimised.parent)
            os.close(fd)
            so.optimized_model_filepath = tmp
        except OSError as exc:
            log.info("cannot keep the optimised graph in %s: %s", optimised.parent, exc)
    try:
        session = ort.InferenceSession(str(source), sess_options=so,
                                       providers=["CPUExecutionProvider"])
        if tmp is not None and os.path.getsize(tmp) > 0:
            os.replace(tmp, optimised)  # complete before it is visible
            tmp = None
            prefix = optimised.name.split("-")[0]
            for old in optimised.parent.glob(f"{prefix}-*.onnx"):  # of an older graph
                if old != optimised:
                    old.unlink(missing_ok=True)
        return session
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
