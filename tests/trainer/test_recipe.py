"""The recipe: the fingerprint of a data set, the settings it chooses, the time budget, the
auxiliary mask loss of a classification CSV with masks, and the start check of the quick
preset. Tiny data (64 px PNGs made here), 1-2 epochs; no assertion on wall-clock time."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from dataclasses import replace
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from tests.helpers.trainer_jobs import TINY_CLASSIFIER, run_in_process, write_job
from trainer import events as ev
from trainer import recipe as R
from trainer.config import AugmentSpec, parse_job
from trainer.data.fingerprint import Fingerprint, ObjectSize, fingerprint

SIZE, RADIUS = 64, 8


def _write_set(root: Path, n_lesion: int = 12, n_normal: int = 8, masks: bool = True) -> Path:
    """64 px PNGs: a bright disc of radius 8 on noise ('lesion', with its mask) or noise
    alone ('normal'); labels.csv with a mask column."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for i in range(n_lesion + n_normal):
        lesion = i < n_lesion
        image = rng.normal(90, 12, (SIZE, SIZE))
        mask = np.zeros((SIZE, SIZE), np.uint8)
        if lesion:
            centre = tuple(int(v) for v in rng.integers(RADIUS + 4, SIZE - RADIUS - 4, 2))
            cv2.circle(mask, centre, RADIUS, 255, -1)
            image[mask > 0] += 120
        cv2.imwrite(str(root / "images" / f"{i:02d}.png"), np.clip(image, 0, 255).astype(np.uint8))
        mask_rel = ""
        if lesion and masks:
            mask_rel = f"masks/{i:02d}.png"
            cv2.imwrite(str(root / mask_rel), mask)
        rows.append((f"images/{i:02d}.png", "lesion" if lesion else "normal", f"P{i:02d}", mask_rel))
    with open(root / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["path", "label", "patient_id", "mask"])
        w.writerows(rows)
    return root / "labels.csv"


@pytest.fixture(scope="module")
def discs(tmp_path_factory) -> Path:
    return _write_set(tmp_path_factory.mktemp("discs"))


def _fp(task="classification", smallest=100, objects=None, image_size=(512, 512)) -> Fingerprint:
    return Fingerprint(task, 2 * smallest, {"a": smallest, "b": smallest}, smallest, 1.0, image_size, "CR",
                       0, objects)


def _job(**fields):
    return parse_job({"dataset": "x.csv", "model": {"architecture": "resnet18"}, **fields}, base_dir="/d")


# ----------------------------------------------------------------------- fingerprint

def test_fingerprint_of_a_classification_csv_with_masks(discs):
    from trainer.data.datasets import discover

    ds = discover(discs)
    assert ds.summary.n_masks == 12 and ds.summary.to_dict()["masks"] == 12
    assert sum(s.mask is not None for s in ds.samples) == 12
    fp = fingerprint(ds)
    assert (fp.images, fp.per_class, fp.smallest_class) == (20, {"lesion": 12, "normal": 8}, 8)
    assert fp.balance == pytest.approx(8 / 12) and fp.image_size == (64, 64) and fp.masks == 12
    assert fp.modality is None  # PNG: no DICOM header
    assert fp.objects.objects == 12 and fp.objects.masks == 12
    # a disc of radius 8 is about 16 px across: a quarter of the 64 px side
    assert fp.objects.median == pytest.approx(2 * RADIUS / SIZE, rel=0.08)
    assert json.dumps(fp.to_dict()) and "12 with masks" in fp.describe()


def test_an_unusable_mask_is_left_out_and_its_image_kept(tmp_path):
    from trainer.data.datasets import discover

    csv_path = _write_set(tmp_path, n_lesion=3, n_normal=3)
    cv2.imwrite(str(tmp_path / "masks" / "00.png"), np.zeros((32, 32), np.uint8))  # wrong size
    ds = discover(csv_path)
    assert len(ds.samples) == 6 and ds.summary.n_masks == 2
    assert any("1 mask(s) not used" in w and "00.png" in w for w in ds.summary.warnings)


