"""Next most useful case and the retrained-model comparison: the ranking puts the case the
model is unsure of first, the comparison gives the figures its fixture implies, and the
commands fail in one line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from medview.cli import main
from medview.labels.compare import held_out_cases, summarise
from medview.labels.heldout import is_held_out
from medview.labels.labelling import Labeller
from medview.labels.uncertainty import Outputs, order, unlabelled
from tests.helpers.trainer_files import run_model_from

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "demo-lesion-classifier"


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main(["labels", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _labelled(project) -> Labeller:
    """Every image labelled with its folder's class."""
    labeller = Labeller.open(project.path)
    for im in labeller.images.images:
        labeller.assign(im, im.path.parent.name)
    return labeller


def test_the_case_the_model_is_unsure_of_comes_first(project):
    labeller = Labeller.open(project.path)
    a, b, c, d = labeller.images.images[:4]
    labeller.assign(d, "normal")
    todo = unlabelled(labeller)
    assert d not in todo and a in todo  # a labelled image is not offered again
    outputs = {a.id: Outputs([np.array([0.9, 0.1]), np.array([0.1, 0.9])]),   # views disagree
               b.id: Outputs([np.array([0.5, 0.5]), np.array([0.5, 0.5])]),   # unsure, stable
               c.id: Outputs([np.array([0.99, 0.01]), np.array([0.98, 0.02])]),
               d.id: Outputs([np.array([0.5, 0.5]), np.array([0.5, 0.5])])}
    by_entropy = order(todo, outputs, "entropy", ("normal", "lesion"))
    assert [r.image for r in by_entropy] == [b, a, c]
    assert by_entropy[0].score == pytest.approx(1.0) and by_entropy[1].label == "normal"
    by_flips = order(todo, outputs, "flips")
    # flips: only where the two views disagree; the stable 50/50 case comes last
    assert [r.image for r in by_flips] == [a, c, b] and by_flips[2].score == pytest.approx(0.0)


def test_comparison_on_a_fixture_gives_its_figures(project):
    labeller = _labelled(project)
    images = labeller.images.images
    truth = [labeller.store.get(im.id).value for im in images]
    manifest = SimpleNamespace(name="m", classes=("lesion", "normal"))

    def answers(right: bool):
        out = []
        for t in truth:
            says = t if right else ("normal" if t == "lesion" else "lesion")
            p = 0.8 if says == "lesion" else 0.3
            out.append(SimpleNamespace(label=says, probabilities={"lesion": p, "normal": 1 - p}))
        return out

    done = summarise(labeller, ["A", "B"], [manifest, manifest], [answers(True), answers(False)],
                     images)
    auc, accuracy = done.metrics
    assert (auc.name, auc.values, auc.difference) == ("AUC", (1.0, 0.0), -1.0)
    assert accuracy.values == (1.0, 0.0) and accuracy.difference_interval == (-1.0, -1.0)
    assert auc.intervals == ((1.0, 1.0), (0.0, 0.0))
    assert len(done.disagreements()) == len(images) == 12
    assert done.disagreements()[0].scores == pytest.approx((0.8, 0.3)) or \
        done.disagreements()[0].scores == pytest.approx((0.3, 0.8))
    back = type(done).from_json(json.loads(json.dumps(done.to_json())))
    assert back.lines() == done.lines()
    assert "AUC         1.000 [1.000, 1.000]" in "\n".join(done.lines())


def test_held_out_cases_leave_out_what_a_run_trained_on(project, tmp_path):
    labeller = _labelled(project)
    images = labeller.images.images
    held = [im for im in images if is_held_out(im, labeller.store.get(im.id).patient_id)]
    others = [im for im in images if im not in held]
    run = tmp_path / "run"
    run.mkdir()
    parts = {"train": others[:-2] + held[:1], "val": [], "test": others[-2:]}
    (run / "split.json").write_text(json.dumps({"parts": {
        name: [{"file": str(im.path), "frame": 0} for im in ims]
        for name, ims in parts.items()}}))
    chosen, notes = held_out_cases(labeller, [run])
    assert held and set(chosen) == set(held[1:])  # not the run's test part: seen before?
    assert "1 images of held-out patients were trained on" in notes[1]
    parts["train"] = others[:-2] + held  # every held-out patient trained on: the test part
    (run / "split.json").write_text(json.dumps({"parts": {
        name: [{"file": str(im.path), "frame": 0} for im in ims]
        for name, ims in parts.items()}}))
    chosen, notes = held_out_cases(labeller, [run])
    assert set(chosen) == set(others[-2:]) and "may have been trained on" in notes[-1]


