"""What every kind of job shares: its field error, devices, default version and run-folder
file names (a home below both :mod:`trainer.config`/:mod:`trainer.loop` and
:mod:`trainer.pretrain`, so neither imports the other's package)."""

from __future__ import annotations

import datetime

__all__ = ["JobError", "DEVICES", "default_version", "SPLIT_NAME", "RESOLVED_NAME", "EVENTS_NAME",
           "MODEL_DIR", "CHECKPOINT_DIR"]

DEVICES = ("auto", "cpu", "cuda")
SPLIT_NAME, RESOLVED_NAME, EVENTS_NAME, MODEL_DIR, CHECKPOINT_DIR = (
    "split.json", "job.resolved.json", "events.jsonl", "model", "checkpoints")


class JobError(ValueError):
    """A job field is missing or invalid.

    Attributes
    ----------
    field : str
        Dotted path of the field, e.g. ``"augment.rotate"``.
    reason : str
        What is wrong, in one line.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"job field '{field}': {reason}")


def default_version() -> str:
    """A version that sorts after earlier trainings: ``YYYY.MM.DD-HHMMSS`` (local time)."""
    return datetime.datetime.now().strftime("%Y.%m.%d-%H%M%S")
