"""Inference speed: torch, ONNX Runtime, OpenVINO and medview's automatic choice, in one run.

For ResNet-18 @224, DenseNet-121 @224 and FPN (ResNet-34 encoder) @512 at batch 1, with
random weights (weights do not change speed), it prints the median latency of

* torch eager fp32, torch channels-last fp32,
* ONNX Runtime (CPU provider, all graph optimisations, one thread per physical core),
* OpenVINO CPU fp32 and, where the CPU runs bf16 natively, OpenVINO bf16 (marked),
* medview's default engine, ``create_engine(..., engine="auto")`` with a fresh cache
  folder (its one-off measuring time is printed separately),

and medview's ratio to the fastest (target ≤ 1.1). All engines of a model are timed
round-robin (a short block of each per round, the run after a switch untimed), so load
from other programs hits them alike.

int8: for each shipped model with an int8 graph (kept at quantisation,
:mod:`medview.inference.quantize`) it times the fp32 peers (torch eager and channels-last,
ONNX Runtime, OpenVINO; OpenVINO bf16 where native) beside ONNX Runtime int8, OpenVINO
int8 and medview's default as analysis runs it (``create_graph_engine``, fresh cache), and
prints medview's ratio to the fastest fp32 peer (target ≤ 0.6) with the accuracy change
the int8 graph showed on the model's labelled test set (recorded in its manifest by
``scripts/quantize_demo_models.py``).
``--openvino-avx2`` limits OpenVINO to AVX2 (oneDNN's ``ONEDNN_MAX_CPU_ISA``: no AVX-512,
VNNI, bf16 or AMX), showing on a VNNI machine what int8 gives an AVX2-only CPU; ONNX
Runtime and torch still use the whole CPU. When CUDA is available it also prints torch
CUDA fp32/fp16/bf16 timings and medview's CUDA choice.

Usage::

    .venv/bin/python bench/inference.py            # everything (~2 min on 2 idle cores)
    .venv/bin/python bench/inference.py --quick    # fewer rounds
    .venv/bin/python bench/inference.py --int8     # only the shipped models, fp32 vs int8
    .venv/bin/python bench/inference.py --int8 --openvino-avx2
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from medview.inference.engines import (  # noqa: E402
    available_engines,
    compare,
    cpu_identifier,
    create_engine,
    physical_cores,
)
from medview.inference.engines.onnxruntime_engine import OnnxRuntimeEngine  # noqa: E402
from medview.inference.engines.openvino_engine import OpenVINOEngine  # noqa: E402
from medview.inference.engines.openvino_engine import cpu_bf16_supported as ov_bf16_supported  # noqa: E402
from medview.inference.engines.torch_engine import TorchEngine  # noqa: E402
from medview.inference.engines.selection import timed_block  # noqa: E402
from medview.inference.onnx_export import export_onnx  # noqa: E402

# The reference numbers on this machine (ms): eager / channels_last / ORT / OV f32 / OV bf16
REFERENCE = {
    "ResNet-18 @224": (91, 37, 22, 34, 12),
    "FPN-ResNet34 @512": (790, 860, 361, 296, 167),
}


def build_models():
    import segmentation_models_pytorch as smp
    import torchvision

    return [
        ("ResNet-18 @224", "classification", (3, 224, 224),
         lambda: torchvision.models.resnet18(weights=None)),
        ("DenseNet-121 @224", "classification", (3, 224, 224),
         lambda: torchvision.models.densenet121(weights=None)),
        ("FPN-ResNet34 @512", "segmentation", (3, 512, 512),
         lambda: smp.FPN("resnet34", encoder_weights=None, classes=2)),
    ]


def round_robin(fns: dict, x: np.ndarray, rounds: int, warmup: int = 2, budget_s: float = 60.0,
                min_rounds: int = 5, block: int = 4) -> tuple[dict[str, float], int]:
    """Median ms per function (and the runs timed of each): each round times a block of ``block``
    back-to-back runs of each, in rotating order.

    As medview's engine selection times them (``selection.timed_block``): the run after a
    switch is not timed, since the previous engine's threads may still be spinning (timed
    one run each per round, an engine after ONNX Runtime measured up to 2x slower than
    alone). Stops early (after at least ``min_rounds``) once ``budget_s`` is spent, so a
    heavily loaded machine still finishes in a few minutes.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn(x)
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    t0 = time.perf_counter()
    for r in range(rounds):
        if r >= min_rounds and time.perf_counter() - t0 > budget_s:
            break
        shift = r % len(names)  # rotate so no engine always runs right after another
        for name in names[shift:] + names[:shift]:
            times[name].extend(timed_block(fns[name], x, block))
    medians = {k: 1000.0 * statistics.median(v) for k, v in times.items()}
    return medians, len(next(iter(times.values())))


