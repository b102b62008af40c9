"""Job files: presets, defaults and field-named errors (no torch needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trainer.config import JobError, load_job, parse_job, run_dir_for

BASE = {"dataset": "cases/labels.csv", "model": {"architecture": "resnet18"}}


def job(**fields):
    return parse_job({**BASE, **fields}, base_dir="/data")


def test_defaults_are_filled_in():
    j = job()
    assert j.preset == "full" and j.time_budget_minutes == 30 and not j.compare_with_scratch
    # what the recipe chooses at run time (trainer/recipe.py) stays open
    assert (j.epochs, j.freeze_epochs, j.early_stopping, j.batch_size, j.lr, j.augment, j.input_size) == \
        (None,) * 7
    assert j.optimizer == "adamw" and j.scheduler == "cosine" and j.mask_weight == 0.5
    assert j.dataset.path == "/data/cases/labels.csv"  # relative to the job file's folder
    assert j.name == "cases" and j.version  # named after the data set; dated version
    assert j.class_weights == "balanced" and j.threshold.method == "youden"
    assert job(augment={"rotate": 5}).augment.rotate == 5 and job(augment={"rotate": 5}).augment.flip


def test_presets_set_the_budget_and_explicit_fields_win():
    quick = job(preset="quick")
    assert quick.time_budget_minutes == 10 and quick.compare_with_scratch and quick.epochs is None
    assert job(preset="quick", compare_with_scratch=False).compare_with_scratch is False
    assert job(preset="quick", epochs=3).time_budget_minutes is None  # the epochs are the plan
    assert job(preset="quick", epochs=3, time_budget_minutes=2).time_budget_minutes == 2
    assert job(preset="quick", epochs=8, freeze_epochs=2).freeze_epochs == 2
    adv = job(preset="advanced", optimizer="sgd", scheduler="plateau", lr=0.01, momentum=0.8)
    assert (adv.optimizer, adv.scheduler, adv.lr, adv.momentum) == ("sgd", "plateau", 0.01, 0.8)


def test_base_model_forms():
    assert job(model="chest-demo").model.base == "chest-demo"
    m = job(model="chest-demo/1.2.0").model
    assert (m.base, m.base_version, m.label) == ("chest-demo", "1.2.0", "chest-demo/1.2.0")
    m = job(model={"base": "chest-demo", "version": "2"}).model
    assert (m.base, m.base_version) == ("chest-demo", "2")
    w = job(model={"architecture": "fpn", "arguments": {"encoder_name": "resnet18"}, "weights": "w.pth"}).model
    assert w.weights == "/data/w.pth" and w.arguments == {"encoder_name": "resnet18"}


@pytest.mark.parametrize("fields, field, words", [
    ({"optimizer": "adm"}, "optimizer", ["one of adam, adamw, sgd", "did you mean 'adam'"]),
    ({"epochs": 0}, "epochs", ["at least 1"]),
    ({"epochs": 3, "freeze_epochs": 4}, "freeze_epochs", ["at most epochs (3)"]),
    ({"time_budget_minutes": 0}, "time_budget_minutes", ["at least 0.01"]),
    ({"mask_weight": -1}, "mask_weight", ["at least 0"]),
    ({"lr": "fast"}, "lr", ["finite number"]),
    ({"batchsize": 8}, "batchsize", ["unknown field", "did you mean 'batch_size'"]),
    ({"model": {"architecture": "resnet19"}}, "model.architecture", ["unknown architecture", "resnet18"]),
    ({"model": {"architecture": "resnet18", "arguments": {"num_classes": 3}}}, "model.arguments.num_classes",
     ["set by the trainer"]),
    ({"model": {"architecture": "resnet18", "weights": "w.onnx"}}, "model.weights", [".safetensors"]),
    ({"model": {"base": "x", "architecture": "resnet18"}}, "model", ["either 'base'"]),
    ({"model": "Bad Name"}, "model", ["not a model name"]),
    ({"model": "chest-demo", "input": {"size": 224}}, "input", ["keeps its own input size"]),
    ({"model": "chest-demo", "preprocessing": {"window": "auto"}}, "preprocessing", ["train and serve"]),
    ({"input": {"size": [224]}}, "input.size", ["two integers"]),
    ({"input": {"channels": 2}}, "input.channels", ["1 (grey) or 3"]),
    ({"split": {"val": 0}}, "split.val", ["above 0"]),
    ({"split": {"val": 0.5, "test": 0.45}}, "split.test", ["at least 10 %"]),
    ({"augment": {"rotate": 400}}, "augment.rotate", ["at most 180"]),
    ({"augment": {"flip": "yes"}}, "augment.flip", ["true or false"]),
    ({"threshold": {"method": "sensitivity"}}, "threshold.target_sensitivity", ["required"]),
    ({"class_weights": "even"}, "class_weights", ["'balanced', 'none'"]),
    ({"name": "Chest Model"}, "name", ["not allowed"]),
    ({"workers": -1}, "workers", ["at least 0"]),
    ({"device": "gpu"}, "device", ["one of auto, cpu, cuda"]),
    ({"task": "segmentation", "positive_class": "lesion"}, "positive_class", ["only for classification"]),
])
def test_errors_name_the_field(fields, field, words):
    with pytest.raises(JobError) as info:
        job(**fields)
    assert info.value.field == field
    assert str(info.value).startswith(f"job field '{field}': ")
    for w in words:
        assert w in str(info.value)


def test_missing_dataset_and_model():
    with pytest.raises(JobError, match="job field 'dataset': missing"):
        parse_job({"model": "x"})
    with pytest.raises(JobError, match="job field 'model': missing"):
        parse_job({"dataset": "d"})


def test_load_job_file_errors(tmp_path):
    with pytest.raises(JobError, match="not found"):
        load_job(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ 'single': quotes }")
    with pytest.raises(JobError, match="invalid JSON at line 1"):
        load_job(bad)


def test_run_dir_rules(tmp_path):
    queued = tmp_path / "q" / "job.json"
    other = tmp_path / "chest.json"
    assert run_dir_for(queued, job()) == queued.parent.resolve()
    assert run_dir_for(other, job()) == (tmp_path / "chest").resolve()
    assert str(run_dir_for(other, job(output="runs/a"))) == "/data/runs/a"


def test_resolved_job_round_trips_as_json():
    data = job(class_weights=[1, 2], augment=False).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["augment"]["rotate"] == 0.0 and json.loads(text)["class_weights"] == [1.0, 2.0]


def test_jobs_and_config_and_cli_modules_import_no_torch_or_qt():
    # The trainer tab validates and queues jobs without paying for torch.
    code = ("import sys, trainer.config, trainer.jobs, trainer.cancel, trainer.checkpoints, "
            "medview.commands.train; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'cv2')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_trainer_modules_import_no_qt():
    code = ("import sys, trainer.loop, trainer.data.inputs, trainer.evaluate, trainer.charts, trainer.register, "
            "trainer.losses, trainer.distributed, trainer.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