def test_next_lists_the_most_uncertain_unlabelled_images(project, capsys, isolated):
    code, out, err = _run(capsys, "next", project.path, "--model", SHIPPED, "--n", "3", "--json")
    found = json.loads(out)
    assert code == 0 and len(found["images"]) == 3 and found["model"].startswith("demo-lesion")
    scores = [im["score"] for im in found["images"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


@pytest.mark.parametrize("args, message", [
    (["next", "{project}"], "no model in use for this project; give --model NAME"),
    (["next", "{project}", "--model", "no-such-model"], "no-such-model"),
    (["next", "{project}", "--model", "{tmp}"], "not a model folder or training run"),
    (["next", "{project}", "--n", "0"], "--n must be at least 1"),
    (["compare", "{project}", "--model", "{shipped}"], "give --model twice"),
    (["next", "{project}", "--model", "{segmenter}"], "does segmentation, project"),
])
def test_bad_input_is_one_line_and_exit_2(project, tmp_path, capsys, isolated, args, message):
    fill = {"project": project.path, "tmp": tmp_path, "shipped": SHIPPED,
            "segmenter": SHIPPED.parent / "demo-lesion-segmenter"}
    code, out, err = _run(capsys, *[a.format(**fill) for a in args])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message.format(**fill) in err and "Traceback" not in err


def test_compare_a_training_run_with_the_model_in_use(project, tmp_path, capsys, isolated):
    """A run folder's model without a graph gets one; cases it trained on are left out."""

    labeller = _labelled(project)
    run = tmp_path / "run"
    run_model_from(SHIPPED, run)
    trained = [im for im in labeller.images.images if im.path.name.startswith("c001")]
    (run / "split.json").write_text(json.dumps({"parts": {
        "train": [{"file": str(im.path), "frame": 0} for im in trained], "val": [], "test": []}}))
    project.model = str(SHIPPED)
    project.save()
    code, out, err = _run(capsys, "compare", project.path, "--model", run, "--json")
    assert code == 0, err
    done = json.loads(out)
    assert "making the ONNX graph" in err and (run / "model" / "model.onnx").is_file()
    ids = {c["id"] for c in done["cases"]}
    held = {im.id for im in labeller.images.images
            if is_held_out(im, labeller.store.get(im.id).patient_id)}
    assert ids == held - {im.id for im in trained}
    auc = done["metrics"][0]
    assert auc["name"] == "AUC" and auc["values"][0] == pytest.approx(auc["values"][1], abs=1e-6)
    assert auc["difference"] == pytest.approx(0.0, abs=1e-6)  # the same weights


def test_segmentation_comparison_pools_dice_over_the_cases(cases, tmp_path):
    from medview.labels.exchange import read_mask
    from medview.labels.project import Project

    images = cases / "segmentation" / "images"
    project = Project.create(tmp_path / "s.json", "segmentation", ["lesion"], [images],
                             tmp_path / "labels")
    labeller = Labeller.open(project.path)
    dicom = [im for im in labeller.images.images if im.path.suffix == ".dcm"][:3]
    truths = []
    for im in dicom:
        truths.append(read_mask(cases / "segmentation" / "masks" / f"{im.path.stem}.png"))
        labeller.set_mask(im, truths[-1])
    assert all(t.any() for t in truths[:2])

    def result(mask):
        return SimpleNamespace(mask=mask.astype(np.uint8), mask_values={1: "lesion"},
                               areas={"lesion": SimpleNamespace(value=float(mask.sum()))})

    half = [np.where(np.arange(t.shape[1]) < t.shape[1] // 2, t, 0) for t in truths]
    manifest = SimpleNamespace(name="m", classes=("background", "lesion"))
    done = summarise(labeller, ["A", "B"], [manifest, manifest],
                     [[result(t) for t in truths], [result(h) for h in half]], dicom)
    dice, = done.metrics
    inter = sum(int((h > 0).sum()) for h in half)
    expected = 2 * inter / (sum(int((t > 0).sum()) for t in truths) + inter)
    assert dice.name == "Dice" and dice.values[0] == 1.0
    assert dice.values[1] == pytest.approx(expected)
    assert [c.scores[0] for c in done.cases] == [1.0, 1.0, 1.0]
    assert all(c.truth == "lesion" or not c.truth for c in done.cases)
