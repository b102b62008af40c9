"""A real fine-tuning run learns: starting from the shipped demo segmenter, ``python -m trainer``
on new synthetic patients reaches a stated Dice on its held-out test split.

This is the technician's path: a registered model, the "quick" preset (only the head
learns at first), a handful of new labelled cases. Data: ``medview demo-data --n 16 --size 128 --seed 21``
(patients the demo model never saw; 128 px so it is fast, the model's input is 256).
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.trainer_jobs import events_of, medview_env, run_module, write_job
from trainer import events as ev

SHIPPED = ROOT / "models"
STATED_DICE = 0.5  # the demo segmenter scores ~0.93 on its own test split; a fine-tuned copy must keep ≥ 0.5


@pytest.fixture(scope="module")
def new_patients(tmp_path_factory):
    out = tmp_path_factory.mktemp("new") / "data"
    proc = run_module("medview", "demo-data", out, "--n", 16, "--size", 128, "--seed", 21, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.skipif(not (SHIPPED / "demo-lesion-segmenter" / "model.json").exists(),
                    reason="the shipped demo segmenter is missing (scripts/train_demo_models.py)")
@pytest.mark.slow
def test_quick_fine_tune_of_the_demo_segmenter_reaches_the_stated_dice(new_patients, tmp_path, isolated):
    job = write_job(tmp_path / "run", {}, name="clinic-lesions", version="1.0.0",
                    dataset={"path": str(new_patients / "segmentation"), "class_names": ["background", "lesion"]},
                    model="demo-lesion-segmenter", preset="quick", epochs=2, batch_size=4, workers=0,
                    split={"val": 0.2, "test": 0.3, "seed": 0})
    env = medview_env({"MEDVIEW_MODELS_DIR": str(SHIPPED)})
    proc = run_module("trainer", job, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = events_of(proc.stdout)
    logs = " ".join(e.message for e in events if isinstance(e, ev.Log))
    assert "all " in logs and "tensors loaded from demo-lesion-segmenter 2.0.0" in logs
    assert "backbone frozen" in logs
    evaluation = next(e for e in events if isinstance(e, ev.Evaluation))
    assert evaluation.metrics["dice"] >= STATED_DICE, evaluation.metrics
    report = json.loads((tmp_path / "run" / "model" / "evaluation.json").read_text())
    assert report["parent"].startswith("fine-tuned from demo-lesion-segmenter 2.0.0")
    manifest = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert manifest["input"]["size"] == [256, 256]  # the base model's input and preprocessing are kept
    assert "onnx" not in manifest and "int8" not in manifest  # the base's graphs are not this model's
