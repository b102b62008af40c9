"""The trainer's event protocol: one JSON object per line on stdout.

Every line is ``{"v": 1, "type": ..., "time": ISO 8601, "job": id, ...fields}``. Each
event type is a frozen dataclass below; its annotated fields are the schema, so writer
and reader cannot drift apart. ``trainer/EVENTS.md`` documents every type with an
example line (a test parses those examples).

Compatibility rules (version 1)
-------------------------------
* Readers ignore fields they do not know, so a writer may ADD fields without a version
  bump. Removing, renaming or re-typing a field, or changing its meaning, needs ``v: 2``.
* Measurements that are not finite numbers (a diverged loss, an undefined Dice) are
  written as ``null``: JSON has no NaN, and a reader must never choke on one.

Examples
--------
>>> ev = Log(job="job-1", level="info", message="loading 120 images")
>>> parse_line(ev.to_json()) == ev
True
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import IO, Any, ClassVar, Literal

from medview.core.errors import MedviewError

__all__ = [
    "PROTOCOL_VERSION",
    "EVENT_TYPES",
    "EventError",
    "Event",
    "JobStarted",
    "EpochStarted",
    "Batch",
    "EpochEnd",
    "CheckpointSaved",
    "Evaluation",
    "Log",
    "Finished",
    "Failed",
    "Cancelled",
    "now_iso",
    "emit",
    "from_dict",
    "parse_line",
]

#: The version this module writes and the only one it reads.
PROTOCOL_VERSION = 1

Task = Literal["classification", "segmentation", "pretrain"]
Level = Literal["debug", "info", "warning", "error"]
Metrics = dict[str, float | None]


class EventError(MedviewError, ValueError):
    """A line or object that is not a valid event; the message says which rule it broke."""


def now_iso() -> str:
    """The current time as ISO 8601 in UTC with milliseconds, e.g. ``2025-05-01T09:30:00.123+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields every event carries.

    Attributes
    ----------
    job : str
        Identifier of the training job (non-empty); lets one reader follow several jobs.
    time : str
        When the event happened, ISO 8601 with a UTC offset; defaults to now.
    """

    type: ClassVar[str] = ""
    job: str
    time: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        # Validate on construction, so a writer cannot emit a line readers would reject.
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(getattr(self, f.name), hints[f.name], f"{self.type}.{f.name}")
            object.__setattr__(self, f.name, value)
        if not self.job:
            raise EventError(f"{self.type}.job must not be empty")
        _check_time(self.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as the JSON object that goes on the wire (header fields first)."""
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        head = {"v": PROTOCOL_VERSION, "type": self.type, "time": body.pop("time"), "job": body.pop("job")}
        return head | body

    def to_json(self) -> str:
        """One line of compact JSON (no trailing newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True, kw_only=True)
class JobStarted(Event):
    """The job has read its data set and is about to train.

    Attributes
    ----------
    task : {"classification", "segmentation"}
    model : str
        Architecture or base model name.
    dataset : dict
        ``DatasetSummary.to_dict()`` of :mod:`trainer.data.datasets`.
    split : dict of str to int
        Number of samples per part, e.g. ``{"train": 80, "val": 10, "test": 10}``.
    device : str
        Where training runs, e.g. ``"cpu"`` or ``"cuda:0"``.
    recipe : dict or None
        What the recipe chose and why (``Recipe.to_dict()`` of :mod:`trainer.recipe`).
    """

    type: ClassVar[str] = "job_started"
    task: Task
    model: str
    dataset: dict[str, Any]
    split: dict[str, int]
    device: str
    recipe: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class EpochStarted(Event):
    """An epoch begins. ``epoch`` counts from 1 up to ``epochs``."""

    type: ClassVar[str] = "epoch_started"
    epoch: int
    epochs: int


@dataclass(frozen=True, kw_only=True)
class Batch(Event):
    """A training batch finished.

    Attributes
    ----------
    epoch, batch, batches : int
        Epoch (from 1), batch within it (from 1), batches per epoch.
    loss : float or None
        Training loss of this batch; ``None`` if not finite.
    images_per_s : float or None
        Throughput over recent batches; ``None`` when not yet measured.
    """

    type: ClassVar[str] = "batch"
    epoch: int
    batch: int
    batches: int
    loss: float | None
    images_per_s: float | None


@dataclass(frozen=True, kw_only=True)
class EpochEnd(Event):
    """An epoch finished and was validated.

    Attributes
    ----------
    epoch, epochs : int
        This epoch (from 1) and the planned number.
    train_loss, val_loss : float or None
        Mean losses; ``None`` if not finite.
    metrics : dict of str to float or None
        Validation metrics: ``accuracy`` (classification) or ``dice`` and ``iou``
        (segmentation, mean over foreground classes); more keys may follow.
    lr : float
        Learning rate at the end of the epoch.
    eta_s : float or None
        Estimated seconds until the job ends; ``None`` when unknown.
    """

    type: ClassVar[str] = "epoch_end"
    epoch: int
    epochs: int
    train_loss: float | None
    val_loss: float | None
    metrics: Metrics
    lr: float
    eta_s: float | None


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(Event):
    """A checkpoint was written (usually because the validation metric improved).

    Attributes
    ----------
    path : str
        The checkpoint file.
    epoch : int
        Epoch whose weights it holds.
    metric : float or None
        The validation metric that decided to keep it.
    metric_name : str or None
        Which metric that is, e.g. ``"accuracy"`` or ``"dice"``.
    """

    type: ClassVar[str] = "checkpoint_saved"
    path: str
    epoch: int
    metric: float | None
    metric_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class Evaluation(Event):
    """The final model was evaluated on the held-out test set.

    Attributes
    ----------
    report : str
        Path of the full evaluation report.
    metrics : dict of str to float or None
        Headline metrics (e.g. ``accuracy``, ``auc``, ``sensitivity``, ``specificity``,
        ``dice``, ``iou``).
    """

    type: ClassVar[str] = "evaluation"
    report: str
    metrics: Metrics


@dataclass(frozen=True, kw_only=True)
class Log(Event):
    """A message for the person watching: ``level`` is debug, info, warning or error."""

    type: ClassVar[str] = "log"
    level: Level
    message: str


@dataclass(frozen=True, kw_only=True)
class Finished(Event):
    """The job ended successfully.

    Attributes
    ----------
    model : str
        Path of the trained model (folder or file) ready to register.
    best_metric : float or None
        Best validation metric reached.
    metric_name : str or None
        Which metric that is.
    """

    type: ClassVar[str] = "finished"
    model: str
    best_metric: float | None
    metric_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class Failed(Event):
    """The job stopped on an error.

    Attributes
    ----------
    reason : str
        One line for a person (newlines are folded into spaces).
    detail : str or None
        Anything longer, e.g. a traceback.
    """

    type: ClassVar[str] = "failed"
    reason: str
    detail: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", " ".join(str(self.reason).split()))
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class Cancelled(Event):
    """The job stopped because it was asked to."""

    type: ClassVar[str] = "cancelled"


#: Event class by its ``type`` string.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (JobStarted, EpochStarted, Batch, EpochEnd, CheckpointSaved, Evaluation,
                Log, Finished, Failed, Cancelled)
}


def emit(event: Event, stream: IO[str] | None = None) -> None:
    """Write ``event`` as one line and flush, so a reader sees it at once.

    Parameters
    ----------
    event : Event
        The event to write.
    stream : text stream, optional
        Defaults to ``sys.stdout`` as it is at call time (so redirection works).
    """
    out = sys.stdout if stream is None else stream
    out.write(event.to_json() + "\n")
    out.flush()


def parse_line(line: str | bytes) -> Event:
    """Parse and validate one line of the protocol.

    Parameters
    ----------
    line : str or bytes
        One JSON object (a trailing newline is allowed).

    Returns
    -------
    Event
        An instance of the class for its ``type``.

    Raises
    ------
    EventError
        If the line is not a JSON object, has another version, an unknown type, lacks a
        field or has one of the wrong type; the message names the problem.
    """
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise EventError(f"not a JSON line ({exc.msg} at column {exc.colno}): {_clip(text)}") from None
    return from_dict(obj)


def from_dict(obj: Any) -> Event:
    """Validate a decoded JSON object and build its event (see :func:`parse_line`)."""
    if not isinstance(obj, dict):
        raise EventError(f"an event must be a JSON object, got {_json_kind(obj)}")
    if "v" not in obj:
        raise EventError("not an event: field 'v' (protocol version) is missing")
    version = obj["v"]
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise EventError(f"unsupported event protocol version {version!r} (this reader understands {PROTOCOL_VERSION})")
    kind = obj.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(f"unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in obj:
            values[f.name] = obj[f.name]
        elif f.name == "time" or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING):
            raise EventError(f"{kind} event lacks field {f.name!r}")
    return cls(**values)  # unknown extra fields are ignored (forward compatibility)


# -- validation ------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` checked against a type hint, normalised (ints to float, NaN to None)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        if inner is float and _is_number(value) and not math.isfinite(value):
            return None  # the protocol writes non-finite measurements as null
        return _coerce(value, inner, name)
    if origin is Literal:
        if value not in args:
            raise EventError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise EventError(f"{name} must be an object with string keys, got {_json_kind(value)}")
        return {k: _coerce(v, args[1], f"{name}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float:
        if not _is_number(value) or not math.isfinite(value):
            raise EventError(f"{name} must be a finite number, got {_json_kind(value)}")
        return float(value)
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EventError(f"{name} must be an integer, got {_json_kind(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise EventError(f"{name} must be a string, got {_json_kind(value)}")
        return value
    raise TypeError(f"unsupported field type {hint!r} for {name}")  # a bug in this module


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_time(text: str) -> None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise EventError(f"time must be ISO 8601, got {text!r}") from None
    if when.tzinfo is None:
        raise EventError(f"time must carry a UTC offset, got {text!r}")


def _reject_constant(name: str) -> None:
    raise EventError(f"{name} is not valid JSON; non-finite values are written as null")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {_clip(repr(value))}"
    return {"dict": "an object", "list": "an array"}.get(type(value).__name__, type(value).__name__)


def _clip(text: str, limit: int = 80) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