def bench_model(title, task, shape, make, rounds, budget_s, workdir: Path, show):
    torch.manual_seed(0)
    module = make().eval()
    x = np.random.default_rng(1).standard_normal((1, *shape)).astype(np.float32)
    threads = physical_cores()
    onnx_path = workdir / f"{title.split()[0]}.onnx"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(module, shape, onnx_path)
    export_s = time.perf_counter() - t0

    engines = {
        "torch eager fp32": TorchEngine(module, shape, task, variant="fp32", threads=threads),
        "torch channels_last": TorchEngine(copy.deepcopy(module), shape, task, variant="channels_last",
                                           threads=threads),
    }
    avail = available_engines()
    if "onnxruntime" in avail:
        engines["onnxruntime"] = OnnxRuntimeEngine(onnx_path, shape, task, threads=threads)
    if "openvino" in avail:
        engines["openvino fp32"] = OpenVINOEngine(onnx_path, shape, task, precision="fp32", threads=threads)
        if ov_bf16_supported() and "ONEDNN_MAX_CPU_ISA" not in os.environ:
            engines["openvino bf16 [bf16]"] = OpenVINOEngine(onnx_path, shape, task, precision="bf16",
                                                            threads=threads)

    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=workdir))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = create_engine(module, shape, task=task, model_key=f"bench-{title}", device="cpu",
                             cache_dir=cache)
    create_s = time.perf_counter() - t0
    chosen = auto.selection["choice"]
    medview_label = f"medview default (= {chosen})"
    engines[medview_label] = auto

    ref = engines["torch eager fp32"].run(x)
    checks = {k: compare(ref, e.run(x), task) for k, e in engines.items()}
    ms, done = round_robin({k: e.run for k, e in engines.items()}, x, rounds, budget_s=budget_s,
                           min_rounds=5 if shape[-1] <= 224 else 3)

    fastest = min(v for k, v in ms.items() if k != medview_label)
    show(f"\n== {title}  ({task}, batch 1, median of {done} runs, round-robin blocks; ONNX export {export_s:.1f} s)")
    show(f"  {'engine':<44} {'median ms':>10} {'× fastest':>10}   agreement with torch fp32")
    for k, v in ms.items():
        show(f"  {k:<44} {v:>10.1f} {v / fastest:>10.2f}   {checks[k].detail}")
    same_kind = {"torch:fp32": "torch eager fp32", "torch:channels_last": "torch channels_last",
                 "onnxruntime:fp32": "onnxruntime", "openvino:fp32": "openvino fp32",
                 "openvino:bf16": "openvino bf16 [bf16]"}.get(chosen)
    if same_kind in ms:
        show(f"  medview chose {same_kind!r}: that engine's row is {ms[same_kind] / fastest:.2f} × fastest "
             "(the two rows differ only by timing noise)")
    show(f"  medview: ratio to fastest {ms[medview_label] / fastest:.2f} (target ≤ 1.1); "
         f"one-off measuring {auto.selection['measure_s']:.1f} s (create_engine total {create_s:.1f} s, "
         "export included); its own timings: "
         + ", ".join(f"{k} {v:.1f}" for k, v in auto.selection["timings_ms"].items()))
    if not any("bf16" in k for k in ms):
        show("  openvino bf16: not run — this CPU has no native bf16 (OpenVINO would silently run f32)")
    t0 = time.perf_counter()
    again = create_engine(module, shape, task=task, model_key=f"bench-{title}", device="cpu", cache_dir=cache)
    show(f"  second create_engine: {time.perf_counter() - t0:.2f} s from the cache "
         f"(source={again.selection['source']}, {again.describe()})")
    if title in REFERENCE:
        e, c, o, v, b = REFERENCE[title]
        show(f"  issue's reference here: eager {e} / channels_last {c} / ORT {o} / OV f32 {v} / OV bf16 {b} ms")
    for eng in engines.values():
        eng.close()
    again.close()

    if torch.cuda.is_available():
        bench_cuda(title, task, shape, module, x, rounds, cache, show)


