"""Perona-Malik diffusion as medview computed it before each flux was computed once.

The reference for ``medview.inference.preprocess.anisotropic_diffusion``: the test
checks today's version against it, and ``bench/diffusion.py`` times both.
"""

from __future__ import annotations

import numpy as np
import pydicom

from tests.helpers.datafiles import find


def reference_diffusion(img: np.ndarray, iterations: int, kappa: float, gamma: float,
                        conduction: str) -> np.ndarray:
    """The explicit 4-neighbour scheme, each flux computed from both of its pixels."""
    u = img.astype(np.float32, copy=True)
    for _ in range(iterations):
        u += gamma * _flux(u, kappa, conduction)
    return u


def _flux(u: np.ndarray, kappa: float, conduction: str) -> np.ndarray:
    p = np.pad(u, 1, mode="edge")
    centre = p[1:-1, 1:-1]
    total = np.zeros_like(u)
    for neighbour in (p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]):
        d = neighbour - centre
        ratio = (d / kappa) ** 2
        g = np.exp(-ratio) if conduction == "exponential" else 1.0 / (1.0 + ratio)
        total += g * d
    return total


def ct_slice() -> np.ndarray:
    """A real 512 x 512 CT slice (pydicom's 693_UNCI.dcm), scaled to [0, 1] float32."""
    a = pydicom.dcmread(find("693_UNCI.dcm")).pixel_array.astype(np.float32)
    return (a - a.min()) / (a.max() - a.min())