# ----------------------------------------------------------------------- choices

def test_small_objects_get_a_larger_input():
    small, _ = R._input_size(_fp(objects=ObjectSize(0.06, 0.05, 10, 10)))
    large, _ = R._input_size(_fp(objects=ObjectSize(0.2, 0.15, 10, 10)))
    assert large < small and small == 320  # 16 px / 5 % = 320 px
    assert R._input_size(_fp(objects=ObjectSize(0.01, 0.005, 10, 10)))[0] == R.MAX_SIZE["classification"]
    assert R._input_size(_fp())[0] == 224  # no masks: the usual size
    assert R._input_size(_fp(image_size=(100, 90)))[0] == R.MIN_SIZE  # never above the images


def test_fewer_images_get_stronger_augmentation_and_more_epochs_per_budget():
    few, _ = R.choose(_job(), _fp(smallest=20), n_train=30)
    many, _ = R.choose(_job(), _fp(smallest=1000), n_train=1400)
    assert few.augment.rotate > many.augment.rotate and few.augment.scale > many.augment.scale
    assert few.batch_size < many.batch_size
    r = R.Recipe(_fp())
    seconds, per_image = 600.0, 0.02
    small = R.plan_epochs(few, r, seconds, R.epoch_seconds(1 / per_image, 30, 6))
    large = R.plan_epochs(many, r, seconds, R.epoch_seconds(1 / per_image, 1400, 300))
    assert small.epochs == R.MAX_EPOCHS and large.epochs < small.epochs
    assert small.warmup_epochs > 0 and small.early_stopping == 0 and small.freeze_epochs == 0


def test_small_findings_are_augmented_in_every_orientation():
    small = ObjectSize(0.07, 0.05, 80, 80)
    for task in ("classification", "segmentation"):
        job, r = R.choose(_job(task=task), replace(_fp(objects=small), task=task, masks=80), 160)
        assert (job.augment.vflip, job.augment.rotate) == (True, 180.0)
        assert "no orientation" in r.reasons["augment"]
        # findings pasted between training images (a classifier's image then shows one)
        assert job.augment.paste == R.PASTE_SHARE and "cut from another" in r.reasons["augment"]
        plain, r = R.choose(_job(task=task), replace(_fp(objects=ObjectSize(0.3, 0.25, 80, 80)), task=task), 160)
        assert (plain.augment.vflip, plain.augment.rotate) == (False, 15.0)  # anatomy keeps its way up
        assert "orientation" not in r.reasons["augment"] and plain.augment.paste == 0.0
    # a classifier's pasted finding must make its one finding class, learnt from the masks
    for job, classes in ((_job(mask_weight=0.0), ["a", "b"]), (_job(), ["a", "b", "c"])):
        unpasted, r = R.choose(job, replace(_fp(objects=small), masks=80), 160, classes)
        assert unpasted.augment.vflip and unpasted.augment.paste == 0.0 and "cut from" not in r.reasons["augment"]
    # the level still sets the rest
    few, _ = R.choose(_job(), _fp(smallest=20, objects=small), 30)
    assert few.augment.scale == R.AUGMENT_LEVELS[0][2].scale


def test_the_last_epoch_is_kept_when_the_schedule_settles_and_nothing_stops_early():
    from trainer.job_common import JobError

    job, r = R.choose(_job(), _fp(), 160)
    assert (job.early_stopping, job.final_weights) == (0, "last") and "cosine" in r.reasons["final_weights"]
    for fields, why in [({"early_stopping": 5}, "early stopping is on"),
                        ({"scheduler": "step"}, "step schedule")]:
        job, r = R.choose(_job(**fields), _fp(), 160)
        assert job.final_weights == "best" and why in r.reasons["final_weights"]
    job, r = R.choose(_job(final_weights="best"), _fp(), 160)
    assert job.final_weights == "best" and "final_weights" in r.given
    with pytest.raises(JobError, match="final_weights"):
        _job(final_weights="last", early_stopping=3)


