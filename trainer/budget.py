"""The run's time budget (``time_budget_minutes``): a clock from the start of the run,
preparation included, that the recipe plans with and the epoch loop stops at.

A resumed run continues the clock where the cancelled one left it (``spent_s`` in
``last.pt``), so cancelling and resuming does not buy time.
"""

from __future__ import annotations

import time

__all__ = ["Budget", "FINISH_RESERVE_S"]

#: Seconds kept for the end of the run (reload, calibration, test report, charts, files)
#: on top of running the model over the validation and test images.
FINISH_RESERVE_S = 5.0


class Budget:
    """Wall-clock seconds of a run, and how many are left.

    Parameters
    ----------
    minutes : float or None
        The job's ``time_budget_minutes``; None: no limit.
    spent_s : float
        Seconds already spent by an earlier attempt of the run (resume).
    """

    def __init__(self, minutes: float | None, spent_s: float = 0.0) -> None:
        self.total_s = None if minutes is None else float(minutes) * 60.0
        self._t0 = time.monotonic() - float(spent_s)

    @property
    def limited(self) -> bool:
        """Whether the run has a budget."""
        return self.total_s is not None

    def elapsed(self) -> float:
        """Seconds spent, earlier attempts included."""
        return time.monotonic() - self._t0

    def left(self) -> float | None:
        """Seconds left (may be negative), None without a budget."""
        return None if self.total_s is None else self.total_s - self.elapsed()

    def catch_up(self, spent_s: float) -> None:
        """Count at least ``spent_s`` as spent (a resumed part of the run saved it)."""
        if self.elapsed() < spent_s:
            self._t0 = time.monotonic() - float(spent_s)

    def describe(self) -> str:
        """E.g. ``"3.2 of 10 min"``."""
        if self.total_s is None:
            return f"{self.elapsed() / 60:.1f} min (no budget)"
        return f"{self.elapsed() / 60:.1f} of {self.total_s / 60:g} min"
