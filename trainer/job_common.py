"""What every kind of job shares: its field error, devices, default version and run-folder
file names (a home below both :mod:`trainer.config`/:mod:`trainer.loop` and
:mod:`trainer.pretrain`, so neither imports the other's package)."""

from __future__ import annotations

import datetime

from medview.core.errors import MedviewError
from medview.core.json_fields import is_int

__all__ = ["JobError", "DEVICES", "default_version", "input_size", "SPLIT_NAME", "RESOLVED_NAME", "EVENTS_NAME",
           "MODEL_DIR", "CHECKPOINT_DIR"]

DEVICES = ("auto", "cpu", "cuda")
SPLIT_NAME, RESOLVED_NAME, EVENTS_NAME, MODEL_DIR, CHECKPOINT_DIR = (
    "split.json", "job.resolved.json", "events.jsonl", "model", "checkpoints")


class JobError(MedviewError, ValueError):
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


def input_size(sec, default, maximum: int) -> tuple[int, int] | None:
    """The ``size`` field of a job's ``input`` section: one integer or ``[height, width]``,
    each 32..``maximum`` pixels (``sec`` is a :class:`~medview.core.json_fields.Fields`)."""
    size = sec.get("size", default)
    if size is None:
        return None
    if is_int(size):
        size = [size, size]
    if not isinstance(size, list) or len(size) != 2 or not all(is_int(v) for v in size):
        sec.fail("size", "must be an integer or two integers [height, width]")
    if min(size) < 32 or max(size) > maximum:
        sec.fail("size", f"{size[0]}x{size[1]} is outside 32..{maximum} pixels")
    return int(size[0]), int(size[1])
