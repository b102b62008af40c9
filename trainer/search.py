"""Hyper-parameter search: Optuna over learning rate, batch size and optimizer, scored by
stratified, patient-grouped k-fold cross-validation.

Each trial trains the job's model ``folds`` times with the trainer's own loop
(:func:`trainer.loop.run_job` given an explicit train/val split, empty test part); its
score is the mean over folds of the last epoch's validation ``accuracy`` (classification)
or ``dice`` (segmentation). The k folds are made over the whole data set, by patient, and
are the same for every trial.

After each trial one ``log`` event (level ``info``) summarises it and ``OUT/trials.json``
is rewritten (atomically) with every finished trial. At the end ``OUT/best.json`` holds
the best parameters and a ready-to-run job (the original job with them filled in)::

    python -m trainer.search JOB.json --trials 20 --folds 5 --epochs 10 --out search/
    python -m trainer search/best_job.json       # best.json["job"], written out for convenience

Fold runs live in ``OUT/runs/trial-NNN/fold-K`` (events, split; weights are removed).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainer import events as ev

__all__ = ["LR_RANGE", "BATCH_SIZES", "OPTIMIZERS", "SearchError", "run_search", "main"]

LR_RANGE = (1e-5, 1e-2)
BATCH_SIZES = (8, 16, 32)
OPTIMIZERS = ("adam", "adamw", "sgd")


class SearchError(Exception):
    """The search cannot run (bad job, too few patients for k folds, a fold run failed)."""


class _Stop(Exception):
    """A fold run was cancelled: end the search with what is finished."""


def _print_event(event: ev.Event) -> None:
    print(event.to_json(), flush=True)


def _raw_job(job_path: Path, job) -> dict[str, Any]:
    """The job file's JSON with its relative paths made absolute (so it runs from anywhere)."""
    data = json.loads(job_path.read_text(encoding="utf-8-sig"))
    if isinstance(data.get("dataset"), dict):
        data["dataset"] = {**data["dataset"], "path": job.dataset.path}
    else:
        data["dataset"] = job.dataset.path
    if isinstance(data.get("model"), dict) and job.model.weights:
        data["model"] = {**data["model"], "weights": job.model.weights}
    data.pop("output", None)
    return data


def run_search(job_path: str | Path, *, trials: int, folds: int = 5, epochs: int = 5, seed: int = 0,
               out_dir: str | Path, emit: Callable[[ev.Event], None] | None = None) -> dict[str, Any]:
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
        Receives the events of the search (one ``log`` per finished trial); default: JSON
        lines on stdout.

    Raises
    ------
    SearchError
        Invalid job, data that cannot be split into ``folds``, a failed fold run, or no
        trial finished.
    """
    import optuna

    from medview.core.atomic import write_text
    from trainer.config import JobError, load_job
    from trainer.datasets import DatasetError
    from trainer.discovery import read_dataset
    from trainer.loop import EXIT_CANCELLED, EXIT_FINISHED, run_job
    from trainer.splits import SplitError, stratified_group_kfold

    if trials < 1 or epochs < 1:
        raise SearchError("trials and epochs must be at least 1")
    emit = emit or _print_event
    job_path, out_dir = Path(job_path), Path(out_dir).resolve()
    try:
        job = load_job(job_path)
    except JobError as err:
        raise SearchError(str(err)) from None
    job_id = f"{job.id or job.name}-search"
    try:
        ds = read_dataset(job.dataset)
        kfold = stratified_group_kfold(ds.strata(), ds.groups(), k=folds, seed=seed)
    except (DatasetError, SplitError) as err:
        raise SearchError(f"cannot make {folds} folds of {job.dataset.path}: {err}") from None
    metric = "dice" if ds.task == "segmentation" else "accuracy"
    out_dir.mkdir(parents=True, exist_ok=True)
    finished: list[dict[str, Any]] = []

    def fold_score(trial_no: int, params: dict, k: int, fold) -> float | None:
        run_dir = out_dir / "runs" / f"trial-{trial_no:03d}" / f"fold-{k + 1}"
        fold_job = replace(job, epochs=epochs, early_stopping=0, freeze_epochs=min(job.freeze_epochs, epochs),
                           lr=params["lr"], batch_size=params["batch_size"], optimizer=params["optimizer"],
                           id=f"{job_id}-t{trial_no}-f{k + 1}", resume=False, seed=job.seed + k)
        stream = io.StringIO()
        code = run_job(fold_job, run_dir, stream=stream,
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
        write_text(out_dir / "trials.json", json.dumps(
            {"job": str(job_path.resolve()), "metric": metric, "folds": folds, "epochs": epochs, "seed": seed,
             "trials": finished}, indent=2))
        best = max(finished, key=lambda t: t["mean"])
        folds_text = ", ".join("n/a" if s is None else f"{s:.3f}" for s in entry["fold_scores"])
        p = entry["params"]
        emit(ev.Log(job=job_id, level="info", message=(
            f"trial {entry['number']}/{trials}: lr {p['lr']:.2e}, batch {p['batch_size']}, {p['optimizer']} "
            f"→ mean {metric} {entry['mean']:.3f} (folds {folds_text}); best {best['mean']:.3f} "
            f"(trial {best['number']})")))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    try:
        study.optimize(objective, n_trials=trials, callbacks=[after_trial])
    except _Stop:
        emit(ev.Log(job=job_id, level="warning", message=f"search cancelled after {len(finished)} trial(s)"))
    if not finished:
        raise SearchError("no trial finished")
    best = max(finished, key=lambda t: t["mean"])
    best_job = _raw_job(job_path, job)
    best_job.update(best["params"])
    result = {"metric": metric, "best": best, "params": best["params"], "job": best_job}
    write_text(out_dir / "best.json", json.dumps(result, indent=2))
    write_text(out_dir / "best_job.json", json.dumps(best_job, indent=2))
    emit(ev.Log(job=job_id, level="info", message=(
        f"best of {len(finished)} trial(s): trial {best['number']}, mean {metric} {best['mean']:.3f}; "
        f"job written to {out_dir / 'best_job.json'}")))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainer.search JOB.json --trials N --folds K --epochs E --out DIR [--seed S]``."""
    from trainer.__main__ import quiet_threads

    quiet_threads()
    parser = argparse.ArgumentParser(prog="python -m trainer.search", description=__doc__.splitlines()[0])
    parser.add_argument("job", help="training job JSON (trainer/JOBS.md)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output folder (trials.json, best.json, runs/)")
    args = parser.parse_args(argv)
    try:
        run_search(args.job, trials=args.trials, folds=args.folds, epochs=args.epochs, seed=args.seed,
                   out_dir=args.out)
    except SearchError as err:
        print(f"trainer.search: {err}", file=sys.stderr)
        return 1
    except ImportError as err:
        print(f"trainer.search: {err} (pip install optuna)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
