"""Perona-Malik diffusion speed: each flux once, in reused buffers, against the old scheme.

Run: .venv/bin/python bench/diffusion.py [--runs 7]

On a real 512 x 512 CT slice (pydicom's 693_UNCI.dcm, scaled to [0, 1]) it times
``anisotropic_diffusion`` with the manifest's default spec (10 iterations, kappa 0.1,
gamma 0.2), both conduction functions, beside the scheme medview used before
(``tests/helpers/diffusion_reference.py``: four neighbour differences per pixel, each
flux computed from both of its pixels, fresh temporaries at every step). Printed: best
of ``--runs`` in ms for each, the ratio old / new, and the largest difference between
the two results.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medview.inference.manifest import DiffusionSpec  # noqa: E402
from medview.inference.preprocess import anisotropic_diffusion  # noqa: E402
from tests.helpers.diffusion_reference import ct_slice, reference_diffusion  # noqa: E402


def best_ms(fn, runs: int) -> tuple[float, np.ndarray]:
    out, times = None, []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    img = ct_slice()
    print(f"512 x 512 CT, 10 iterations, best of {runs}")
    print(f"{'conduction':<12} {'old ms':>8} {'new ms':>8} {'old/new':>8} {'max diff':>9}")
    for conduction in ("exponential", "quadratic"):
        spec = DiffusionSpec(conduction=conduction)
        old_ms, old = best_ms(lambda spec=spec, conduction=conduction: reference_diffusion(
            img, spec.iterations, spec.kappa, spec.gamma, conduction), runs)
        new_ms, new = best_ms(lambda spec=spec: anisotropic_diffusion(img, spec), runs)
        diff = float(np.abs(old - new).max())
        print(f"{conduction:<12} {old_ms:8.1f} {new_ms:8.1f} {old_ms / new_ms:8.2f} {diff:9.1e}")


if __name__ == "__main__":
    main()
