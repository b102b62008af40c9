"""Hyper-parameter search: Optuna over learning rate, batch size and optimizer, scored by
stratified, patient-grouped k-fold cross-validation.

Each trial trains the job's model ``folds`` times with the trainer's own loop
(:func:`trainer.loop.run_job` given an explicit train/val split, empty test part); its
score is the mean over folds of the last epoch's validation ``accuracy`` (classification)
or ``dice`` (segmentation). The k folds are made over the whole data set, by patient, and
are the same for every trial.

It starts with a ``job_started`` event (the data set, the first fold's sizes) and a
``log`` saying what it searches. After each trial one ``log`` event (level ``info``)
summarises it and ``OUT/trials.json`` is rewritten (atomically) with every finished trial. At
the end ``OUT/best.json`` holds the best parameters and a ready-to-run job (the original job with them filled in)::

    python -m trainer.search.job JOB.json --trials 20 --folds 5 --epochs 10 --out search/
    python -m trainer search/best_job.json       # best.json["job"], written out for convenience

Fold runs live in ``OUT/runs/trial-NNN/fold-K`` (events, split; weights are removed).
A new search first removes what an earlier one left in ``OUT``.

A job may carry its own search settings (``"search": {"trials", "folds", "epochs",
"seed"}``, :mod:`trainer.search_spec`); that is how the job queue runs a search
(:mod:`trainer.search.job`: events appended to ``OUT/events.jsonl``, ``state.json``,
cancel file and signals, exit status 0 finished / 1 failed / 2 invalid job / 3 cancelled).
"""

from __future__ import annotations

import io
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from medview.core.errors import MedviewError
from trainer import events as ev
from trainer.search.results import BEST_JOB_NAME, BEST_NAME, RUNS_NAME, TRIALS_NAME
from trainer.search_spec import SearchSpec, split_search

__all__ = ["LR_RANGE", "BATCH_SIZES", "OPTIMIZERS", "SearchError", "SearchCancelled", "load_search_job",
           "search_job_id", "run_search"]

LR_RANGE = (1e-5, 1e-2)
BATCH_SIZES = (8, 16, 32)
OPTIMIZERS = ("adam", "adamw", "sgd")


class SearchError(MedviewError):
    """The search cannot run (bad job, too few patients for k folds, a fold run failed)."""


class SearchCancelled(Exception):
    """The search was cancelled before any trial finished (nothing to report)."""


class _Stop(Exception):
    """A fold run was cancelled: end the search with what is finished."""


def _print_event(event: ev.Event) -> None:
    print(event.to_json(), flush=True)


def load_search_job(job_path: str | Path):
    """``(Job, its JSON without the search block, the block's SearchSpec or None)``.

    Raises
    ------
    trainer.config.JobError
        Unreadable file, invalid JSON, or an invalid field (the search block's too).
    """
    from trainer.config import parse_job, read_job_file

    job_path = Path(job_path).resolve()  # so the dataset path in best_job.json is absolute
    data, spec = split_search(read_job_file(job_path))
    return parse_job(data, base_dir=job_path.parent, source=str(job_path)), data, spec


def search_job_id(job) -> str:
    """The ``job`` field of the search's events: the queued job's id, else ``NAME-search``."""
    return job.id or f"{job.name}-search"


def _raw_job(data: dict[str, Any], job) -> dict[str, Any]:
    """The job's JSON with its relative paths made absolute (so it runs from anywhere)."""
    data = json.loads(json.dumps(data))
    if isinstance(data.get("dataset"), dict):
        data["dataset"] = {**data["dataset"], "path": job.dataset.path}
    else:
        data["dataset"] = job.dataset.path
    if isinstance(data.get("model"), dict) and job.model.weights:
        data["model"] = {**data["model"], "weights": job.model.weights}
    data.pop("output", None)
    data.pop("id", None)  # a queued search's folder name; the training job gets its own
    return data


def _clear_outputs(out_dir: Path) -> None:
    """Remove an earlier search's results, so no reader mixes two searches."""
    for name in (TRIALS_NAME, BEST_NAME, BEST_JOB_NAME):
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / RUNS_NAME, ignore_errors=True)


