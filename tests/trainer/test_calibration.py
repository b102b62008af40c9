"""Calibrated probabilities: temperature scaling fitted on validation, applied by every engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainer.config import JobError, parse_job

from medview.inference.analyze import classification_fields
from medview.inference.manifest import read_manifest
from tests.helpers.trainer_jobs import TINY_CLASSIFIER, medview_env, run_module, write_job
from trainer import calibration as C


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _overconfident(n: int = 4000, true_t: float = 3.0, seed: int = 0):
    """Labels drawn from softmax(z); the model reports softmax(true_t * z): over-confident."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, 3))
    labels = np.array([rng.choice(3, p=p) for p in _softmax(z)])
    return _softmax(true_t * z), labels


def test_fit_recovers_the_temperature_of_an_overconfident_model():
    probs, labels = _overconfident()
    assert C.fit_temperature(probs, labels) == pytest.approx(3.0, rel=0.1)


def test_scaling_lowers_the_calibration_error_and_keeps_every_decision():
    probs, labels = _overconfident()
    t = C.fit_temperature(probs, labels)
    scaled = C.scale(probs, t)
    assert C.reliability(scaled, labels)["ece"] < C.reliability(probs, labels)["ece"] / 3
    assert (scaled.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert np.allclose(scaled.sum(axis=1), 1.0)


def test_reliability_bins_and_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 1])
    rel = C.reliability(probs, labels, bins=2)
    # bin (0.5, 1.0]: confidences 0.9, 0.8, 0.7, 0.55, correct 1, 0, 1, 1
    assert rel["bins"] == [{"lower": 0.5, "upper": 1.0, "count": 4,
                            "confidence": pytest.approx(0.7375), "accuracy": 0.75}]
    assert rel["ece"] == pytest.approx(0.0125)
    assert C.reliability(np.zeros((0, 2)), np.zeros(0))["ece"] is None


def test_a_perfectly_separated_validation_set_is_no_estimate():
    """Every image right: the NLL falls as T goes to 0, so the fit ends at the range's end."""
    probs = np.array([[0.7, 0.3], [0.4, 0.6], [0.8, 0.2], [0.35, 0.65]] * 5)
    labels = probs.argmax(axis=1)
    t = C.fit_temperature(probs, labels)
    assert C.too_sharp(t) and not C.too_sharp(3.0) and not C.uninformative(t)


def test_scores_that_say_nothing_are_flattened_not_refused():
    rng = np.random.default_rng(1)
    probs = _softmax(rng.normal(0, 3, (500, 2)))  # confident, and unrelated to the labels
    labels = rng.integers(0, 2, 500)
    t = C.fit_temperature(probs, labels)
    assert C.uninformative(t)
    assert np.abs(C.scale(probs, t) - 0.5).max() < 0.4


def test_no_images_keep_temperature_one():
    assert C.fit_temperature(np.zeros((0, 2)), np.zeros(0, np.int64)) == 1.0


def test_the_manifest_temperature_divides_the_logits(tmp_path):
    from dataclasses import replace

    manifest = replace(read_manifest(Path(__file__).resolve().parents[2] / "models"
                                     / "demo-lesion-classifier"), temperature=1.0)
    logits = np.array([2.0, -1.0])
    plain = classification_fields(logits, manifest)["probabilities"]
    cooled = classification_fields(logits, replace(manifest, temperature=2.0))["probabilities"]
    assert plain["lesion"] == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert cooled["lesion"] == pytest.approx(1 / (1 + np.exp(-1.5)))


def test_a_run_stores_temperature_reliability_and_intended_input(demo, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    epochs=2, split={"val": 0.45, "test": 0.3, "seed": 0})
    proc = run_module("trainer", job, timeout=300, env=medview_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    model_dir = tmp_path / "run" / "model"
    report = json.loads((model_dir / "evaluation.json").read_text())
    cal = report["calibration"]
    # A 2-epoch run on 11 validation images may separate them perfectly: then no estimate.
    if cal["fitted_on"] == "validation":
        assert C.TEMPERATURE_RANGE[0] < cal["temperature"] < C.TEMPERATURE_RANGE[1]
        assert "calibrated on the validation split" in proc.stdout
    else:
        assert cal["temperature"] == 1.0 and "not calibrated" in cal["note"]
        assert "probabilities not calibrated" in proc.stdout
    # Fitting minimises the validation NLL, so it cannot make the validation ECE much worse
    # than doing nothing; the test set's figures are reported both ways.
    assert set(cal["test"]) == {"ece_before", "ece_after", "bins_before", "bins_after"}
    assert sum(b["count"] for b in cal["test"]["bins_after"]) == report["n_test"]
    manifest = read_manifest(model_dir)
    assert manifest.temperature == pytest.approx(cal["temperature"])
    assert (model_dir / "reliability.png").stat().st_size > 0
    # No declaration in the job: the training images' DICOM tags (DX chest PA) decide; the
    # PNG half of the demo data means plain images are accepted too.
    intended = manifest.intended_input
    assert (intended.modalities, intended.body_parts, intended.views) == (
        ("DX",), ("CHEST",), ("PA",))
    assert intended.non_dicom and intended.image_size == (32, 128)
    assert "intended input, from the data set's DICOM tags: chest radiographs (DX, PA)" \
        in proc.stdout
    card = (model_dir / "card.md").read_text()
    assert "## Intended input\n\nchest radiographs (DX, PA)" in card
    assert "- probabilities: temperature" in card
    assert "training images flags" in card and "expected calibration error" in card
    # The test report's probabilities are the calibrated ones the engines will give.
    probs = np.array([[p["probabilities"][c] for c in report["classes"]]
                      for p in report["predictions"]])
    assert C.reliability(probs, np.array([report["classes"].index(p["true"])
                                          for p in report["predictions"]]))["ece"] == \
        pytest.approx(cal["test"]["ece_after"])


@pytest.mark.slow
def test_a_job_states_its_intended_input(demo, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    epochs=1, intended_input={"modalities": ["CR"], "body_parts": ["chest"],
                                              "description": "our CR chest films"})
    proc = run_module("trainer", job, timeout=300, env=medview_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    intended = read_manifest(tmp_path / "run" / "model").intended_input
    assert intended.modalities == ("CR",) and intended.body_parts == ("CHEST",)
    assert intended.describe() == "our CR chest films (CR)"


def test_a_bad_intended_input_names_the_job_field():
    data = dict(TINY_CLASSIFIER, dataset="x.csv", intended_input={"body_parts": ["CHEEST"]})
    with pytest.raises(JobError, match="intended_input.body_parts.*did you mean 'chest'"):
        parse_job(data)
