"""Pretrain jobs (``"task": "pretrain"``): a backbone from unlabelled images, through the
training jobs' own loop (events, state, cancel file, resume, --register), and a
classification job that starts from it. Tiny: 16 images of 64 px, 32 px views, batch 4."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from medview.demo import synth
from tests.helpers.trainer_jobs import (TINY_CLASSIFIER, events_of, medview_env, run_in_process, run_module,
                                        write_job)
from trainer import events as ev
from trainer.config import JobError, parse_job

TINY_PRETRAIN = {"task": "pretrain", "name": "tiny-backbone", "version": "1",
                 "model": {"architecture": "resnet18"}, "input": {"size": 64}, "views": {"size": 32},
                 "epochs": 2, "batch_size": 4, "workers": 0, "precision": "float32"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """16 unlabelled images of 64 px in nested folders (8 DICOM of 2 studies, 8 PNG) and a
    file that is not an image."""
    root = tmp_path_factory.mktemp("archive")
    rng = np.random.default_rng(3)
    for i in range(8):
        image = _smooth_noise(rng, (64, 64))
        study = synth.StudyInfo(study_uid=f"1.2.826.0.1.3680043.8.498.{7 + i % 2}")
        synth.write_radiograph((np.clip(image * 2000 + 2000, 0, 4095)).astype(np.uint16),
                               root / "dicom" / f"study{i % 2}" / f"{i}.dcm",
                               patient=synth.PatientInfo("TEST^PRETRAIN", "P1"), study=study)
        synth.write_png(_smooth_noise(rng, (64, 48)), root / "png" / f"{i}.png", value_range=(-2.0, 2.0))
    (root / "png" / "notes.dcm").write_text("not an image")
    return root


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Blobs of about 4 px, roughly unit variance: an image with something to learn."""
    import cv2

    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 4.0)
    return noise / noise.std()


def _logs(events) -> list[str]:
    return [e.message for e in events if isinstance(e, ev.Log)]


def test_pretrain_job_writes_a_backbone_and_register_installs_it(archive, tmp_path, isolated, capsys):
    import torch

    from medview.inference.backbones import find_backbone, read_backbone
    from trainer.cli import main

    job = write_job(tmp_path / "run", TINY_PRETRAIN, dataset=[str(archive / "dicom"), str(archive / "png")])
    assert main([str(job), "--register"]) == 0
    events = events_of(capsys.readouterr().out)
    run_dir = tmp_path / "run"
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    assert started.task == "pretrain" and started.model == "resnet18 (simsiam)"
    assert started.dataset["n_images"] == 16 and started.dataset["n_studies"] == 3  # 2 DICOM studies, 1 folder of PNG
    assert started.dataset["skipped"] == 1
    assert any(str(archive / "png" / "notes.dcm") in m and "skipped" in m for m in _logs(events))
    ends = [e for e in events if isinstance(e, ev.EpochEnd)]
    assert [e.epoch for e in ends] == [1, 2] and all(e.train_loss is not None for e in ends)
    assert all(e.metrics["spread"] is not None for e in ends)
    assert any(isinstance(e, ev.Batch) and e.images_per_s for e in events)
    finished = next(e for e in events if isinstance(e, ev.Finished))
    assert finished.model == str(run_dir / "backbone") and finished.metric_name == "loss"
    assert json.loads((run_dir / "state.json").read_text())["state"] == "finished"
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert state["task"] == "pretrain" and state["epoch"] == 2
    info, weights = read_backbone(run_dir / "backbone")
    assert (info.name, info.architecture, info.method, info.input_size) == ("tiny-backbone", "resnet18",
                                                                            "simsiam", (64, 64))
    assert (info.images, info.studies, info.datasets) == (16, 3, [str(archive / "dicom"), str(archive / "png")])
    assert "conv1.weight" in weights and not any(k.startswith("fc.") for k in weights)
    card = (run_dir / "backbone" / "card.md").read_text()
    assert "simsiam, 2 epochs, final loss" in card and "16 image(s) of 3 study(ies)" in card
    assert str(archive / "dicom") in card
    assert events[-1].type == "log" and "registered backbone 'tiny-backbone'" in events[-1].message
    assert find_backbone("tiny-backbone").parent == isolated / "user" / "backbones"


class _CancelAt(io.StringIO):
    """An event stream that creates the run's cancel file when batch ``batch`` of epoch 1 ends."""

    def __init__(self, run_dir: Path, batch: int) -> None:
        super().__init__()
        self.run_dir, self.batch = run_dir, batch

    def write(self, text: str) -> int:
        for line in text.splitlines():
            event = ev.parse_line(line)
            if isinstance(event, ev.Batch) and (event.epoch, event.batch) == (1, self.batch):
                (self.run_dir / "cancel").touch()
        return super().write(text)