@pytest.mark.parametrize("final_weights", ["best", "last"])
def test_the_model_holds_the_weights_of_the_kept_epoch(final_weights, demo, tmp_path, isolated):
    import torch

    from medview.inference.weights import read_safetensors

    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"), epochs=4,
                    lr=0.05, final_weights=final_weights)
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    report = json.loads((run_dir / "model" / "evaluation.json").read_text())
    scores = [h["metrics"]["auc"] for h in report["history"]]
    kept = report["best_epoch"]
    assert report["final_weights"] == final_weights
    assert kept == 4 if final_weights == "last" else scores[kept - 1] == max(scores)
    final = next(e.message for e in events if isinstance(e, ev.Log) and e.message.startswith("final model"))
    assert ("the last epoch's weights (epoch 4" if final_weights == "last"
            else f"the weights of epoch {kept} (best") in final
    saved = [e.epoch for e in events if isinstance(e, ev.CheckpointSaved) and e.path.endswith("best.safetensors")]
    assert saved[-1] == kept and (final_weights == "best" or saved == [1, 2, 3, 4])
    last = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    model = read_safetensors(run_dir / "model" / "weights.safetensors", "m")
    same = all(torch.equal(model[k].float(), v.float()) for k, v in last.items() if k in model)
    assert same == (kept == 4)


def test_a_trained_start_gets_a_short_head_warm_up_only():
    job, r = R.choose(_job(model={"architecture": "resnet18", "weights": "w.safetensors"}), _fp(), 200)
    assert job.freeze_epochs == R.HEAD_WARMUP_EPOCHS and r.arms == 1
    planned = R.plan_epochs(job, r, 600.0, 4.0)
    assert planned.epochs == 150 and planned.freeze_epochs == R.HEAD_WARMUP_EPOCHS
    quick, r = R.choose(_job(preset="quick", model="demo-lesion-classifier"), _fp(), 200)
    assert r.arms == 2 and quick.input_size is None  # a base model keeps its input
    assert R.choose(_job(preset="quick"), _fp(), 200)[1].arms == 1  # random start: nothing to check


def test_fields_the_job_sets_win():
    given = dict(input={"size": 96}, augment=False, batch_size=4, lr=0.05, freeze_epochs=1, epochs=7,
                 early_stopping=3, warmup_epochs=2, final_weights="best")
    job, r = R.choose(_job(**given), _fp(smallest=10, objects=ObjectSize(0.01, 0.01, 5, 5)), 30)
    planned = R.plan_epochs(job, r, 600.0, 1.0)
    assert (planned.input_size, planned.augment, planned.batch_size, planned.lr, planned.freeze_epochs,
            planned.epochs, planned.early_stopping, planned.warmup_epochs) == \
        ((96, 96), AugmentSpec(False, False, 0.0, 0.0, 0.0, 0.0), 4, 0.05, 1, 7, 3, 2)
    assert r.chosen == {} and set(r.given) >= {"input_size", "augment", "batch_size", "lr", "epochs", "final_weights"}
    assert "nothing to choose" in r.describe()


def test_the_start_check_keeps_random_weights_only_when_strictly_better():
    from trainer.trainings import keep_better

    def side(metric, parent):
        return SimpleNamespace(best={"metric": metric}, mode="max", monitor="auc", start_check=None,
                               net=SimpleNamespace(parent=parent), job=SimpleNamespace(final_weights="last"))

    logs = []
    sink = SimpleNamespace(log=lambda level, message: logs.append(message))
    trained, scratch = side(0.6, "fine-tuned from base 1.0"), side(0.8, "trained from random initialisation (x)")
    assert keep_better(trained, scratch, sink) is scratch
    assert scratch.start_check["kept"] == "random_start" and "preferred it to a start from base" in scratch.net.parent
    tie = side(0.8, "fine-tuned from base 1.0")
    assert keep_better(tie, side(0.8, "random"), sink) is tie  # a tie keeps the trained start
    assert keep_better(side(None, "a"), side(0.5, "b"), sink).best["metric"] == 0.5
    assert "keeping the random-weights start" in logs[0]
    assert logs[0].startswith("start check: last epoch's validation auc 0.6 from base 1.0 vs 0.8")


