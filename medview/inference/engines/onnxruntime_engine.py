"""ONNX Runtime engine (CPU execution provider only)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medview.core.imports import load
from medview.offline import disable_telemetry

from .base import Engine, EngineError


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
    """

    name = "onnxruntime"
    device = "cpu"
    precision = "fp32"

    def __init__(self, onnx_path: str | os.PathLike[str], input_shape: tuple[int, int, int],
                 task: str, *, threads: int = 0) -> None:
        ort = _ort()
        self.input_shape = tuple(int(v) for v in input_shape)  # type: ignore[assignment]
        self.task = task
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = max(0, int(threads))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3  # errors only
        try:
            self._session = ort.InferenceSession(
                str(Path(onnx_path)), sess_options=so, providers=["CPUExecutionProvider"]
            )
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
