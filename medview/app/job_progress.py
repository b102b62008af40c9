"""Where a job stands, from its events: epoch, batch, throughput, time left (no Qt).

:class:`JobProgress` folds the trainer's events (:mod:`trainer.events`) into the few
numbers the trainer tab shows above its charts, so the same arithmetic serves a job
followed live and one re-opened after the app restarted (times come from the events,
not from when the tab read them).

Time left
---------
After an epoch the trainer's own estimate (``epoch_end.eta_s``) counts down from that
event's time. Before the first epoch ends, the pace of the batches so far is projected
over the remaining batches of every epoch (validation not counted, so the first figure
is a little optimistic); it is labelled "estimating".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC

__all__ = ["JobProgress", "format_duration", "parse_time", "TERMINAL"]

#: Event types that end a job, mapped to the queue state they imply.
TERMINAL = {"finished": "finished", "failed": "failed", "cancelled": "cancelled"}


def parse_time(text: str) -> float:
    """Seconds since the epoch of an event's ISO 8601 time."""
    return datetime.fromisoformat(text).timestamp()


def now() -> float:
    return datetime.now(UTC).timestamp()


def format_duration(seconds: float | None) -> str:
    """``"45 s"``, ``"3 min 05 s"``, ``"1 h 07 min"`` (``"?"`` for None)."""
    if seconds is None:
        return "?"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


@dataclass
class JobProgress:
    """Running summary of one job's events.

    Attributes
    ----------
    state : str or None
        ``running`` once the job started (or an epoch event arrived), then the terminal
        state of the last ``finished`` / ``failed`` / ``cancelled`` event; None before.
    epoch, epochs, batch, batches : int
        Latest position (0 when unknown).
    images_per_s : float or None
    reason : str or None
        A failed job's one-line reason.
    """

    state: str | None = None
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    images_per_s: float | None = None
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    _eta: float | None = None          # trainer's estimate …
    _eta_at: float | None = None       # … made at this time
    _epoch_t0: float | None = None     # when the current epoch started
    _batch_t: float | None = None      # time of the latest batch event
    _first_epoch_done: bool = False
    pretrain: bool = False             # a pre-training job: no validation, it stops on its time budget

    def add(self, event) -> None:
        """Fold one event in."""
        kind = event.type
        t = parse_time(event.time)
        if self.started_at is None or (self.done and kind not in TERMINAL):
            self.started_at = t  # the first event of this attempt (a resumed job starts over)
            if self.done:
                self.state, self.reason, self.ended_at = None, None, None
        if kind == "job_started":
            self.state, self.reason, self.ended_at = "running", None, None
            self._eta = self._eta_at = None
            self._first_epoch_done = False
        elif kind == "epoch_started":
            self.state = "running"
            self.epoch, self.epochs, self.batch = event.epoch, event.epochs, 0
            self._epoch_t0 = t
        elif kind == "batch":
            self.state = "running"
            self.epoch, self.batch, self.batches = event.epoch, event.batch, event.batches
            if event.images_per_s is not None:
                self.images_per_s = event.images_per_s
            self._batch_t = t
        elif kind == "epoch_end":
            self.epoch, self.epochs = event.epoch, event.epochs
            self.batch = self.batches
            self._eta, self._eta_at = event.eta_s, t
            self._first_epoch_done = True
        elif kind in TERMINAL:
            self.state = TERMINAL[kind]
            self.ended_at = t
            self.reason = getattr(event, "reason", None)

    @property
    def done(self) -> bool:
        return self.state in TERMINAL.values()

    def fraction(self) -> float:
        """Share of the planned batches done, 0…1 (1 once finished)."""
        if self.state == "finished":
            return 1.0
        if not self.epochs:
            return 0.0
        within = self.batch / self.batches if self.batches else 0.0
        return min(1.0, max(0.0, (self.epoch - 1 + within) / self.epochs))

    def eta(self, at: float | None = None) -> tuple[float | None, bool]:
        """(seconds left or None, whether it is only a first estimate)."""
        if self.state != "running":
            return None, False
        at = now() if at is None else at
        if self._eta is not None and self._eta_at is not None:
            return max(0.0, self._eta - (at - self._eta_at)), False
        if self._epoch_t0 is not None and self._batch_t is not None and self.batch and self.batches \
                and self.epochs:
            per_batch = (self._batch_t - self._epoch_t0) / self.batch
            left = (self.batches - self.batch) + self.batches * (self.epochs - self.epoch)
            return max(0.0, per_batch * left - (at - self._batch_t)), True
        return None, True

    def text(self, at: float | None = None) -> str:
        """One line for the label above the charts."""
        if self.state is None:
            return "Waiting for the trainer to start…"
        if self.state == "finished":
            took = (self.ended_at - self.started_at) if self.started_at and self.ended_at else None
            text = f"Finished{' in ' + format_duration(took) if took is not None else ''}."
            if self.pretrain:
                after = f" after {self.epoch} epoch{'s' if self.epoch != 1 else ''}." if self.epoch else "."
                return text[:-1] + after
            if self.epochs and self.epoch < self.epochs:
                text += (f" Stopped early after epoch {self.epoch} of {self.epochs}: validation had stopped "
                         "improving.")
            return text
        if self.state == "failed":
            return "Failed: " + (self.reason or "see the log")
        if self.state == "cancelled":
            return "Cancelled. Resume continues from the last checkpoint."
        parts = []
        if self.epochs:
            parts.append(f"Epoch {self.epoch}/{self.epochs}")
        if self.batches:
            parts.append(f"batch {self.batch}/{self.batches}")
        if self.images_per_s:
            parts.append(f"{self.images_per_s:.1f} images/s")
        left, rough = self.eta(at)
        if left is not None:
            parts.append(f"about {format_duration(left)} left" + (" (estimating)" if rough else ""))
        elif self.epochs:
            parts.append("estimating time left…")
        else:
            parts.append("preparing the images…")
        return " · ".join(parts)
