"""``create_graph_engine``: run a model's ONNX graph on the CPU, without torch.

A registered model carries its ONNX graph, checked against the torch fp32 network when it
was made (:mod:`medview.inference.graph`). Here that graph runs in ONNX Runtime or
OpenVINO: fp32 ONNX Runtime is the reference (the arithmetic that was checked), and the
other candidates (OpenVINO fp32, and OpenVINO bf16 where the CPU runs bf16 natively) are
used only where they agree with it within the tolerances of :mod:`.precision`. The choice
is measured once per machine and cached in ``engines.json``, as for
:func:`~medview.inference.engines.create_engine`.

A model with an int8 graph (kept at registration because it kept the test metric and the
probabilities, :mod:`medview.inference.quantize`) adds ONNX Runtime int8 and OpenVINO
int8 to the candidates; they are timed with the others and win where they are faster.
Their check on the random verification input is recorded but does not drop them: they
were checked on the model's labelled test images instead. ``precision="auto"`` offers
them only on CPUs with VNNI (:func:`~.base.cpu_has_vnni`), whose int8 sums cannot
saturate; elsewhere only an explicit ``precision="int8"`` runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import selection
from .base import (TASKS, Engine, EngineError, available_engines, cpu_has_bf16, cpu_has_vnni,
                   physical_cores)

log = logging.getLogger(__name__)

GRAPH_ENGINES = ("onnxruntime", "openvino")


def create_graph_engine(
    graph: str | Path,
    input_shape: tuple[int, int, int],
    *,
    task: str,
    model_key: str,
    graph_sha256: str,
    engine: str = "auto",
    precision: str = "auto",
    cache_dir: Path | None = None,
    on_notice: Callable[[str], None] | None = None,
    measure: bool = True,
    cancelled: Callable[[], bool] | None = None,
    int8_graph: str | Path | None = None,
    int8_sha256: str = "",
    runs: int | None = None,
) -> Engine:
    """The fastest CPU engine for an ONNX graph that reproduces its fp32 results.

    Parameters
    ----------
    graph : path-like
        The model's ONNX file (first output: the logits).
    input_shape : tuple of int
        ``(C, H, W)`` of one preprocessed input image.
    task : {"classification", "segmentation"}
    model_key : str
        Identifies the model in the engine cache (with ``graph_sha256``).
    graph_sha256 : str
        The graph's SHA-256 (from the manifest): a new graph is measured again.
    engine : {"auto", "onnxruntime", "openvino"}
    precision : {"auto", "fp32", "bf16", "fp16", "int8"}
        fp16 is not offered on the CPU (fp32 with a notice); bf16 only where native;
        int8 only with ``int8_graph`` (else fp32 with a notice).
    cache_dir : pathlib.Path, optional
        Folder of ``engines.json``, of the graph optimised by ONNX Runtime
        (``onnxruntime/``) and of OpenVINO's compiled models (``openvino/``); default
        ``platformdirs.user_cache_dir("medview")``.
    on_notice : callable, optional
        Receives one-line notices for the user (also logged).
    measure : bool
        False: without a cached choice, return fp32 ONNX Runtime at once (``source``
        "default"); a later call with True measures and caches.
    cancelled : callable, optional
        Polled while measuring; True stops with ``selection.MeasureCancelled``.
    int8_graph : path-like, optional
        The model's int8 graph, where it has one.
    int8_sha256 : str
        Its SHA-256 (part of the cache key, like ``graph_sha256``).
    runs : int, optional
        How many inputs this engine will run, when known and few (``medview analyze``):
        from a cached measurement, the engine with the least build + ``runs`` × run time
        is built instead of the fastest per run (:func:`selection.choose`).

    Raises
    ------
    ValueError
        For an unknown task, engine or precision.
    EngineError
        When no requested engine is installed or none can load the graph.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if engine not in ("auto", *GRAPH_ENGINES):
        raise ValueError(f"a model's graph runs in {' or '.join(GRAPH_ENGINES)}, not {engine!r}")
    if precision not in ("auto", "fp32", "bf16", "fp16", "int8"):
        raise ValueError(f"unknown precision {precision!r}; expected auto, fp32, bf16, fp16 or int8")
    if precision == "fp16":
        _notice(on_notice, "fp16 is not offered on CPU (no speed-up without native fp16); using fp32")
        precision = "fp32"
    if precision == "int8" and int8_graph is None:
        _notice(on_notice, "this model has no int8 graph (not quantised, or refused); using fp32")
        precision = "fp32"
    shape = tuple(int(v) for v in input_shape)
    threads = physical_cores()
    root = Path(cache_dir) if cache_dir is not None else selection.default_cache_dir()
    every = _candidates(Path(graph), shape, task, precision, threads, root)
    if int8_graph is not None and precision == "auto" and not cpu_has_vnni():
        log.info("int8 graph not offered: this CPU has no VNNI (int8 sums could saturate)")
    elif int8_graph is not None:
        every += _int8_candidates(Path(int8_graph), shape, task, threads, root)
    candidates = _allowed(every, engine, precision)
    if not candidates and precision == "bf16" and _allowed(every, engine, "fp32"):
        _notice(on_notice, "bf16 is not supported natively on this CPU; using fp32")
        precision = "fp32"
        candidates = _allowed(every, engine, precision)
    if not candidates:
        raise EngineError(f"engine {engine!r} cannot run an ONNX graph here; installed: "
                          f"{', '.join(available_engines()) or 'none'}")
    fingerprint = f"onnx:{graph_sha256}" + (f"+int8:{int8_sha256}" if int8_graph is not None else "")
    fields = selection.key_fields(model_key=model_key, fingerprint=fingerprint,
                                  input_shape=shape, task=task, device="cpu", engine=engine,
                                  precision=precision, threads=threads,
                                  versions=available_engines())
    reference = every[0]

    def reference_output(example: np.ndarray) -> np.ndarray:
        eng = reference.build()
        try:
            return eng.run(example)
        finally:
            eng.close()

    return selection.choose(candidates, input_shape=shape, task=task, key_fields=fields,
                            cache=selection.EngineCache(root / "engines.json"),
                            reference=reference_output, measure=measure, cancelled=cancelled,
                            runs=runs)


