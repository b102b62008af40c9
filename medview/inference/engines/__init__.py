"""Inference engines: run a model with torch, ONNX Runtime or OpenVINO, whichever is fastest.

Usage::

    from medview.inference.engines import create_engine

    engine = create_engine(model, (3, 224, 224), task="classification",
                           model_key="chest-xray-v3", on_notice=status_bar.show)
    logits = engine.run(batch)          # float32 N×C×H×W -> float32 N×K (or N×K×H×W)

How the engine is chosen
------------------------
* **Device.** ``device="auto"`` uses CUDA when torch sees a GPU, otherwise the CPU. On
  CUDA the model runs in torch (fp32, or fp16/bf16 autocast when within tolerance); if
  the GPU runs out of memory — while building or at any ``run`` — medview switches to a
  CPU engine for good and sends the notice ``"GPU out of memory: running on CPU"``.
* **Engine on CPU.** The first time a model is loaded on a machine, each installed
  candidate — torch eager fp32, torch channels-last, ONNX Runtime (all graph
  optimisations, one thread per physical core), OpenVINO CPU (latency hint; plus bf16
  where the CPU has native bf16) — is run on a fixed random input and compared with the
  torch fp32 output; candidates outside tolerance are dropped, the rest are timed
  round-robin, and the fastest is kept. The choice is cached in ``engines.json``
  (see :mod:`.selection`), so later loads skip measuring. About 2–4 s for ResNet-18 at
  224 px on two cores (export to ONNX included). ``measure=False`` never waits for it:
  without a cached choice it returns fp32 torch (the reference itself, no check needed),
  and a later ``measure=True`` call — the GUI makes it in the background, when idle —
  measures and caches (``cancelled`` stops it between candidates and rounds).
* **Precision.** bf16/fp16 are used only where the outputs stay within tolerance of the
  fp32 model (:mod:`.precision`: probabilities ``|Δ| ≤ 0.02``; mask Dice ``≥ 0.99``), and
  bf16 on CPU only where the hardware runs it natively (AVX512-BF16 / AMX); otherwise it
  is slower than fp32. int8 runs only a model's own int8 graph, made at registration with
  calibration images and checked on its labelled test images
  (:mod:`medview.inference.quantize`; a check on random input could not show that int8
  keeps the model's accuracy), and is offered automatically only on CPUs with VNNI
  (:func:`create_graph_engine`).
* **Out of process.** The GUI never imports torch: where a model runs in torch (a CUDA
  GPU that torch can use, asked once by :mod:`.cuda_probe`, or torch chosen by name) it
  runs in the inference process (:class:`.process_engine.ProcessEngine`), which builds
  the engine with ``create_engine`` as described here.
* **Threads.** torch, ONNX Runtime and OpenVINO each get one thread per physical core
  and only one engine runs at a time, so two cores are never oversubscribed.
* **Offline.** Nothing here touches the network. Importing this package switches off the
  telemetry of ONNX Runtime (``ORT_DISABLE_TELEMETRY=1``; it would otherwise upload usage
  events to Microsoft from Linux too) and of OpenVINO (its telemetry package is blocked)
  before either library is imported — see :mod:`medview.offline`. ONNX Runtime uses only its CPU
  provider.
"""

from __future__ import annotations

from medview.offline import disable_telemetry

disable_telemetry()  # before anything below can import onnxruntime or openvino

from .base import (Engine, EngineError, available_engines, cpu_identifier,  # noqa: E402
                   physical_cores)
from .graph_factory import create_graph_engine  # noqa: E402
from .precision import DICE_MINIMUM, PROB_TOLERANCE, Agreement, compare  # noqa: E402

# These need torch: imported on first use, so that running a model's ONNX graph
# (create_graph_engine) never loads it.
_TORCH_NAMES = {"create_engine": "medview.inference.engines.factory",
                "weights_fingerprint": "medview.inference.engines.factory",
                "OOM_NOTICE": "medview.inference.engines.factory",
                "export_onnx": "medview.inference.onnx_export"}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from medview.core.imports import load

        return getattr(load(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DICE_MINIMUM",
    "OOM_NOTICE",
    "PROB_TOLERANCE",
    "Agreement",
    "Engine",
    "EngineError",
    "available_engines",
    "compare",
    "cpu_identifier",
    "create_engine",
    "create_graph_engine",
    "disable_telemetry",
    "export_onnx",
    "physical_cores",
    "weights_fingerprint",
]
