"""How far a pretrain run has come, and the learning rate and BYOL momentum that follow.

Progress runs from 0 to 1 over the planned steps *or* the time budget, whichever ends
first: a run with ``time_budget_minutes`` anneals its learning rate to the end of the
budget and stops there, wherever its epochs are. The rate warms up linearly for the
first 2 % (at most 500 steps' worth), then follows a half cosine down to 0.
"""

from __future__ import annotations

import math

__all__ = ["progress", "learning_rate", "target_momentum", "WARMUP"]

#: Share of the run spent warming the learning rate up.
WARMUP = 0.02


def progress(step: int, total_steps: int, elapsed_s: float, budget_s: float | None) -> float:
    """Fraction of the run done, in [0, 1].

    Parameters
    ----------
    step, total_steps : int
        Optimiser steps done and planned (epochs × batches per epoch).
    elapsed_s : float
        Training seconds so far, over every attempt of the run.
    budget_s : float or None
        Training seconds allowed; None: no limit.
    """
    by_steps = step / max(1, total_steps)
    by_time = elapsed_s / budget_s if budget_s else 0.0
    return min(1.0, max(by_steps, by_time))


def learning_rate(base: float, p: float, total_steps: int) -> float:
    """The learning rate at progress ``p``: linear warm-up, then cosine to 0."""
    warm = min(WARMUP, 500 / max(1, total_steps))
    if p < warm:
        return base * max(p / warm, 0.01)
    return base * 0.5 * (1.0 + math.cos(math.pi * (p - warm) / max(1e-9, 1.0 - warm)))


def target_momentum(tau: float, p: float) -> float:
    """BYOL's target momentum at progress ``p``: from ``tau`` up to 1, cosine."""
    return 1.0 - (1.0 - tau) * 0.5 * (1.0 + math.cos(math.pi * p))