def _candidates(graph: Path, shape, task: str, precision: str, threads: int,
                cache: Path) -> list[selection.Candidate]:
    """Every way to run the graph here (built lazily); the first, fp32 ONNX Runtime or else
    fp32 OpenVINO, is the reference. Each engine keeps what it compiles under ``cache``."""
    ov_cache = cache / "openvino"
    avail = available_engines()
    out: list[selection.Candidate] = []
    if "onnxruntime" in avail:
        from .onnxruntime_engine import OnnxRuntimeEngine

        out.append(selection.Candidate("onnxruntime", "fp32", lambda: OnnxRuntimeEngine(
            graph, shape, task, threads=threads, cache_dir=cache / "onnxruntime")))
    if "openvino" in avail:
        from .openvino_engine import OpenVINOEngine, cpu_bf16_supported

        out.append(selection.Candidate("openvino", "fp32", lambda: OpenVINOEngine(
            graph, shape, task, precision="fp32", threads=threads, cache_dir=ov_cache)))
        native = cpu_has_bf16()
        if precision in ("auto", "bf16") and (cpu_bf16_supported() if native is None else native):
            out.append(selection.Candidate("openvino", "bf16", lambda: OpenVINOEngine(
                graph, shape, task, precision="bf16", threads=threads, cache_dir=ov_cache)))
    if out:
        out[0].is_reference = True
    return out


def _int8_candidates(graph: Path, shape, task: str, threads: int,
                     cache: Path) -> list[selection.Candidate]:
    """ONNX Runtime and OpenVINO on the int8 (QDQ) graph: both run it in integer arithmetic."""
    avail = available_engines()
    out: list[selection.Candidate] = []
    if "onnxruntime" in avail:
        from .onnxruntime_engine import OnnxRuntimeEngine

        out.append(selection.Candidate("onnxruntime", "int8", lambda: OnnxRuntimeEngine(
            graph, shape, task, threads=threads, cache_dir=cache / "onnxruntime",
            precision="int8"), prechecked=True))
    if "openvino" in avail:
        from .openvino_engine import OpenVINOEngine

        out.append(selection.Candidate("openvino", "int8", lambda: OpenVINOEngine(
            graph, shape, task, precision="int8", threads=threads,
            cache_dir=cache / "openvino"), prechecked=True))
    return out


def _allowed(candidates: list[selection.Candidate], engine: str,
             precision: str) -> list[selection.Candidate]:
    return [c for c in candidates if engine in ("auto", c.engine)
            and precision in ("auto", c.variant)]


def _notice(on_notice, message: str) -> None:
    log.warning("%s", message)
    if on_notice is not None:
        on_notice(message)
