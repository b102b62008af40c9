"""Real training runs as a user starts them: ``python -m trainer job.json`` in a subprocess."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers.trainer_jobs import TINY_CLASSIFIER, events_of, medview_env, run_module, write_job
from trainer import events as ev


def check_protocol(events: list[ev.Event], epochs: int) -> None:
    """The order a reader may rely on: job_started, then per epoch epoch_started, batches
    (numbered upwards), optional checkpoint_saved and epoch_end; then evaluation and finished."""
    kinds = [e.type for e in events if e.type != "log"]
    assert kinds[0] == "job_started" and kinds[-2:] == ["evaluation", "finished"], kinds
    assert len({e.job for e in events}) == 1
    times = [e.time for e in events]
    assert times == sorted(times)
    epoch = 0
    last_batch = 0
    for e in events[1:]:
        if isinstance(e, ev.EpochStarted):
            assert e.epoch == epoch + 1 and e.epochs == epochs
            epoch, last_batch = e.epoch, 0
        elif isinstance(e, ev.Batch):
            assert e.epoch == epoch and last_batch < e.batch <= e.batches
            last_batch = e.batch
        elif isinstance(e, ev.EpochEnd):
            assert e.epoch == epoch
            assert last_batch > 0
    assert epoch == epochs


def test_classifier_run_events_files_and_split(demo, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"), epochs=2,
                    model={"architecture": "resnet18"}, batch_size=6)
    proc = run_module("trainer", job, timeout=180, env=medview_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.strip() == "" or "Traceback" not in proc.stderr
    events = events_of(proc.stdout)  # every stdout line is a valid event
    check_protocol(events, epochs=2)
    started = events[[e.type for e in events].index("job_started")]
    assert started.task == "classification" and started.model == "resnet18" and started.device == "cpu"
    assert started.dataset["classes"] == ["lesion", "normal"] and sum(started.split.values()) == 24
    ends = [e for e in events if isinstance(e, ev.EpochEnd)]
    assert all(set(e.metrics) >= {"accuracy", "auc"} and e.lr > 0 for e in ends)
    evaluation = next(e for e in events if isinstance(e, ev.Evaluation))
    assert set(evaluation.metrics) >= {"accuracy", "sensitivity", "specificity", "threshold"}
    finished = events[-1]
    model_dir = Path(finished.model)
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "card.md", "confusion_matrix.png", "evaluation.json", "model.json", "reference.safetensors",
        "reliability.png", "roc.png",
        "training_curves.png", "weights.safetensors"]
    # the events file holds the same events
    assert [e.type for e in events_of((tmp_path / "run" / "events.jsonl").read_text())] == [e.type for e in events]
    report = json.loads((model_dir / "evaluation.json").read_text())
    assert report["split"]["test"] == started.split["test"] == report["n_test"]
    assert report["threshold"]["picked_on"] in ("validation", "none")
    # the checkpoint opens with the safe unpickler
    import torch
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["batch"] == 0 and "model" in state
    # patient-aware split: no patient on two sides, checked on the job's own split file
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    owners: dict[str, str] = {}
    for part, items in split["parts"].items():
        for item in items:
            assert owners.setdefault(item["group"], part) == part, f"{item['group']} leaks into {part}"
    # ... and the groups are the patients of labels.csv (PNG files carry no patient id themselves)
    with open(demo / "labels.csv", newline="") as fh:
        patient = {str((demo / r["path"]).resolve()): r["patient_id"] for r in csv.DictReader(fh)}
    for items in split["parts"].values():
        for item in items:
            assert item["group"] == f"patient:{patient[str(Path(item['file']).resolve())]}"
    assert json.loads((tmp_path / "run" / "state.json").read_text())["state"] == "finished"
