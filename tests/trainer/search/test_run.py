"""Hyper-parameter search (trainer/search/run.py): Optuna trials scored by patient k-fold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.trainer_jobs import TINY_CLASSIFIER, write_job
from trainer import events as ev

pytest.importorskip("optuna")


def test_search_two_trials_two_folds(tmp_path, isolated):
    from medview.demo.demo_data import write_demo_data
    from trainer.config import parse_job
    from trainer.search.run import BATCH_SIZES, LR_RANGE, OPTIMIZERS, run_search

    write_demo_data(tmp_path / "data", n=6, size=64)
    job = write_job(tmp_path / "job", TINY_CLASSIFIER, dataset="../data/labels.csv",
                    model={"architecture": "resnet18"})
    out = tmp_path / "search"
    seen: list[ev.Event] = []
    best = run_search(job, trials=2, folds=2, epochs=1, seed=0, out_dir=out, emit=seen.append)

    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert [t["number"] for t in trials] == [1, 2]
    for t in trials:
        assert len(t["fold_scores"]) == 2 and all(0.0 <= s <= 1.0 for s in t["fold_scores"])
        assert t["mean"] == pytest.approx(sum(t["fold_scores"]) / 2)
        assert LR_RANGE[0] <= t["params"]["lr"] <= LR_RANGE[1]
        assert t["params"]["batch_size"] in BATCH_SIZES and t["params"]["optimizer"] in OPTIMIZERS
    # job_started, what is searched, one info log per finished trial (shown as it finishes), the summary
    assert isinstance(seen[0], ev.JobStarted) and seen[0].split["test"] == 0
    logs = [e for e in seen if isinstance(e, ev.Log)]
    assert [e.level for e in logs] == ["info"] * 4
    assert logs[0].message.startswith("searching 2 trial(s)")
    assert logs[1].message.startswith("trial 1/2:") and logs[2].message.startswith("trial 2/2:")
    assert all("\n" not in e.message for e in logs)

    saved = json.loads((out / "best.json").read_text())
    assert saved["params"] == best["params"] == max(trials, key=lambda t: t["mean"])["params"]
    parsed = parse_job(saved["job"])  # ready to run from anywhere: paths are absolute
    assert (parsed.lr, parsed.batch_size, parsed.optimizer) == (
        saved["params"]["lr"], saved["params"]["batch_size"], saved["params"]["optimizer"])
    assert Path(parsed.dataset.path).resolve() == (tmp_path / "data" / "labels.csv").resolve()
    # folds split by patient: no patient on both sides
    split = json.loads((out / "runs" / "trial-001" / "fold-1" / "split.json").read_text())
    train = {s["group"] for s in split["parts"]["train"]}
    val = {s["group"] for s in split["parts"]["val"]}
    assert train and val and not train & val and split["parts"]["test"] == []


def test_search_refuses_more_folds_than_patients(tmp_path, isolated):
    from medview.demo.demo_data import write_demo_data
    from trainer.search.run import SearchError, run_search

    write_demo_data(tmp_path / "data", n=6, size=64)
    job = write_job(tmp_path / "job", TINY_CLASSIFIER, dataset=str(tmp_path / "data" / "labels.csv"))
    with pytest.raises(SearchError, match="folds"):
        run_search(job, trials=1, folds=1000, epochs=1, out_dir=tmp_path / "s", emit=lambda e: None)
