"""Reading what a hyper-parameter search writes (:mod:`trainer.search.run`), for its readers.

The trainer tab polls a running search's folder: ``trials.json`` (rewritten after each
trial), ``best_job.json`` (at the end) and ``runs/trial-NNN/fold-K`` (one folder per fold
run, made when the run starts: where the search is now). Each reader turns a missing
or damaged file into a one-line reason (:class:`SearchResultError`), never a traceback.
Standard library only (no torch, no Qt).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from medview.core.errors import MedviewError, one_line
from medview.core.schema import Meta, Wording, parse

__all__ = ["TRIALS_NAME", "BEST_NAME", "BEST_JOB_NAME", "RUNS_NAME", "SearchResultError", "Trial",
           "SearchStatus", "read_trials", "best_trial", "read_best_job", "current_run", "read_status"]

TRIALS_NAME, BEST_NAME, BEST_JOB_NAME, RUNS_NAME = "trials.json", "best.json", "best_job.json", "runs"
_TRIAL_DIR, _FOLD_DIR = re.compile(r"^trial-(\d+)$"), re.compile(r"^fold-(\d+)$")


class SearchResultError(MedviewError, ValueError):
    """A search file is missing or damaged; the message is one line for a person."""


@dataclass(frozen=True)
class TrialParams:
    """The settings a trial tried."""

    lr: Annotated[float, Meta(description="learning rate")]
    batch_size: Annotated[int, Meta(ge=1, description="batch size")]
    optimizer: Annotated[str, Meta(description="optimizer")]


@dataclass(frozen=True)
class Trial:
    """One finished trial of ``trials.json``."""

    number: Annotated[int, Meta(ge=1, description="from 1, in the order trials ran")]
    params: Annotated[TrialParams, Meta(description="the settings tried")]
    mean: Annotated[float | None, Meta(description="mean validation score over the folds "
                                                   "(``metric`` of the file)")] = None
    fold_scores: Annotated[tuple[float | None, ...], Meta(
        description="one per fold; null where the fold's score was not measurable",
        extra={"reason": "must be a list of numbers"})] = ()
    seconds: Annotated[float | None, Meta(description="how long the trial took")] = None

    @property
    def lr(self) -> float:
        return self.params.lr

    @property
    def batch_size(self) -> int:
        return self.params.batch_size

    @property
    def optimizer(self) -> str:
        return self.params.optimizer


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SearchResultError(f"{path.name} cannot be read: {err.strerror or err}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise SearchResultError(f"{path.name} is damaged ({one_line(err, 120)})") from None


def _trial(data: Any, index: int, name: str) -> Trial:
    def error(field_path: str, reason: str) -> SearchResultError:
        return SearchResultError(f"{name} is damaged: trial entry {index + 1}, '{field_path}' {reason}")

    return parse(data, Trial, error, wording=Wording(forbid_unknown=False))


def read_trials(folder: str | Path) -> tuple[str | None, list[Trial]]:
    """``(metric, finished trials)`` of ``folder/trials.json``; ``(None, [])`` before the first.

    Raises
    ------
    SearchResultError
        If the file cannot be read or is not what the search writes.
    """
    path = Path(folder) / TRIALS_NAME
    if not path.exists():
        return None, []
    data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("trials"), list):
        raise SearchResultError(f"{TRIALS_NAME} is damaged: it has no list of trials")
    metric = data.get("metric") if isinstance(data.get("metric"), str) else None
    return metric, [_trial(t, i, TRIALS_NAME) for i, t in enumerate(data["trials"])]


def best_trial(trials: list[Trial]) -> Trial | None:
    """The trial with the highest mean score (the first of equals), or None."""
    scored = [t for t in trials if t.mean is not None]
    return max(scored, key=lambda t: t.mean) if scored else None


def read_best_job(folder: str | Path) -> dict[str, Any]:
    """The training job the search recommends (``folder/best_job.json``).

    Raises
    ------
    SearchResultError
        If the search wrote none (it failed, or was cancelled before a trial finished)
        or the file is damaged.
    """
    path = Path(folder) / BEST_JOB_NAME
    if not path.exists():
        raise SearchResultError(f"no {BEST_JOB_NAME}: the search has not finished a trial")
    data = _json(path)
    if not isinstance(data, dict):
        raise SearchResultError(f"{BEST_JOB_NAME} is damaged: not a JSON object")
    return data


def _numbered(folder: Path, pattern: re.Pattern) -> list[tuple[int, Path]]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return sorted((int(m.group(1)), p) for p in entries if p.is_dir() and (m := pattern.match(p.name)))


def current_run(folder: str | Path) -> tuple[int, int] | None:
    """``(trial, fold)`` of the latest fold run started (from 1), or None before the first."""
    trials = _numbered(Path(folder) / RUNS_NAME, _TRIAL_DIR)
    if not trials:
        return None
    number, path = trials[-1]
    folds = _numbered(path, _FOLD_DIR)
    return (number, folds[-1][0]) if folds else (number, 1)


@dataclass
class SearchStatus:
    """Everything a reader shows of a search folder at one moment.

    Attributes
    ----------
    metric : str or None
        The score's metric (``accuracy`` or ``dice``), once a trial has finished.
    trials : list of Trial
    error : str or None
        Why ``trials.json`` could not be read (the trials are then empty).
    position : tuple of int or None
        ``(trial, fold)`` of the latest fold run started.
    has_best_job : bool
        ``best_job.json`` exists (the search ended with at least one trial).
    """

    metric: str | None = None
    trials: list[Trial] = field(default_factory=list)
    error: str | None = None
    position: tuple[int, int] | None = None
    has_best_job: bool = False

    @property
    def best(self) -> Trial | None:
        return best_trial(self.trials)


def read_status(folder: str | Path) -> SearchStatus:
    """The search folder's state; never raises (a damaged file becomes :attr:`SearchStatus.error`)."""
    folder = Path(folder)
    status = SearchStatus(position=current_run(folder), has_best_job=(folder / BEST_JOB_NAME).is_file())
    try:
        status.metric, status.trials = read_trials(folder)
    except SearchResultError as err:
        status.error = str(err)
    return status
