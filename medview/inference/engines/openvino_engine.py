"""OpenVINO engine (CPU plugin), loaded from the ONNX export.

No telemetry, no network
------------------------
``import openvino`` imports its model-conversion tools (``openvino.tools.ovc``), which,
when the ``openvino-telemetry`` package is installed, send a usage event to Google
Analytics (from a child process on Linux) and write a client id under ``~/intel``.
:func:`import_openvino` first calls :func:`medview.offline.disable_telemetry`, which puts
``None`` in ``sys.modules["openvino_telemetry"]``: Python then treats that package as
missing and OpenVINO falls back to its built-in no-op stub
(``openvino.tools.ovc.telemetry_stub``). The model is read with the runtime's ONNX front
end (:meth:`openvino.Core.read_model`), which attaches no telemetry extension, never with
``convert_model``. A test runs this in a fresh process with an empty ``HOME`` and checks
that nothing is written there and that the telemetry package was never loaded.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from medview.core.imports import load
from medview.offline import disable_telemetry

from .base import Engine, EngineError
_core = None
_core_lock = threading.Lock()


def import_openvino():
    """Import OpenVINO with its telemetry disabled (see the module docstring).

    Returns
    -------
    module
        The ``openvino`` package.

    Raises
    ------
    ImportError
        If OpenVINO is not installed.
    """
    disable_telemetry()
    return load("openvino")


def core():
    """The process-wide :class:`openvino.Core` (created on first use)."""
    global _core
    with _core_lock:
        if _core is None:
            _core = import_openvino().Core()
        return _core


def openvino_version() -> str | None:
    """The OpenVINO runtime version, or None if it is not installed."""
    try:
        return import_openvino().get_version()
    except ImportError:
        return None


def cpu_bf16_supported() -> bool:
    """True when OpenVINO's CPU plugin can run bf16 natively here (AVX512-BF16 / AMX)."""
    try:
        caps = core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001 - no CPU plugin, no OpenVINO
        return False
    return "BF16" in [str(c).upper() for c in caps]


class OpenVINOEngine(Engine):
    """Run an ONNX file with OpenVINO's CPU plugin.

    The model is compiled for a static ``N×C×H×W`` (static shapes run about 5–10 % faster
    than a dynamic batch on the CPU plugin); a new batch size compiles once more and is
    kept (the last four sizes). Compile options: ``PERFORMANCE_HINT=LATENCY`` (one stream),
    ``INFERENCE_NUM_THREADS=threads`` and ``INFERENCE_PRECISION_HINT`` f32 or bf16.

    Parameters
    ----------
    onnx_path : path-like
        ONNX model written by :func:`medview.inference.onnx_export.export_onnx`.
    input_shape : tuple of int
        ``(C, H, W)``.
    task : str
        ``"classification"`` or ``"segmentation"``.
    precision : {"fp32", "bf16", "int8"}
        Inference precision. bf16 raises :class:`EngineError` if the CPU plugin would
        silently run f32 instead (no native bf16 on this CPU). int8 names a quantised
        (QDQ) graph: OpenVINO runs its quantised layers in int8 and the rest in f32.
    threads : int
        Inference threads; 0 lets OpenVINO pick.
    cache_dir : path-like, optional
        OpenVINO's model cache (``CACHE_DIR``): a model compiled once is read back from
        it, which cuts the next build from ~0.9 s to ~0.2 s for ResNet-18 (a one-image
        ``medview analyze`` pays the build every time).
    """

    name = "openvino"
    device = "cpu"
    _MAX_COMPILED = 4

    def __init__(self, onnx_path: str | os.PathLike[str], input_shape: tuple[int, int, int],
                 task: str, *, precision: str = "fp32", threads: int = 0,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        if precision not in ("fp32", "bf16", "int8"):
            raise ValueError(f"OpenVINO precision must be 'fp32', 'bf16' or 'int8', not {precision!r}")
        self.input_shape = tuple(int(v) for v in input_shape)  # type: ignore[assignment]
        self.task = task
        self.precision = precision
        self._config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        if threads > 0:
            self._config["INFERENCE_NUM_THREADS"] = int(threads)
        if cache_dir is not None:
            self._config["CACHE_DIR"] = str(cache_dir)
        try:
            self._model = core().read_model(str(Path(onnx_path)))
        except ImportError:  # OpenVINO not installed: let the caller see that plainly
            raise
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses
            raise EngineError(f"OpenVINO could not read {onnx_path}: {exc}") from exc
        self._compiled: dict[int, tuple[object, object]] = {}
        self._request(1)  # compile for batch 1 now, so errors surface here
        if precision == "bf16":
            actual = str(self._compiled[1][0].get_property("INFERENCE_PRECISION_HINT"))
            if "bf16" not in actual.lower() and "bfloat16" not in actual.lower():
                raise EngineError(f"OpenVINO runs {actual} here, not bf16 (no native bf16 on this CPU)")

    def _request(self, n: int):
        entry = self._compiled.get(n)
        if entry is None:
            model = self._model.clone()
            model.reshape({0: [n, *self.input_shape]})
            try:
                compiled = core().compile_model(model, "CPU", self._config)
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"OpenVINO could not compile the model: {exc}") from exc
            entry = (compiled, compiled.create_infer_request())
            if len(self._compiled) >= self._MAX_COMPILED:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[n] = entry
        return entry[1]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("engine is closed")
        request = self._request(batch.shape[0])
        request.infer({0: batch})
        # The output buffer belongs to the request and is reused by the next call.
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)

    def close(self) -> None:
        self._compiled.clear()
        self._model = None