def bench_cuda(title, task, shape, module, x, rounds, cache, show):
    dev = torch.device("cuda")
    variants = ["fp32", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    engines = {f"torch cuda {v}": TorchEngine(copy.deepcopy(module).to(dev), shape, task, variant=v,
                                              torch_device=dev) for v in variants}
    auto = create_engine(module, shape, task=task, model_key=f"bench-{title}", device="cuda", cache_dir=cache)
    engines[f"medview cuda default (= {auto.selection['choice'] if auto.selection else auto.describe()})"] = auto
    ref = TorchEngine(module, shape, task, variant="fp32").run(x)
    ms, _ = round_robin({k: e.run for k, e in engines.items()}, x, rounds * 2, warmup=5, budget_s=20.0)
    show(f"  -- CUDA ({torch.cuda.get_device_name(0)}), includes host<->device copies")
    for k, v in ms.items():
        show(f"  {k:<44} {v:>10.2f}   {compare(ref, engines[k].run(x), task).detail}")
    for eng in engines.values():
        eng.close()


def bench_int8(rounds: int, budget_s: float, workdir: Path, show) -> None:
    """fp32 peers vs int8 on the shipped models that carry an int8 graph."""
    from medview.inference.engines import create_graph_engine
    from medview.inference.engines.base import cpu_has_vnni, verification_input
    from medview.inference.registry import Registry

    show(f"\n== int8 (shipped models; this CPU {'has' if cpu_has_vnni() else 'has no'} VNNI)")
    for entry in Registry().available():
        m = entry.manifest
        if entry.int8_path is None:
            continue
        shape, task, threads = m.input_shape, m.task, physical_cores()
        module = Registry().load(entry.name, entry.version).module
        engines = {
            "torch eager fp32": TorchEngine(module, shape, task, variant="fp32", threads=threads),
            "torch channels_last": TorchEngine(copy.deepcopy(module), shape, task, variant="channels_last",
                                               threads=threads),
            "onnxruntime fp32": OnnxRuntimeEngine(entry.graph_path, shape, task, threads=threads),
            "openvino fp32": OpenVINOEngine(entry.graph_path, shape, task, precision="fp32", threads=threads),
        }
        fp32_peers = list(engines)
        if ov_bf16_supported() and "ONEDNN_MAX_CPU_ISA" not in os.environ:
            engines["openvino bf16"] = OpenVINOEngine(entry.graph_path, shape, task, precision="bf16",
                                                      threads=threads)
        engines["onnxruntime int8"] = OnnxRuntimeEngine(entry.int8_path, shape, task, threads=threads,
                                                        precision="int8")
        engines["openvino int8"] = OpenVINOEngine(entry.int8_path, shape, task, precision="int8",
                                                  threads=threads)
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=workdir))
        auto = create_graph_engine(entry.graph_path, shape, task=task, model_key=f"bench-{m.key}",
                                   graph_sha256=m.onnx.sha256, int8_graph=entry.int8_path,
                                   int8_sha256=m.int8.sha256, cache_dir=cache)
        label = f"medview default (= {auto.selection['choice']})"
        engines[label] = auto
        x = verification_input(shape)
        ms, done = round_robin({k: e.run for k, e in engines.items()}, x, rounds, budget_s=budget_s)
        fastest_fp32 = min(ms[k] for k in fp32_peers)
        fastest = min(v for k, v in ms.items() if k != label)
        show(f"\n  {m.key} ({task}, {'×'.join(map(str, shape))}, batch 1, median of {done} runs)")
        show(f"  {'engine':<44} {'median ms':>10} {'× fastest fp32':>15}")
        for k, v in ms.items():
            show(f"  {k:<44} {v:>10.1f} {v / fastest_fp32:>15.2f}")
        spec = m.int8
        name = "AUC" if spec.metric == "auc" else "Dice"
        show(f"  medview: ratio to the fastest fp32 peer {ms[label] / fastest_fp32:.2f} (target ≤ 0.6); "
             f"to the fastest of all {ms[label] / fastest:.2f}; one-off measuring {auto.selection['measure_s']:.1f} s")
        show(f"  accuracy on the labelled test set ({spec.test_images} images, calibrated on "
             f"{spec.calibration_images}): {name} {spec.fp32:.4f} fp32 → {spec.int8:.4f} int8 "
             f"(change {spec.int8 - spec.fp32:+.4f}); max |Δp| {spec.max_probability_delta:.3g}; "
             f"label changes {spec.label_changes}")
        for eng in engines.values():
            eng.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing rounds")
    parser.add_argument("--int8", action="store_true", help="only the shipped models: fp32 vs int8")
    parser.add_argument("--openvino-avx2", action="store_true",
                        help="limit OpenVINO to AVX2 (as on a CPU without VNNI)")
    args = parser.parse_args(argv)
    if args.openvino_avx2:  # read by oneDNN when OpenVINO's CPU plugin loads
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    show = print
    t_all = time.perf_counter()
    show("medview inference benchmark")
    show(f"  CPU: {cpu_identifier()}; threads per engine: {physical_cores()}")
    show(f"  python {platform.python_version()}; " + ", ".join(f"{k} {v}" for k, v in available_engines().items()))
    show(f"  CUDA available: {torch.cuda.is_available()}"
         + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
    if args.openvino_avx2:
        show("  OpenVINO limited to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2); ONNX Runtime and torch use the whole CPU")
    show(f"  load average at start: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")
    with tempfile.TemporaryDirectory(prefix="medview-bench-") as tmp:
        for title, task, shape, make in ([] if args.int8 else build_models()):
            fast = shape[-1] <= 224
            rounds = (10 if fast else 4) if args.quick else (30 if fast else 8)
            budget = 15.0 if fast else 30.0  # seconds of timed rounds; caps a loaded machine
            bench_model(title, task, shape, make, rounds, budget, Path(tmp), show)
        bench_int8(10 if args.quick else 30, 20.0, Path(tmp), show)
    show(f"\ntotal {time.perf_counter() - t_all:.0f} s"
         + (f"; load average at end: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