# ----------------------------------------------------------------------- runs

def test_the_time_budget_stops_the_loop_and_still_writes_a_model(demo, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"), epochs=50,
                    time_budget_minutes=0.05)
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    ends = [e for e in events if isinstance(e, ev.EpochEnd)]
    assert 1 <= len(ends) < 50 and ends[-1].epochs == ends[-1].epoch  # the plan ends where it stopped
    assert any("time budget: stopping after epoch" in e.message for e in events if isinstance(e, ev.Log))
    assert (run_dir / "model" / "weights.safetensors").is_file()
    resolved = json.loads((run_dir / "job.resolved.json").read_text())
    assert resolved["time_budget_minutes"] == 0.05 and resolved["epochs"] == 50
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    assert "batch_size" in started.recipe["given"] and "augment" in started.recipe["chosen"]


@pytest.mark.parametrize("gain", [0.0, float("inf")])  # 0: channels last always pays; inf: never
def test_a_budgeted_run_trains_in_the_faster_memory_layout_and_stores_the_usual_one(
        gain, demo, tmp_path, isolated, monkeypatch):
    import torch

    from medview.inference.weights import read_safetensors
    from trainer import epochs, trainings
    from trainer.network import memory_format

    monkeypatch.setattr(trainings, "CHANNELS_LAST_GAIN", gain)
    layouts, train_epoch = [], epochs.train_epoch

    def recording(model, *args, **kwargs):
        layouts.append(memory_format(getattr(model, "module", model)))
        return train_epoch(model, *args, **kwargs)

    monkeypatch.setattr(epochs, "train_epoch", recording)
    # resnet18: 3×3 convolutions over several channels, whose layout shows (mobilenet's do not)
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"), epochs=None,
                    time_budget_minutes=0.1, model={"architecture": "resnet18"})
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    nhwc = gain == 0.0
    assert layouts and set(layouts) == {torch.channels_last if nhwc else torch.contiguous_format}
    said = [e.message for e in events if isinstance(e, ev.Log) and e.message.startswith("memory layout")]
    assert bool(said) == nhwc and (not nhwc or "channels last" in said[0])
    weights = read_safetensors(run_dir / "model" / "weights.safetensors", "m")
    assert all(v.is_contiguous() for v in weights.values())


def test_masks_train_an_auxiliary_output_that_is_not_exported(discs, tmp_path, isolated):
    from medview.inference.manifest import read_manifest
    from medview.inference.registry import build_module
    from medview.inference.weights import read_safetensors

    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(discs), epochs=1,
                    model={"architecture": "resnet18"}, split={"val": 0.25, "test": 0.2, "seed": 0})
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    logs = [e.message for e in events if isinstance(e, ev.Log)]
    assert any("have lesion masks" in m and "'layer4'" in m for m in logs), logs
    weights = read_safetensors(run_dir / "model" / "weights.safetensors", "m")
    manifest = read_manifest(run_dir / "model")
    assert set(weights) == set(build_module(manifest).state_dict())  # the plain classifier, nothing more
    assert manifest.to_dict()["output"] == {"activation": "softmax"}


def test_a_resnet_asking_for_top_k_pools_its_class_map_and_the_masks_supervise_it(discs, tmp_path, isolated):
    import torch

    from medview.inference.manifest import read_manifest
    from medview.inference.registry import build_module
    from medview.inference.weights import read_safetensors

    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(discs), epochs=1,
                    model={"architecture": "resnet18", "arguments": {"pooling": "top_k"}},
                    split={"val": 0.25, "test": 0.2, "seed": 0})
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    logs = [e.message for e in events if isinstance(e, ev.Log)]
    assert any("they supervise the map the classifier pools" in m for m in logs), logs
    manifest = read_manifest(run_dir / "model")
    assert list(manifest.classes) == ["lesion", "normal"]
    assert manifest.architecture.arguments == {"pooling": "top_k", "background_class": 1, "top_k": 0.02}
    module = build_module(manifest)
    weights = read_safetensors(run_dir / "model" / "weights.safetensors", "m")
    assert set(weights) == set(module.state_dict())  # torchvision's tensors, nothing more
    module.load_state_dict(weights)
    with torch.inference_mode():
        logits, maps = module.eval().forward_maps(torch.zeros(1, 1, 64, 64))
    assert maps.shape == (1, 2, 2, 2) and float(logits[0, 1]) == 0.0  # 'normal' is the background
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    assert "pooling" in started.recipe["chosen"]


