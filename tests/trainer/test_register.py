"""A trained model goes into the user registry and ``medview analyze --model NAME`` uses it at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medview import cli
from medview.inference.registry import Registry
from tests.helpers.trainer_jobs import (TINY_CLASSIFIER, TINY_SEGMENTER, events_of, medview_env, run_in_process,
                                         run_module, write_job)
from trainer import events as ev


def _analyze(name: str, *paths, extra=()) -> list[dict]:
    proc = run_module("medview", "analyze", "--model", name, "--engine", "torch", "--device", "cpu", *extra, *paths,
                      timeout=180, env=medview_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.slow
def test_medview_train_register_then_analyze(demo, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    name="clinic-chest", version="2.0.0",
                    card={"intended_use": "Demo of the trainer in a test.", "limitations": "Tiny."})
    # --force: a 1-epoch model of 24 images may well be no better than chance (tests/trainer/
    # test_register.py::test_below_chance_model_needs_force covers the refusal)
    proc = run_module("medview", "train", job, "--register", "--force", timeout=180, env=medview_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = events_of(proc.stdout)  # `medview train` speaks the same protocol as python -m trainer
    assert events[-1].type == "log" and "registered as 'clinic-chest' version 2.0.0" in events[-1].message
    assert any(isinstance(e, ev.Finished) for e in events)
    entry = Registry().find("clinic-chest")
    assert entry.source == "user" and entry.path.parent == isolated / "user" / "models"
    card = entry.manifest.card
    assert card.intended_use == "Demo of the trainer in a test."
    assert "24 images (lesion 12, normal 12) of 9 patients" in card.training_data
    assert "split by patient" in card.training_data
    assert "random initialisation (mobilenet_v3_small)" in card.training_data
    assert {"test_accuracy", "test_sensitivity", "test_specificity", "test_images"} <= set(card.metrics)
    assert "Tiny." in card.limitations and card.date
    assert set(entry.manifest.thresholds) == {"lesion"} and entry.manifest.weights.sha256
    assert (entry.path / "card.md").exists() and (entry.path / "evaluation.json").exists()
    image = sorted((demo / "classification" / "lesion").glob("*.dcm"))[0]
    (line,) = _analyze("clinic-chest", image)
    assert (line["model"], line["version"], line["task"]) == ("clinic-chest", "2.0.0", "classification")
    assert set(line["probabilities"]) == {"lesion", "normal"}


def test_register_model_command_and_segmenter_analyze(demo, tmp_path, isolated, capsys):
    job = write_job(tmp_path / "run", TINY_SEGMENTER, dataset={"path": str(demo / "segmentation"),
                                                               "class_names": ["background", "lesion"]})
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    force = ["--force"]  # a 1-epoch segmenter finds (almost) nothing: below chance
    assert cli.main(["register-model", str(run_dir), "--name", "seg-test", "--version", "0.1", *force]) == 0
    assert "registered seg-test 0.1" in capsys.readouterr().out
    # the same again is refused with a reason; --replace overwrites
    assert cli.main(["register-model", str(run_dir), "--name", "seg-test", "--version", "0.1", *force]) == 2
    assert "already installed" in capsys.readouterr().err
    assert cli.main(["register-model", str(run_dir), "--name", "seg-test", "--version", "0.1", "--replace",
                     *force]) == 0
    manifest = Registry().find("seg-test").manifest
    assert manifest.classes == ("lesion",) and manifest.activation == "sigmoid"
    image = sorted((demo / "segmentation" / "images").iterdir())[0]
    (line,) = _analyze("seg-test", image, extra=("--out", str(tmp_path / "masks")))
    assert line["task"] == "segmentation" and Path(line["mask"]).exists() and "lesion" in line["areas"]


def test_a_lesion_unet_registers_and_its_graph_gives_the_networks_mask(demo, tmp_path, isolated, capsys):
    """medview's own segmenter goes through training, registration and the ONNX graph; the
    graph's mask is the torch network's."""
    import numpy as np

    from medview.core.io.folder import load_paths
    from medview.inference.analyze import Analyzer, open_model

    job = write_job(tmp_path / "run", TINY_SEGMENTER, dataset={"path": str(demo / "segmentation"),
                                                               "class_names": ["background", "lesion"]},
                    model={"architecture": "lesion_unet"}, epochs=2, lr=3e-3, patch_size=32)
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    train = next(e for e in events if isinstance(e, ev.JobStarted)).split["train"]
    batches = {e.batches for e in events if isinstance(e, ev.Batch)}
    assert batches == {-(-4 * train // 4)}  # four 32-px patches per 64-px image, 4 per batch
    assert cli.main(["register-model", str(run_dir), "--name", "small-seg", "--version", "0.1", "--force"]) == 0
    entry = Registry().find("small-seg")
    assert entry.manifest.architecture.name == "lesion_unet" and entry.manifest.activation == "sigmoid"
    image = sorted((demo / "segmentation" / "images").iterdir())[0]
    frame = load_paths([str(image)]).frames()[0]
    graph = Analyzer(open_model(entry), audit=None, engine="onnxruntime", precision="fp32")  # int8 is approximate
    assert graph.model.module is None  # the graph alone, no torch network
    torch_net = Analyzer(Registry().load("small-seg"), audit=None, engine="torch")
    a, b = (x.analyze(frame, outside_scope=True) for x in (graph, torch_net))
    assert (a.engine, b.engine) == ("onnxruntime", "torch")
    # ONNX Runtime's and oneDNN's kernels sum in other orders; the normalised contrast divides
    # by small local deviations: the two differed by 3.6e-4 once in CI
    assert a.probabilities["lesion"] == pytest.approx(b.probabilities["lesion"], abs=1e-3)
    assert np.mean(a.mask != b.mask) < 1e-3  # a pixel may sit on the threshold


def test_register_refuses_unfinished_run(tmp_path, isolated, capsys):
    assert cli.main(["register-model", str(tmp_path)]) == 2
    assert "no trained model here" in capsys.readouterr().err


def test_below_chance_model_needs_force(tmp_path, isolated, capsys):
    """Also: a data set without patient IDs is said to be split by image (card, report, events)."""
    import cv2
    import numpy as np

    image = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    data = tmp_path / "coin"
    for label in ("lesion", "normal"):
        (data / label).mkdir(parents=True)
        for i in range(10):
            cv2.imwrite(str(data / label / f"{label}{i}.png"), image)
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(data), name="coin", version="1.0.0")
    proc = run_module("medview", "train", job, "--register", timeout=180, env=medview_env())
    assert proc.returncode == 4, proc.stderr[-2000:]  # finished, not registered
    events = events_of(proc.stdout)
    warnings = [e.message for e in events if isinstance(e, ev.Log) and e.level == "warning"]
    assert any(m.startswith("below chance: the last epoch's validation AUC is 0.500") for m in warnings)
    refusal = events[-1]
    assert refusal.level == "error" and "below chance" in refusal.message and "add --force" in refusal.message
    model = tmp_path / "run" / "model"
    report = json.loads((model / "evaluation.json").read_text())
    assert report["below_chance"].startswith("below chance")
    assert "WARNING: below chance" in (model / "card.md").read_text()
    card = json.loads((model / "model.json").read_text())["card"]
    assert card["limitations"].startswith("WARNING, below chance")
    # PNG files without patient ID: the split was by image, and every place says so
    assert report["split"]["by"] == "image"
    assert "split by image (no image has a patient ID)" in card["training_data"]
    assert "split by patient" not in card["training_data"] and "may be in both training and test" in card["limitations"]
    assert any(m.startswith("no image has a patient ID: the split is by image") for m in warnings)
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    assert started.dataset["split_by"] == "image" and any("leakage" in w for w in started.dataset["warnings"])
    assert not Registry().available() or all(e.name != "coin" for e in Registry().available())

    assert cli.main(["register-model", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "below chance" in err and "add --force" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["register-model", str(tmp_path / "run"), "--force"]) == 0
    assert Registry().find("coin").source == "user"
