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
  is slower than fp32. int8 is not offered: static quantisation needs calibration images
  representative of the model's data, which this layer does not have, and a check on
  random input would not show that int8 keeps the model's accuracy on real images.
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

from ..onnx_export import export_onnx  # noqa: E402
from .base import Engine, EngineError, cpu_identifier, physical_cores  # noqa: E402
from .factory import OOM_NOTICE, available_engines, create_engine, weights_fingerprint  # noqa: E402
from .precision import DICE_MINIMUM, PROB_TOLERANCE, Agreement, compare  # noqa: E402

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
    "disable_telemetry",
    "export_onnx",
    "physical_cores",
    "weights_fingerprint",
]