def test_a_job_asking_for_top_k_pooling_gets_its_background_class_filled_in():
    masks = replace(_fp(), masks=40, per_class={"normal": 100, "nodule": 100})
    asked = {"architecture": "resnet18", "arguments": {"pooling": "top_k"}}
    job, r = R.choose(_job(model=asked), masks, 160, ["normal", "nodule"])
    assert job.model.arguments == {"pooling": "top_k", "background_class": 0, "top_k": 0.02}
    assert "'nodule' cells against 'normal' (the masks supervise that map)" in r.reasons["pooling"]
    assert R.choose(_job(model=asked, positive_class="normal"), masks, 160, ["normal", "nodule"])[0] \
        .model.arguments["background_class"] == 1
    for job, classes in [
            (_job(), ["normal", "nodule"]),  # not asked: global average pooling
            (_job(model={"architecture": "resnet18", "arguments": {"pooling": "top_k", "background_class": 1}}),
             ["normal", "nodule"]),  # given: kept
            (_job(model=asked), ["normal", "nodule", "mass"])]:
        chosen, r = R.choose(job, masks, 160, classes)
        assert "pooling" not in r.chosen and chosen.model.arguments == job.model.arguments


def test_auto_builds_a_lesion_map_when_the_masks_show_small_findings():
    classes = ["normal", "nodule"]
    small = replace(_fp(objects=ObjectSize(0.07, 0.05, 80, 80)), masks=80, per_class={"normal": 100, "nodule": 100})
    job, r = R.choose(_job(model={"architecture": "auto"}), small, 160, classes)
    assert (job.model.architecture, job.model.arguments) == ("lesion_map", {"background_class": 0})
    assert "small findings (5.0% of the image side)" in r.reasons["architecture"]
    assert "strongest 'nodule' cell against 'normal'" in r.reasons["background_class"]
    assert job.lr == R.ARCHITECTURE_LR["lesion_map"]
    # a lesion bench set of 20 per class whose 25th percentile came out at 10.3 %: still small
    edge = replace(small, objects=ObjectSize(0.134, 0.103, 20, 20))
    assert R.choose(_job(model={"architecture": "auto"}), edge, 160, classes)[0].model.architecture == "lesion_map"
    large = replace(small, objects=ObjectSize(0.3, 0.25, 80, 80))
    for job, fp, names, expected in [
            (_job(model={"architecture": "auto"}), large, classes, ("resnet18", {})),  # not small
            (_job(model={"architecture": "auto"}), _fp(), classes, ("resnet18", {})),  # no masks
            (_job(model={"architecture": "auto"}, mask_weight=0), small, classes, ("resnet18", {})),  # masks unused
            (_job(model={"architecture": "auto"}), small, classes + ["mass"], ("resnet18", {})),
            (_job(model={"architecture": "auto"}), replace(large, task="segmentation"), ["background", "nodule"],
             ("fpn", {"encoder_name": "resnet18"}))]:
        chosen, r = R.choose(job, fp, 160, names)
        assert (chosen.model.architecture, chosen.model.arguments) == expected, r.reasons
        assert chosen.lr == 1e-3
    # segmentation of small findings: the small U-Net, whatever the number of classes
    for names in (["background", "nodule"], ["background", "nodule", "mass"]):
        chosen, r = R.choose(_job(model={"architecture": "auto"}), replace(small, task="segmentation"), 160, names)
        assert (chosen.model.architecture, chosen.model.arguments) == ("lesion_unet", {"test_time_flips": True})
        assert "small findings (5.0% of the image side): a small U-Net" in r.reasons["architecture"]
        assert "mean over the image's mirror images" in r.reasons["architecture"]
        assert chosen.lr == R.ARCHITECTURE_LR["lesion_unet"]
        assert (chosen.input_size, chosen.patch_size) == ((480, 480), 224)  # half the side, in 32s
        assert "half of them over a finding" in r.reasons["patch_size"]
    assert R.choose(_job(model={"architecture": "auto"}), replace(large, task="segmentation"), 160,
                    ["background", "nodule"])[0].patch_size == 0  # large objects: whole images
    assert "patch_size" not in R.choose(_job(), small, 160, classes)[1].chosen  # classification: never
    given = R.choose(_job(model={"architecture": "auto"}, patch_size=64), replace(small, task="segmentation"), 160,
                     ["background", "nodule"])
    assert given[0].patch_size == 64 and "patch_size" in given[1].given
    given = _job(model={"architecture": "lesion_map"})  # named, not auto: its background class is filled in
    assert R.choose(given, small, 160, classes)[0].model.arguments == {"background_class": 0}