def test_cancel_file_stops_the_run_and_resume_goes_on_to_the_end(archive, tmp_path, isolated):
    from trainer.config import load_job
    from trainer.loop import run_job

    # BYOL: the target network (an average of past weights) must survive the resume too
    job_path = write_job(tmp_path / "run", TINY_PRETRAIN, dataset=str(archive), method="byol")
    job, run_dir = load_job(job_path), tmp_path / "run"
    stream = _CancelAt(run_dir, batch=1)
    assert run_job(job, run_dir, stream=stream) == 3
    events = events_of(stream.getvalue())
    last = [e for e in events if isinstance(e, ev.Batch)][-1]
    assert events[-1].type == "cancelled" and any(isinstance(e, ev.CheckpointSaved) for e in events)
    assert json.loads((run_dir / "state.json").read_text())["state"] == "cancelled"
    assert not (run_dir / "backbone").exists()
    out = io.StringIO()
    assert run_job(job, run_dir, resume=True, stream=out) == 0
    events = events_of(out.getvalue())
    assert any("resuming from" in m for m in _logs(events))
    first = next(e for e in events if isinstance(e, ev.Batch))
    # on from after the last batch the cancelled run did (the cancel file may be seen a
    # few batches after it appeared), never from the start
    assert (first.epoch, first.batch) > (last.epoch, last.batch) and (first.epoch, first.batch) != (1, 1)
    assert [e.epoch for e in events if isinstance(e, ev.EpochEnd)] == list(range(first.epoch, 3))
    assert events[-1].type == "finished" and (run_dir / "backbone" / "backbone.json").exists()


def test_two_process_gloo_run_of_moco(archive, tmp_path, isolated):
    # MoCo gathers every process's keys into its queue; only rank 0 speaks and writes
    job = write_job(tmp_path / "run", TINY_PRETRAIN, dataset=str(archive), method="moco", epochs=1)
    proc = run_module("torch.distributed.run", "--standalone", "--nproc_per_node", 2, "-m", "trainer", job,
                      timeout=240, env=medview_env({"OMP_NUM_THREADS": "1"}))
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = events_of(proc.stdout)
    kinds = [e.type for e in events]
    assert kinds.count("job_started") == 1 and kinds.count("finished") == 1 and kinds.count("epoch_end") == 1
    assert next(e for e in events if isinstance(e, ev.JobStarted)).device == "cpu ×2"
    assert next(e for e in events if isinstance(e, ev.Batch)).batches == 4  # 8 images each, 2 per step
    assert (tmp_path / "run" / "backbone" / "backbone.json").exists()


def test_time_budget_ends_the_run_early_with_a_backbone(archive, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_PRETRAIN, dataset=str(archive), epochs=10000,
                    time_budget_minutes=0.1)
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    assert any("time budget reached" in m for m in _logs(events))
    last = [e for e in events if isinstance(e, ev.EpochEnd)][-1]
    assert last.epoch < 10000 and last.epochs == last.epoch and last.eta_s == 0.0
    assert (run_dir / "backbone" / "weights.safetensors").exists()


def test_classification_job_starts_from_the_pretrained_backbone(archive, demo, tmp_path, isolated):
    pre = write_job(tmp_path / "pre", TINY_PRETRAIN, dataset=str(archive), epochs=1, name="clinic-ssl")
    code, events, _ = run_in_process(pre, register=True)
    assert code == 0, events[-1]
    job = write_job(tmp_path / "cls", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    model={"architecture": "resnet18", "backbone": "clinic-ssl"})
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    assert "100 of 102 tensors loaded from backbone clinic-ssl 1 (simsiam)" in _logs(events)
    manifest = json.loads((run_dir / "model" / "model.json").read_text())
    assert manifest["input"]["size"] == [64, 64]  # the backbone's input size


@pytest.mark.parametrize("fields, field, words", [
    ({"methd": "byol"}, "methd", "did you mean 'method'"),
    ({"method": "simclr"}, "method", "simsiam, byol, moco"),
    ({"model": {"architecture": "resnet19"}}, "model.architecture", "did you mean 'resnet18'"),
    ({"model": {"architecture": "fpn"}}, "model.architecture", "cannot be pre-trained"),
    ({"model": "demo-lesion-classifier"}, "model", "learns a backbone"),
    ({"dataset": []}, "dataset", "list of folders"),
    ({"dataset": ["a", 3]}, "dataset[1]", "must name a folder"),
    ({"input": {"size": 16}}, "input.size", "outside 32..1024"),
    ({"views": {"scale": [0.5, 0.2]}}, "views.scale", "low <= high"),
    ({"time_budget_minutes": 0}, "time_budget_minutes", "at least"),
    ({"freeze_epochs": 2}, "freeze_epochs", "unknown field"),
    ({"search": {"trials": 2}}, "search", "no labels"),
])
def test_invalid_pretrain_fields_name_the_field(fields, field, words):
    from trainer.search_spec import split_search

    data = {**TINY_PRETRAIN, "dataset": "archive", **fields}
    with pytest.raises(JobError) as err:
        parse_job(split_search(data)[0])
    assert err.value.field == field and words in str(err.value)


def test_pretrain_job_defaults_and_relative_folders(tmp_path):
    job = parse_job({"task": "pretrain", "dataset": ["a", "b"], "model": {"architecture": "resnet18"}},
                    base_dir=tmp_path)
    assert job.task == "pretrain" and job.dataset == (str(tmp_path / "a"), str(tmp_path / "b"))
    assert job.name == "a-backbone" and job.input_size == (128, 128) and job.view_size == 64
    assert job.view_scale == (0.16, 0.391) and job.method in ("simsiam", "byol")
    assert json.loads(json.dumps(job.to_dict()))["views"] == {"size": 64, "scale": [0.16, 0.391]}
