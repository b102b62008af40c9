"""``create_engine``: pick the device, the engine and the precision for one model."""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..onnx_export import DEFAULT_OPSET, export_onnx
from . import selection
from .base import DEVICES, ENGINE_NAMES, TASKS, Engine, EngineError, available_engines, physical_cores
from .torch_engine import TorchEngine
from .torch_engine import cpu_bf16_supported as torch_cpu_bf16_supported

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
OOM_NOTICE = "GPU out of memory: running on CPU"

Notice = Callable[[str], None]


# --------------------------------------------------------------------------- small helpers


def _cuda_available() -> bool:
    return torch.cuda.is_available()


def _cuda_device() -> torch.device:
    return torch.device("cuda")


def _is_cuda_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError):
        msg = str(exc)
        return "CUDA out of memory" in msg or "CUBLAS_STATUS_ALLOC_FAILED" in msg or "CUDNN_STATUS_ALLOC_FAILED" in msg
    return False


def weights_fingerprint(module: torch.nn.Module) -> str:
    """BLAKE2b of every parameter and buffer (names, dtypes, shapes and bytes).

    Part of the cache key, so a model whose weights change is measured and verified
    again even if its ``model_key`` did not change.
    """
    h = hashlib.blake2b(digest_size=16)
    for name, t in module.state_dict().items():
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _notifier(on_notice: Notice | None) -> Notice:
    def notice(message: str) -> None:
        log.warning("%s", message)
        if on_notice is not None:
            on_notice(message)

    return notice


class _OnnxFile:
    """Export the model to ONNX once per ``create_engine`` call, reusing a cached file.

    Files live in ``cache_dir/onnx`` named after the model key, the shape and a hash of the
    weights and torch version; exporting a new version deletes the older files of the same
    model key and shape. If the folder is not writable a temporary folder is used.
    """

    def __init__(self, module: torch.nn.Module, input_shape, model_key: str, fingerprint: str,
                 folder: Path | None) -> None:
        self.module = module
        self.input_shape = input_shape
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key)[:60] or "model"
        shape = "x".join(map(str, input_shape))
        digest = hashlib.sha1(f"{fingerprint}|{torch.__version__}|{DEFAULT_OPSET}".encode()).hexdigest()[:12]
        self.prefix = f"{slug}-{shape}-"
        self.name = f"{self.prefix}{digest}.onnx"
        self.folder = folder
        self._path: Path | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def path(self) -> Path:
        if self._path is not None:
            return self._path
        if self.folder is not None:
            target = self.folder / self.name
            if target.is_file() and target.stat().st_size > 0:
                self._path = target
                return target
            try:
                export_onnx(self.module, self.input_shape, target)
            except OSError as exc:
                log.info("cannot write %s (%s); exporting to a temporary folder", target, exc)
            else:
                for old in self.folder.glob(self.prefix + "*.onnx"):
                    if old != target:
                        old.unlink(missing_ok=True)
                self._path = target
                return target
        self._tmp = tempfile.TemporaryDirectory(prefix="medview-onnx-")
        self._path = export_onnx(self.module, self.input_shape, Path(self._tmp.name) / self.name)
        return self._path


# --------------------------------------------------------------------------- candidates


def _allows(precision: str, variant: str) -> bool:
    family = "fp32" if variant in ("fp32", "channels_last") else variant
    if precision == "auto":
        return family in ("fp32", "bf16")  # fp16 only where asked for (CUDA auto adds it)
    return family == precision


