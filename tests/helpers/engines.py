"""Shared helpers for the engine tests."""

from __future__ import annotations

import numpy as np
import torch

SHAPE = (3, 64, 64)


def torch_reference(module: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    """fp32 eager torch output for ``batch``."""
    with torch.inference_mode():
        out = module(torch.from_numpy(batch))
    return out.float().numpy()


class CountCalls:
    """Wrap a function and count its calls."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)