def test_patch_size_is_for_segmentation_in_multiples_of_32():
    from trainer.job_common import JobError

    with pytest.raises(JobError, match="only for segmentation"):
        _job(task="classification", patch_size=64)
    with pytest.raises(JobError, match="patch_size"):
        _job(task="segmentation", patch_size=50)
    assert _job(task="segmentation", patch_size=0).patch_size == 0  # whole images


@pytest.mark.parametrize("model", [
    {"architecture": "auto", "arguments": {"width": 8}},
    {"architecture": "auto", "weights": "w.safetensors"},
    {"architecture": "auto", "backbone": "clinic"}])
def test_auto_takes_nothing_the_recipe_would_choose(model):
    from trainer.job_common import JobError

    with pytest.raises(JobError, match="not with architecture 'auto'"):
        _job(model=model)


def test_a_lesion_map_learns_from_the_masks_and_exports_its_map(discs, tmp_path, isolated):
    import torch

    from medview.inference.manifest import read_manifest
    from medview.inference.registry import build_module
    from medview.inference.weights import read_safetensors

    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(discs), epochs=1,
                    model={"architecture": "lesion_map"}, split={"val": 0.25, "test": 0.2, "seed": 0})
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    logs = [e.message for e in events if isinstance(e, ev.Log)]
    assert any("they supervise the map the classifier pools" in m for m in logs), logs
    manifest = read_manifest(run_dir / "model")
    assert manifest.architecture.arguments == {"background_class": 1}  # 'normal'
    module = build_module(manifest)
    weights = read_safetensors(run_dir / "model" / "weights.safetensors", "m")
    assert set(weights) == set(module.state_dict())
    module.load_state_dict(weights)
    with torch.inference_mode():
        logits, maps = module.eval().forward_maps(torch.zeros(1, 1, 64, 64))
    assert maps.shape == (1, 2, 8, 8) and float(logits[0, 1]) == 0.0


def test_a_map_that_decides_learns_from_known_masks_alone():
    """With the own map (lesion_map, top-k ResNet), an image whose mask is known is taught
    by its mask, not by the label's loss on the pooled maximum; the label's loss is kept
    for images without a mask."""
    import torch

    from trainer.aux_mask import AuxLoss
    from trainer.data.inputs import UNKNOWN_MASK
    from trainer.losses import ClassificationLoss

    base = ClassificationLoss()
    loss = AuxLoss(base, 1.0, own_map=True)
    y = torch.tensor([0, 1])
    aux = torch.full((2, 1, 4, 4), -5.0, requires_grad=True)
    known = torch.zeros(2, 16, 16, dtype=torch.uint8)
    logits = torch.zeros(2, 2, requires_grad=True)
    loss((logits, aux), y, known).backward()
    assert logits.grad is None or not logits.grad.any()  # the label's loss is not used
    unknown = known.clone()
    unknown[1] = UNKNOWN_MASK
    logits = torch.zeros(2, 2, requires_grad=True)
    loss((logits, aux), y, unknown).backward()
    assert not logits.grad[0].any() and logits.grad[1].any()  # only the image without a mask
    lesion = known.clone()
    lesion[:, 4:8, 4:8] = 1  # a lesion cell missed costs MAP_POS_WEIGHT times an empty one
    assert loss((logits, aux), y, lesion) > loss((logits, aux), y, known)