def _cpu_candidates(module: torch.nn.Module, input_shape, task: str, *, engine: str, precision: str,
                    threads: int, onnx: _OnnxFile) -> list[selection.Candidate]:
    """Every way to run the model on this CPU that the request allows (built lazily)."""
    avail = available_engines()
    out: list[selection.Candidate] = []

    def add(name: str, variant: str, build, is_reference: bool = False) -> None:
        if engine in ("auto", name) and _allows(precision, variant):
            out.append(selection.Candidate(name, variant, build, is_reference))

    add("torch", "fp32", lambda: TorchEngine(module, input_shape, task, variant="fp32", threads=threads), True)
    add("torch", "channels_last",
        lambda: TorchEngine(copy.deepcopy(module), input_shape, task, variant="channels_last", threads=threads))
    if precision in ("auto", "bf16") and torch_cpu_bf16_supported():
        add("torch", "bf16",
            lambda: TorchEngine(copy.deepcopy(module), input_shape, task, variant="bf16", threads=threads))
    if "onnxruntime" in avail:
        from .onnxruntime_engine import OnnxRuntimeEngine

        add("onnxruntime", "fp32", lambda: OnnxRuntimeEngine(onnx.path(), input_shape, task, threads=threads))
    if "openvino" in avail:
        from .openvino_engine import OpenVINOEngine
        from .openvino_engine import cpu_bf16_supported as ov_bf16

        ov_cache = onnx.folder.parent / "openvino" if onnx.folder is not None else None
        add("openvino", "fp32",
            lambda: OpenVINOEngine(onnx.path(), input_shape, task, precision="fp32", threads=threads,
                                   cache_dir=ov_cache))
        if precision in ("auto", "bf16") and engine in ("auto", "openvino") and ov_bf16():
            add("openvino", "bf16",
                lambda: OpenVINOEngine(onnx.path(), input_shape, task, precision="bf16", threads=threads,
                                       cache_dir=ov_cache))
    return out


def _cuda_candidates(module: torch.nn.Module, input_shape, task: str, *, precision: str,
                     torch_device: torch.device) -> list[selection.Candidate]:
    out = []
    variants = ["fp32", "fp16"]
    try:
        if torch.cuda.is_bf16_supported():
            variants.append("bf16")
    except (AssertionError, RuntimeError):
        pass
    for variant in variants:
        if precision == "auto" or precision == variant:
            def build(variant=variant):
                return TorchEngine(copy.deepcopy(module).to(torch_device), input_shape, task,
                                   variant=variant, torch_device=torch_device, device="cuda")
            out.append(selection.Candidate("torch", variant, build))
    return out


# --------------------------------------------------------------------------- selection


def _select(candidates: list[selection.Candidate], *, module, input_shape, task: str,
            key_fields: dict, cache: selection.EngineCache | None, reraise=(),
            measure: bool = True, cancelled=None) -> Engine:
    """:func:`selection.choose`, with fp32 torch as the reference when it is no candidate."""
    def reference(example: np.ndarray) -> np.ndarray:
        return TorchEngine(module, input_shape, task, variant="fp32", threads=physical_cores()).run(example)

    return selection.choose(candidates, input_shape=input_shape, task=task, key_fields=key_fields,
                            cache=cache, reference=reference, reraise=reraise, measure=measure,
                            cancelled=cancelled)


def _key_fields(*, model_key, fingerprint, input_shape, task, device, engine, precision, threads) -> dict:
    return selection.key_fields(model_key=model_key, fingerprint=fingerprint, input_shape=input_shape,
                                task=task, device=device, engine=engine, precision=precision,
                                threads=threads, versions=available_engines())


def _create_cpu(module, input_shape, *, task, model_key, engine, precision, cache_dir, notice,
                fingerprint, measure: bool = True, cancelled=None) -> Engine:
    threads = physical_cores()
    if precision == "fp16":
        notice("fp16 is not offered on CPU (no speed-up without native fp16); using fp32")
        precision = "fp32"
    onnx = _OnnxFile(module, input_shape, model_key, fingerprint, cache_dir / "onnx" if cache_dir else None)
    candidates = _cpu_candidates(module, input_shape, task, engine=engine, precision=precision,
                                 threads=threads, onnx=onnx)
    if not candidates:
        if precision == "bf16":
            notice("bf16 is not supported natively on this CPU; using fp32")
            return _create_cpu(module, input_shape, task=task, model_key=model_key, engine=engine,
                               precision="fp32", cache_dir=cache_dir, notice=notice, fingerprint=fingerprint,
                               measure=measure, cancelled=cancelled)
        raise EngineError(f"no CPU engine matches engine={engine!r}, precision={precision!r}")
    fields = _key_fields(model_key=model_key, fingerprint=fingerprint, input_shape=input_shape, task=task,
                         device="cpu", engine=engine, precision=precision, threads=threads)
    cache = selection.EngineCache(cache_dir / "engines.json") if cache_dir else None
    try:
        return _select(candidates, module=module, input_shape=input_shape, task=task,
                       key_fields=fields, cache=cache, measure=measure, cancelled=cancelled)
    except selection.NoCandidateError as exc:
        if precision != "fp32":
            notice(f"{precision} results are outside tolerance for this model; using fp32")
            return _create_cpu(module, input_shape, task=task, model_key=model_key, engine=engine,
                               precision="fp32", cache_dir=cache_dir, notice=notice, fingerprint=fingerprint,
                               measure=measure, cancelled=cancelled)
        notice(f"{engine} does not reproduce the model's results ({exc}); using torch")
        return _create_cpu(module, input_shape, task=task, model_key=model_key, engine="torch",
                           precision="fp32", cache_dir=cache_dir, notice=notice, fingerprint=fingerprint,
                           measure=measure, cancelled=cancelled)


