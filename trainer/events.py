"""The trainer's event protocol: one JSON object per line on stdout.

Every line is ``{"v": 1, "type": ..., "time": ISO 8601, "job": id, ...fields}``. Each
event type is a frozen dataclass below, declared with :mod:`medview.core.schema`: its
annotated fields are the schema, so writer and reader cannot drift apart, and the field
tables of ``trainer/EVENTS.md`` are generated from them (``scripts/gen_schema_docs.py``;
a test parses the example lines there).

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
import sys
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import IO, Annotated, Any, ClassVar, Literal

from medview.core.errors import MedviewError
from medview.core.schema import EVENT_WORDING, Meta, Reader, clip, file_fields, json_kind

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


def _doc(text: str) -> Meta:
    return Meta(description=text)


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
    job: Annotated[str, _doc("job identifier, non-empty; the same on every line of one job")]
    time: Annotated[str, _doc("when it happened, ISO 8601 with a UTC offset, e.g. "
                              "`2025-05-01T09:30:00.123+00:00`")] = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        # Validate on construction, so a writer cannot emit a line readers would reject.
        reader = Reader(lambda path, reason: EventError(f"{path} {reason}"), EVENT_WORDING)
        for f in file_fields(type(self)):
            value = reader.value(getattr(self, f.name), f.type, f"{self.type}.{f.name}",
                                 outer={"owner": (type(self), f.name)})
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
    """The job has read its data set and split it, and is about to train."""

    type: ClassVar[str] = "job_started"
    task: Annotated[Task, _doc(
        "`\"classification\"`, `\"segmentation\"` or `\"pretrain\"` (self-supervised "
        "pre-training of a backbone, `trainer/JOBS.md`)")]
    model: Annotated[str, _doc("architecture or base model name; for `pretrain`, the "
                               "architecture and method, e.g. `\"resnet18 (simsiam)\"`")]
    dataset: Annotated[dict[str, Any], _doc(
        "data set summary (`DatasetSummary.to_dict()` of `trainer/data/datasets.py`): `task`, "
        "`source`, `classes`, `counts` (images per class), `n_samples`, `n_patients`, "
        "`n_without_patient_id`, `split_by` (`patient`, `image` when no image has a patient ID, "
        "or `mixed`; not `patient`: a `warnings` entry says how patients may leak across "
        "parts), `size_min`, `size_max`, `size_most_common` (`[rows, cols]` or `null`), "
        "`size_most_common_count`, `skipped` (list of `{path, reason}`), `warnings` (list of "
        "strings), `masks` (classification images with a lesion mask)")]
    split: Annotated[dict[str, int], _doc(
        "samples per part, integers: `{\"train\": …, \"val\": …, \"test\": …}`; "
        "`pretrain`: `{\"train\": images}`")]
    device: Annotated[str, _doc("where training runs, e.g. `\"cpu\"`, `\"cuda:0\"`")]
    recipe: Annotated[dict[str, Any] | None, _doc(
        "what the recipe chose and why (`trainer/JOBS.md`, \"The recipe\"): `fingerprint` "
        "(`task`, `images`, `per_class`, `smallest_class`, `balance`, `image_size`, "
        "`modality`, `masks`, `objects`: `{median, small, objects, masks}` or null), `chosen` "
        "(field → value), `reasons` (field → why), `given` (fields the job set), "
        "`speed_images_per_s`, `arms` (2 with the start check); null from a search")] = None


@dataclass(frozen=True, kw_only=True)
class EpochStarted(Event):
    """An epoch begins. ``epoch`` counts from 1 up to ``epochs``."""

    type: ClassVar[str] = "epoch_started"
    epoch: Annotated[int, _doc("this epoch, from 1")]
    epochs: Annotated[int, _doc("planned number of epochs (a pretrain job with a time budget "
                                "revises it as its speed becomes known)")]


@dataclass(frozen=True, kw_only=True)
class Batch(Event):
    """A training batch finished."""

    type: ClassVar[str] = "batch"
    epoch: Annotated[int, _doc("epoch, from 1")]
    batch: Annotated[int, _doc("batch within the epoch, from 1")]
    batches: Annotated[int, _doc("batches per epoch")]
    loss: Annotated[float | None, _doc("training loss of this batch")]
    images_per_s: Annotated[float | None, _doc("throughput over recent batches; `null` until "
                                               "measured")]


@dataclass(frozen=True, kw_only=True)
class EpochEnd(Event):
    """An epoch finished and was validated."""

    type: ClassVar[str] = "epoch_end"
    epoch: Annotated[int, _doc("this epoch, from 1")]
    epochs: Annotated[int, _doc("planned number of epochs")]
    train_loss: Annotated[float | None, _doc("mean training loss of the epoch")]
    val_loss: Annotated[float | None, _doc("mean validation loss")]
    metrics: Annotated[Metrics, _doc(
        "validation metrics, each a number or null: `accuracy` for classification; `dice` and "
        "`iou` (mean over foreground classes) for segmentation; writers may add more (e.g. "
        "`auc`). `pretrain` has no validation (`val_loss` null) and gives `spread`: the "
        "standard deviation of the normalised projections × √dim, ≈ 1 while healthy, near 0 "
        "when the representations collapse")]
    lr: Annotated[float, _doc("learning rate at the end of the epoch")]
    eta_s: Annotated[float | None, _doc("estimated seconds until the job ends; `null` when "
                                        "unknown")]


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(Event):
    """A checkpoint was written (usually because the validation metric improved)."""

    type: ClassVar[str] = "checkpoint_saved"
    path: Annotated[str, _doc("the checkpoint file")]
    epoch: Annotated[int, _doc("epoch whose weights it holds")]
    metric: Annotated[float | None, _doc("the validation metric that decided to keep it")]
    metric_name: Annotated[str | None, _doc("optional; which metric, e.g. `\"accuracy\"`, "
                                            "`\"dice\"`")] = None


@dataclass(frozen=True, kw_only=True)
class Evaluation(Event):
    """The final model was evaluated on the held-out test set."""

    type: ClassVar[str] = "evaluation"
    report: Annotated[str, _doc("path of the full evaluation report")]
    metrics: Annotated[Metrics, _doc("headline metrics, each a number or null (e.g. `accuracy`, "
                                     "`auc`, `sensitivity`, `specificity`, `threshold`, `dice`, "
                                     "`iou`)")]


@dataclass(frozen=True, kw_only=True)
class Log(Event):
    """A message for the person watching."""

    type: ClassVar[str] = "log"
    level: Annotated[Level, _doc("`\"debug\"`, `\"info\"`, `\"warning\"` or `\"error\"`")]
    message: Annotated[str, _doc("the text")]


@dataclass(frozen=True, kw_only=True)
class Finished(Event):
    """The job ended successfully."""

    type: ClassVar[str] = "finished"
    model: Annotated[str, _doc("path of the trained model (folder or file); a search's "
                               "`best_job.json`; a pretrain job's `backbone/` folder")]
    best_metric: Annotated[float | None, _doc("best validation metric reached; a pretrain job's "
                                              "last epoch loss (`metric_name` `\"loss\"`)")]
    metric_name: Annotated[str | None, _doc("optional; which metric")] = None


@dataclass(frozen=True, kw_only=True)
class Failed(Event):
    """The job stopped on an error."""

    type: ClassVar[str] = "failed"
    reason: Annotated[str, _doc("one line for a person (writers fold newlines into spaces)")]
    detail: Annotated[str | None, _doc("optional; anything longer, e.g. a traceback")] = None

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
        raise EventError(f"not a JSON line ({exc.msg} at column {exc.colno}): {clip(text)}") from None
    return from_dict(obj)


def from_dict(obj: Any) -> Event:
    """Validate a decoded JSON object and build its event (see :func:`parse_line`)."""
    if not isinstance(obj, dict):
        raise EventError(f"an event must be a JSON object, got {json_kind(obj)}")
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

def _check_time(text: str) -> None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise EventError(f"time must be ISO 8601, got {text!r}") from None
    if when.tzinfo is None:
        raise EventError(f"time must carry a UTC offset, got {text!r}")


def _reject_constant(name: str) -> None:
    raise EventError(f"{name} is not valid JSON; non-finite values are written as null")