def _device_name(choice: str) -> str:
    from trainer.device import select_device
    from trainer.errors import JobFailed

    try:
        return str(select_device(choice))
    except JobFailed as err:
        raise SearchError(err.reason) from None


def run_search(job_path: str | Path, *, trials: int, folds: int = SearchSpec.folds,
               epochs: int = SearchSpec.epochs, seed: int = 0, out_dir: str | Path,
               emit: Callable[[ev.Event], None] | None = None, cancel=None) -> dict[str, Any]:
    """Search lr, batch size and optimizer for a job; returns the content of ``best.json``.

    Parameters
    ----------
    job_path : str or Path
        A training job (``trainer/JOBS.md``).
    trials : int
        Optuna trials (TPE sampler seeded with ``seed``).
    folds : int
        k of the stratified patient-grouped k-fold cross-validation (>= 2).
    epochs : int
        Epochs of every fold run (early stopping off).
    seed : int
        Seeds the sampler and the folds.
    out_dir : str or Path
        Receives ``trials.json``, ``best.json`` and ``runs/``.
    emit : callable, optional
        Receives the events of the search (``job_started``, one ``log`` per finished
        trial, a summary ``log``); default: JSON lines on stdout.
    cancel : trainer.cancel.CancelToken, optional
        Stops the search after the current batch of the current fold run; the trials
        finished by then are kept and ``best.json`` says ``"cancelled": true``.

    Returns
    -------
    dict
        ``metric``, ``best`` (the best trial), ``params``, ``job`` (ready to run),
        ``finished`` and ``planned`` trials, ``cancelled``.

    Raises
    ------
    SearchError
        Invalid job, data that cannot be split into ``folds``, a failed fold run, or no
        trial finished.
    SearchCancelled
        Cancelled before any trial finished.
    """
    import optuna

    from medview.core.atomic import write_text
    from trainer.config import JobError
    from trainer.data.datasets import DatasetError
    from trainer.data.discovery import read_dataset
    from trainer.loop import EXIT_CANCELLED, EXIT_FINISHED, run_job
    from trainer.data.splits import SplitError, stratified_group_kfold

    if trials < 1 or epochs < 1:
        raise SearchError("trials and epochs must be at least 1")
    emit = emit or _print_event
    job_path, out_dir = Path(job_path), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_outputs(out_dir)
    try:
        job, job_data, _spec = load_search_job(job_path)
    except JobError as err:
        raise SearchError(str(err)) from None
    job_id = search_job_id(job)
    try:
        ds = read_dataset(job.dataset)
        kfold = stratified_group_kfold(ds.strata(), ds.groups(), k=folds, seed=seed)
    except (DatasetError, SplitError) as err:
        raise SearchError(f"cannot make {folds} folds of {job.dataset.path}: {err}") from None
    metric = "dice" if ds.task == "segmentation" else "accuracy"
    device = _device_name(job.device)
    emit(ev.JobStarted(job=job_id, task=ds.task, model=job.model.label, dataset=ds.summary.to_dict(),
                       split={"train": int(kfold[0].train.size), "val": int(kfold[0].val.size), "test": 0},
                       device=device))
    emit(ev.Log(job=job_id, level="info", message=(
        f"searching {trials} trial(s) of learning rate, batch size and optimizer; each trained "
        f"{folds} times ({folds}-fold cross-validation by patient) for {epochs} epoch(s) and scored by "
        f"the mean validation {metric}")))
    finished: list[dict[str, Any]] = []

    def fold_score(trial_no: int, params: dict, k: int, fold) -> float | None:
        if cancel is not None and cancel.requested():
            raise _Stop()
        run_dir = out_dir / RUNS_NAME / f"trial-{trial_no:03d}" / f"fold-{k + 1}"
        # the fold runs are short and equal: no time budget, no start check
        fold_job = replace(job, epochs=epochs, early_stopping=0, time_budget_minutes=None,
                           compare_with_scratch=False,
                           freeze_epochs=None if job.freeze_epochs is None else min(job.freeze_epochs, epochs),
                           lr=params["lr"], batch_size=params["batch_size"], optimizer=params["optimizer"],
                           id=f"{job_id}-t{trial_no}-f{k + 1}", resume=False, seed=job.seed + k)
        stream = io.StringIO()
        code = run_job(fold_job, run_dir, stream=stream, cancel=cancel,
                       split={"train": fold.train.tolist(), "val": fold.val.tolist(), "test": []})
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        shutil.rmtree(run_dir / "model", ignore_errors=True)
        if code == EXIT_CANCELLED:
            raise _Stop()
        events = [ev.parse_line(line) for line in stream.getvalue().splitlines() if line.strip()]
        if code != EXIT_FINISHED:
            reason = next((e.reason for e in events if isinstance(e, ev.Failed)), f"exit status {code}")
            raise SearchError(f"trial {trial_no} fold {k + 1} failed: {reason}")
        ends = [e for e in events if isinstance(e, ev.EpochEnd)]
        value = ends[-1].metrics.get(metric) if ends else None
        return float(value) if value is not None and math.isfinite(value) else None

    def objective(trial: optuna.Trial) -> float:
        params = {"lr": trial.suggest_float("lr", *LR_RANGE, log=True),
                  "batch_size": trial.suggest_categorical("batch_size", list(BATCH_SIZES)),
                  "optimizer": trial.suggest_categorical("optimizer", list(OPTIMIZERS))}
        scores = [fold_score(trial.number + 1, params, k, f) for k, f in enumerate(kfold)]
        trial.set_user_attr("fold_scores", scores)
        measured = [s for s in scores if s is not None]
        if not measured:
            raise SearchError(f"trial {trial.number + 1}: validation {metric} was never measurable")
        return sum(measured) / len(measured)

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state != optuna.trial.TrialState.COMPLETE:
            return
        entry = {"number": trial.number + 1, "params": dict(trial.params),
                 "fold_scores": trial.user_attrs.get("fold_scores", []), "mean": trial.value,
                 "metric": metric, "seconds": round(trial.duration.total_seconds(), 1) if trial.duration else None}
        finished.append(entry)
        write_text(out_dir / TRIALS_NAME, json.dumps(
            {"job": str(job_path.resolve()), "metric": metric, "folds": folds, "epochs": epochs, "seed": seed,
             "planned": trials, "trials": finished}, indent=2))
        best = max(finished, key=lambda t: t["mean"])
        folds_text = ", ".join("n/a" if s is None else f"{s:.3f}" for s in entry["fold_scores"])
        p = entry["params"]
        emit(ev.Log(job=job_id, level="info", message=(
            f"trial {entry['number']}/{trials}: lr {p['lr']:.2e}, batch {p['batch_size']}, {p['optimizer']} "
            f"→ mean {metric} {entry['mean']:.3f} (folds {folds_text}); best {best['mean']:.3f} "
            f"(trial {best['number']})")))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    cancelled = False
    try:
        study.optimize(objective, n_trials=trials, callbacks=[after_trial])
    except _Stop:
        cancelled = True
        emit(ev.Log(job=job_id, level="warning", message=f"search cancelled after {len(finished)} trial(s)"))
    if not finished:
        raise SearchCancelled() if cancelled else SearchError("no trial finished")
    best = max(finished, key=lambda t: t["mean"])
    best_job = _raw_job(job_data, job)
    best_job.update(best["params"])
    result = {"metric": metric, "best": best, "params": best["params"], "job": best_job,
              "finished": len(finished), "planned": trials, "cancelled": cancelled}
    write_text(out_dir / BEST_NAME, json.dumps(result, indent=2))
    write_text(out_dir / BEST_JOB_NAME, json.dumps(best_job, indent=2))
    emit(ev.Log(job=job_id, level="info", message=(
        f"best of {len(finished)} trial(s): trial {best['number']}, mean {metric} {best['mean']:.3f}; "
        f"job written to {out_dir / BEST_JOB_NAME}")))
    return result