class CudaFallbackEngine(Engine):
    """A CUDA engine that switches, for good, to a CPU engine on CUDA out-of-memory.

    The batch that ran out of memory is run again on the CPU, so the caller gets a result
    either way; the notice is sent once.
    """

    def __init__(self, primary: Engine, make_cpu: Callable[[], Engine], notice: Notice) -> None:
        self._current = primary
        self._make_cpu = make_cpu
        self._notice = notice
        self.fell_back = False
        self.input_shape = primary.input_shape
        self.task = primary.task

    name = property(lambda self: self._current.name)  # type: ignore[assignment]
    device = property(lambda self: self._current.device)  # type: ignore[assignment]
    precision = property(lambda self: self._current.precision)  # type: ignore[assignment]
    selection = property(lambda self: getattr(self._current, "selection", None))  # type: ignore[assignment]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        try:
            return self._current._run(batch)
        except Exception as exc:  # noqa: BLE001
            if self.fell_back or not _is_cuda_oom(exc):
                raise
        self._fall_back()
        return self._current._run(batch)

    def _fall_back(self) -> None:
        self.fell_back = True
        self._current.close()
        if _cuda_available():
            torch.cuda.empty_cache()
        self._notice(OOM_NOTICE)
        self._current = self._make_cpu()

    def close(self) -> None:
        self._current.close()


# --------------------------------------------------------------------------- public


