"""PyTorch engine: eager fp32, channels-last fp32, and autocast bf16/fp16 variants."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..onnx_export import first_tensor
from .base import Engine

#: variant -> (precision label, memory format, autocast dtype)
VARIANTS: dict[str, tuple[str, torch.memory_format, torch.dtype | None]] = {
    "fp32": ("fp32", torch.contiguous_format, None),
    "channels_last": ("channels_last-fp32", torch.channels_last, None),
    "bf16": ("bf16", torch.channels_last, torch.bfloat16),
    "fp16": ("fp16", torch.channels_last, torch.float16),
}


def cpu_bf16_supported() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX).

    Without that, torch emulates bf16 and it is slower than fp32, so it is not offered.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads for torch CPU work (process-wide)."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class TorchEngine(Engine):
    """Run a torch module directly.

    Parameters
    ----------
    module : torch.nn.Module
        The model, already on ``torch_device`` and in eval mode. For the channels-last
        variants pass a module whose parameters may be converted in place (a copy).
    input_shape : tuple of int
        ``(C, H, W)``.
    task : str
        ``"classification"`` or ``"segmentation"``.
    variant : {"fp32", "channels_last", "bf16", "fp16"}
        Arithmetic and memory layout; bf16/fp16 use :func:`torch.autocast`.
    torch_device : torch.device
        Where the tensors live.
    device : str, optional
        Label reported in :attr:`device` (defaults to ``torch_device.type``).
    threads : int, optional
        CPU intra-op threads (ignored on CUDA).
    """

    name = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        input_shape: tuple[int, int, int],
        task: str,
        *,
        variant: str = "fp32",
        torch_device: torch.device | str = "cpu",
        device: str | None = None,
        threads: int = 0,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown torch variant {variant!r}; expected one of {sorted(VARIANTS)}")
        self.variant = variant
        self.precision, self._memory_format, self._autocast_dtype = VARIANTS[variant]
        self.torch_device = torch.device(torch_device)
        self.device = device or self.torch_device.type
        self.input_shape = tuple(int(v) for v in input_shape)  # type: ignore[assignment]
        self.task = task
        if self.torch_device.type == "cpu":
            set_cpu_threads(threads)
        module.eval()
        if self._memory_format is torch.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module: torch.nn.Module | None = module

    def _autocast(self):
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.torch_device.type, dtype=self._autocast_dtype)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self.module is None:
            raise RuntimeError("engine is closed")
        with torch.inference_mode():
            x = torch.from_numpy(batch)
            if self.torch_device.type != "cpu":
                x = x.to(self.torch_device, non_blocking=True)
            if self._memory_format is torch.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                y = first_tensor(self.module(x))
            return y.float().cpu().numpy()

    def close(self) -> None:
        module, self.module = self.module, None
        if module is not None and self.torch_device.type == "cuda":
            del module
            torch.cuda.empty_cache()
