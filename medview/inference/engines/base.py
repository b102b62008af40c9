"""The engine interface and the small machine facts the engines share.

An :class:`Engine` runs one model on one device at one precision. Every engine takes the
same input (a float32 ``N×C×H×W`` array whose ``C×H×W`` is the shape the engine was built
for) and returns the model's raw output as float32: ``N×K`` logits for classification,
``N×K×H×W`` logits for segmentation. Probabilities, masks and thresholds are the caller's
business, so all engines are interchangeable.
"""

from __future__ import annotations

import abc
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import threading
from functools import lru_cache

import numpy as np

from medview.core.errors import MedviewError

TASKS = ("classification", "segmentation")
DEVICES = ("auto", "cpu", "cuda")
ENGINE_NAMES = ("torch", "onnxruntime", "openvino")
#: fixed seed of the verification input (standard normal, like normalised images)
VERIFY_SEED = 20240531
_DISTRIBUTIONS = {
    "torch": ("torch",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino"),
    "openvino": ("openvino",),
}


class EngineError(MedviewError, RuntimeError):
    """An engine could not be built or run (the message says which and why)."""


class Engine(abc.ABC):
    """One model, ready to run on one device at one precision.

    Attributes
    ----------
    name : str
        ``"torch"``, ``"onnxruntime"`` or ``"openvino"``.
    device : str
        ``"cpu"`` or ``"cuda"``.
    precision : str
        What the arithmetic really is: ``"fp32"``, ``"channels_last-fp32"`` (torch, NHWC
        memory layout, fp32 maths), ``"bf16"`` (torch autocast or the OpenVINO bf16
        inference-precision hint, only when the hardware runs it natively) or ``"fp16"``
        (torch CUDA autocast).
    input_shape : tuple of int
        ``(C, H, W)`` of one input image.
    task : str
        ``"classification"`` or ``"segmentation"``.
    selection : dict or None
        How :func:`~medview.inference.engines.create_engine` chose this engine
        (``source`` "measured" / "cache" / "fixed" / "default", ``choice``, ``timings_ms``,
        ``measure_s``); None for engines built directly.
    """

    name: str = ""
    device: str = "cpu"
    precision: str = "fp32"
    input_shape: tuple[int, int, int] = (0, 0, 0)
    task: str = "classification"
    selection: dict | None = None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on a batch.

        Parameters
        ----------
        batch : numpy.ndarray
            ``N×C×H×W`` with ``(C, H, W) == self.input_shape``; converted to contiguous
            float32 if it is not already.

        Returns
        -------
        numpy.ndarray
            float32 logits, ``N×K`` (classification) or ``N×K×H×W`` (segmentation).

        Raises
        ------
        ValueError
            If the batch does not have the shape the engine was built for.
        """
        batch = self.checked(batch)
        with self.lock:  # sessions and infer requests are not re-entrant
            out = self._run(batch)
        return np.ascontiguousarray(out, dtype=np.float32)

    @property
    def lock(self) -> threading.Lock:
        """Held while the engine runs (sessions and infer requests are not re-entrant)."""
        return self.__dict__.get("_run_lock") or self.__dict__.setdefault("_run_lock", threading.Lock())

    def checked(self, batch: np.ndarray) -> np.ndarray:
        """``batch`` as contiguous float32, or ValueError if its shape is not the engine's."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or tuple(batch.shape[1:]) != tuple(self.input_shape):
            raise ValueError(
                f"expected a float32 N×{'×'.join(map(str, self.input_shape))} batch, "
                f"got shape {batch.shape}"
            )
        return batch

    @abc.abstractmethod
    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Engine-specific forward pass on a validated contiguous float32 batch."""

    def close(self) -> None:  # noqa: B027 (a no-op by default: an engine that holds nothing need not override it)
        """Release what the engine holds (sessions, device memory). Safe to call twice."""

    def describe(self) -> str:
        """A short human-readable label, e.g. ``"openvino fp32 on cpu"``."""
        return f"{self.name} {self.precision} on {self.device}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()} input={self.input_shape}>"


# --------------------------------------------------------------------------- machine facts


def available_engines() -> dict[str, str]:
    """The inference engines installed here, with their versions.

    Returns
    -------
    dict
        ``{"torch": "2.x", "onnxruntime": "1.x", "openvino": "2026.x"}``, only those that
        are installed. Reads package metadata; it imports none of them (torch alone costs
        ~650 MB and seconds).
    """
    found = {}
    for module, names in _DISTRIBUTIONS.items():
        spec = importlib.util.find_spec(module)
        if spec is None:
            continue
        local = _torch_build(spec) if module == "torch" else None
        if local:
            found[module] = local
            continue
        for dist in names:
            try:
                found[module] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        else:
            found[module] = "unknown"
    return found


def _torch_build(spec) -> str | None:
    """torch's full version with its build (``2.14.1+cu130``: CUDA and CPU wheels differ)
    from its ``version.py``, without importing it; None if that cannot be read."""
    import re

    for folder in spec.submodule_search_locations or ():
        try:
            with open(os.path.join(folder, "version.py"), encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            continue
        match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
        if match:
            return match.group(1)
    return None


def verification_input(input_shape: tuple[int, int, int]) -> np.ndarray:
    """The fixed ``1×C×H×W`` input every candidate engine is checked and timed on."""
    rng = np.random.default_rng(VERIFY_SEED)
    return rng.standard_normal((1, *input_shape)).astype(np.float32)


def gpu_present() -> bool:
    """Whether an NVIDIA GPU is visible, asked without torch (the driver's files, or
    ``nvidia-smi`` on Windows). Where one is, CUDA analysis goes through torch."""
    if os.name == "nt":
        import shutil

        return shutil.which("nvidia-smi") is not None
    try:
        return any(os.scandir("/proc/driver/nvidia/gpus"))
    except OSError:
        return False


@lru_cache(maxsize=1)
def physical_cores() -> int:
    """Number of physical CPU cores this process may use.

    On Linux, hyper-thread siblings in the process's affinity mask are counted once (read
    from ``/sys/devices/system/cpu/cpu*/topology``). Elsewhere, or if that fails, it falls
    back to the logical CPU count. Inference libraries run fastest with one thread per
    physical core; more threads than cores only adds contention.

    Returns
    -------
    int
        At least 1.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        cpus = list(range(os.cpu_count() or 1))
    cores: set[str] = set()
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        for name in ("core_cpus_list", "thread_siblings_list"):
            try:
                with open(base + name, encoding="ascii") as f:
                    cores.add(f.read().strip())
                break
            except OSError:
                continue
        else:
            return max(1, len(cpus))
    return max(1, len(cores))


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool | None:
    """Whether the CPU runs bf16 natively (AVX512-BF16 or AMX-BF16), from ``/proc/cpuinfo``
    (no library is loaded to ask); None where that cannot be read (not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return bool({"avx512_bf16", "amx_bf16"} & set(value.split()))
    except OSError:
        pass
    return None


@lru_cache(maxsize=1)
def cpu_has_vnni() -> bool:
    """Whether the CPU sums 8-bit products in 32 bits (AVX512-VNNI, AVX-VNNI or AMX-INT8).

    Without VNNI, x86 int8 kernels add pairs of u8×s8 products in 16 bits, which can
    saturate (oneDNN, "Nuances of int8 Computations"; ONNX Runtime's ``reduce_range``
    exists for it), so an int8 graph could answer otherwise than when it was checked.
    From ``/proc/cpuinfo``, else numpy's CPU feature table (AVX512-VNNI only); False
    where neither says.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(value.split()))
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # another numpy layout
        return False
    return bool(__cpu_features__.get("AVX512VNNI"))


@lru_cache(maxsize=1)
def cpu_identifier() -> str:
    """A stable string naming this CPU, for the engine-choice cache key.

    The model name (and, on Linux, a hash of the instruction-set flags, since virtual
    machines may hide some) plus the logical and physical core counts: a choice measured on
    one machine is not reused on another.
    """
    model = ""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = value.strip()
                if model and flags:
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown-cpu"
    flag_hash = hashlib.sha1(flags.encode()).hexdigest()[:8] if flags else "-"
    cores = f"{os.cpu_count()} logical / {physical_cores()} physical"
    return f"{model} | {platform.machine()} | flags {flag_hash} | {cores}"