def create_engine(
    module: torch.nn.Module,
    input_shape: tuple[int, int, int],
    *,
    task: str,
    model_key: str,
    device: str = "auto",
    engine: str = "auto",
    precision: str = "auto",
    cache_dir: Path | None = None,
    on_notice: Callable[[str], None] | None = None,
    measure: bool = True,
    cancelled: Callable[[], bool] | None = None,
) -> Engine:
    """Build the fastest engine for a model that reproduces its fp32 results.

    Parameters
    ----------
    module : torch.nn.Module
        The model with its weights loaded. It is put in eval mode and otherwise left as it
        is (variants that change memory layout or device work on copies).
    input_shape : tuple of int
        ``(C, H, W)`` of one preprocessed input image.
    task : {"classification", "segmentation"}
        Selects the tolerance check (probabilities vs. mask Dice).
    model_key : str
        Identifies the model (e.g. its id and version) in the engine cache; a fingerprint of
        the weights is added to it automatically.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: CUDA when torch sees a GPU (and ``engine`` is "auto" or "torch"),
        else CPU.
    engine : {"auto", "torch", "onnxruntime", "openvino"}
        ``"auto"`` on CPU measures every installed engine once and caches the fastest that
        agrees with fp32; on CUDA only torch is used (``device="cuda"`` with
        "onnxruntime"/"openvino" is a ValueError). An explicit engine still measures its
        own variants (torch: contiguous vs channels-last) and is still checked against fp32.
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``"auto"``: fp32, plus bf16 candidates where the CPU runs bf16 natively (and fp16/
        bf16 autocast on CUDA), each used only if within tolerance. An explicit bf16/fp16
        that is unsupported or outside tolerance falls back to fp32 with a notice. int8 is
        not offered (it needs calibration images; see the package docstring).
    cache_dir : pathlib.Path, optional
        Folder for ``engines.json`` and exported ONNX files; default
        ``platformdirs.user_cache_dir("medview")``.
    on_notice : callable, optional
        Receives one-line messages for the user (e.g. ``"GPU out of memory: running on
        CPU"``). Notices are also logged as warnings.
    measure : bool
        False: when no choice is cached for this model and machine, do not measure now:
        return the fp32 torch engine, which reproduces the model by definition (``source``
        "default"); a later call with True measures and caches. Where an explicitly
        requested engine excludes fp32 torch, it is measured anyway (it must be verified).
    cancelled : callable, optional
        Polled while measuring; True stops with ``selection.MeasureCancelled``.

    Returns
    -------
    Engine
        Its ``selection`` attribute says how it was chosen: ``{"source": "measured" |
        "cache" | "fixed" | "default", "choice": "engine:variant", "timings_ms": {...},
        "measure_s": float}``.

    Raises
    ------
    ValueError
        For an unknown task, device, engine or precision, or ``input_shape`` not ``(C, H, W)``.
    EngineError
        ``device="cuda"`` without a usable CUDA GPU; an engine that is not installed.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if engine not in ("auto", *ENGINE_NAMES):
        raise ValueError(f"unknown engine {engine!r}; expected one of auto, {', '.join(ENGINE_NAMES)}")
    if precision == "int8":
        raise ValueError("int8 is not offered: it needs calibration images from the model's own data; "
                         "use 'auto', 'fp32', 'bf16' or 'fp16'")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    if engine != "auto" and engine not in available_engines():
        raise EngineError(f"engine {engine!r} is not installed; available: {', '.join(available_engines())}")

    notice = _notifier(on_notice)
    cache_root = Path(cache_dir) if cache_dir is not None else selection.default_cache_dir()
    module.eval()
    fingerprint = weights_fingerprint(module)

    def make_cpu(engine: str = engine) -> Engine:
        return _create_cpu(module, shape, task=task, model_key=model_key, engine=engine,
                           precision="auto" if precision == "fp16" else precision,
                           cache_dir=cache_root, notice=notice, fingerprint=fingerprint,
                           measure=measure, cancelled=cancelled)

    # device="auto" with a CPU-only engine named explicitly means: that engine, on the CPU
    use_cuda = device == "cuda" or (device == "auto" and engine in ("auto", "torch") and _cuda_available())
    if device == "cuda" and not _cuda_available():
        raise EngineError(
            f"device='cuda' was requested but torch finds no usable CUDA GPU "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); "
            "use device='auto' or device='cpu'"
        )
    if not use_cuda:
        return make_cpu()
    if engine not in ("auto", "torch"):
        raise ValueError(f"on CUDA medview runs torch; engine={engine!r} is CPU-only (use device='cpu')")

    torch_device = _cuda_device()
    gpu = torch.cuda.get_device_name(torch_device) if torch_device.type == "cuda" else str(torch_device)
    fields = _key_fields(model_key=model_key, fingerprint=fingerprint, input_shape=shape, task=task,
                         device="cuda", engine="torch", precision=precision, threads=0)
    fields["gpu"] = gpu
    fields["cuda"] = torch.version.cuda
    candidates = _cuda_candidates(module, shape, task, precision=precision, torch_device=torch_device)
    if precision == "fp32" and len(candidates) == 1:
        candidates[0].is_reference = True  # exact same arithmetic family; no check needed
    cache = selection.EngineCache(cache_root / "engines.json")
    try:
        primary = _select(candidates, module=module, input_shape=shape, task=task,
                          key_fields=fields, cache=cache, reraise=(torch.cuda.OutOfMemoryError,),
                          measure=measure, cancelled=cancelled)
    except torch.cuda.OutOfMemoryError:
        if _cuda_available():
            torch.cuda.empty_cache()
        notice(OOM_NOTICE)
        return make_cpu(engine="auto")
    except selection.NoCandidateError as exc:
        notice(f"no CUDA configuration reproduces the model's results ({exc}); running on CPU")
        return make_cpu(engine="auto")
    return CudaFallbackEngine(primary, lambda: make_cpu(engine="auto"), notice)
