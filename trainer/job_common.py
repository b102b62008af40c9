"""What every kind of job shares: its field error, the declared types of its common fields
(device, id, seed), the default version and run-folder file names (a home below both
:mod:`trainer.config`/:mod:`trainer.loop` and :mod:`trainer.pretrain`, so neither imports
the other's package)."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal, get_args

from medview.core.errors import MedviewError
from medview.core.schema import Meta

__all__ = ["JobError", "Device", "DEVICES", "Id", "Seed", "default_version", "input_size", "SPLIT_NAME",
           "RESOLVED_NAME", "EVENTS_NAME", "MODEL_DIR", "CHECKPOINT_DIR"]

Device = Literal["auto", "cpu", "cuda"]
DEVICES = get_args(Device)
#: A job id: letters, digits and ``._-``.
Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                         extra={"hint": "letters, digits, '.', '_' or '-'"})]
Seed = Annotated[int, Meta(ge=0, le=2**31 - 1)]

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


def input_size(size: int | tuple[int, int] | None, field_path: str,
               maximum: int) -> tuple[int, int] | None:
    """A job's ``input.size`` as (height, width): one integer or ``[height, width]``
    (already typed by the declaration), each 32..``maximum`` pixels."""
    if size is None:
        return None
    size = (size, size) if isinstance(size, int) else size
    if min(size) < 32 or max(size) > maximum:
        raise JobError(field_path, f"{size[0]}x{size[1]} is outside 32..{maximum} pixels")
    return size