def test_the_auxiliary_loss_counts_known_masks_only():
    import torch

    from trainer.aux_mask import AuxLoss
    from trainer.data.inputs import UNKNOWN_MASK
    from trainer.losses import ClassificationLoss

    base = ClassificationLoss()
    loss = AuxLoss(base, 1.0)
    logits, y = torch.zeros(2, 2), torch.tensor([0, 1])
    aux = torch.full((2, 1, 4, 4), -5.0)
    unknown = torch.full((2, 16, 16), UNKNOWN_MASK, dtype=torch.uint8)
    assert loss((logits, aux), y, unknown) == base(logits, y)  # no mask known: the class loss alone
    lesion = torch.zeros(2, 16, 16, dtype=torch.uint8)
    lesion[:, 4:8, 4:8] = 1
    empty = torch.zeros(2, 16, 16, dtype=torch.uint8)
    # the mask output says "no lesion": right for empty masks, wrong where there is one
    assert loss((logits, aux), y, lesion) > loss((logits, aux), y, empty) > base(logits, y)


def test_quick_falls_back_to_random_weights_when_the_start_is_worse(tmp_path, isolated):
    """A start whose every tensor is zero gives the same output for every image (no
    gradient ever reaches its convolutions): validation AUC 0.5. Random weights learn the
    bright discs; the quick preset's start check keeps them."""
    import torch

    from medview.inference import architectures
    from medview.inference.weights import write_safetensors

    state = {k: torch.zeros_like(v) for k, v in architectures.build("resnet18", 1, 2, {}).state_dict().items()}
    write_safetensors(state, tmp_path / "dead.safetensors", {})
    discs = _write_set(tmp_path / "data", n_lesion=24, n_normal=24, masks=False)
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(discs), preset="quick", epochs=4,
                    model={"architecture": "resnet18", "weights": str(tmp_path / "dead.safetensors")},
                    split={"val": 0.3, "test": 0.2, "seed": 1})
    job_data = json.loads(job.read_text())
    del job_data["freeze_epochs"]  # the recipe's: a head warm-up, not the whole run
    job.write_text(json.dumps(job_data))
    code, events, run_dir = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("failed", "log")]
    started = [e for e in events if isinstance(e, ev.EpochStarted)]
    assert [e.epoch for e in started] == list(range(1, 9))  # the second training numbers on
    report = json.loads((run_dir / "model" / "evaluation.json").read_text())
    check = report["start_check"]
    assert check["trained_start"] == 0.5 and check["random_start"] > 0.5, check
    assert check["kept"] == "random_start" and report["parent"].startswith("trained from random initialisation")
    assert (run_dir / "checkpoints" / "scratch" / "best.safetensors").is_file()
    resolved = json.loads((run_dir / "job.resolved.json").read_text())
    assert resolved["freeze_epochs"] == 2 and resolved["random_start"]["freeze_epochs"] == 0  # of 4
    assert "Start check" in (run_dir / "model" / "card.md").read_text()


def test_the_start_checks_random_network_trains_in_the_same_memory_layout():
    import torch

    from medview.inference.registry import build_module
    from tests.helpers.trainer_jobs import manifest
    from trainer.network import Network, memory_format, random_network

    m = manifest()
    for layout in (torch.channels_last, torch.contiguous_format):
        net = Network(m, build_module(m).to(memory_format=layout), False, "test", True, None, [], [])
        assert memory_format(net.module) == layout
        assert memory_format(random_network(net, torch.device("cpu")).module) == layout
