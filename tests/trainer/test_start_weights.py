"""Starting weights: classes matched by name (never by position), the RGB stem adapted to a
grey model, and no freshly initialised layer ever frozen (trainer/start_weights.py)."""

from __future__ import annotations

import csv
import io

import pytest
import torch

from medview.inference import architectures
from medview.inference.weights import read_safetensors
from tests.helpers.builders import CLASSIFIER, manifest_data, write_model
from tests.helpers.trainer_jobs import (TINY_CLASSIFIER, events_of, medview_env, run_in_process, run_module,
                                         write_job)
from trainer.errors import JobFailed
from trainer.start_weights import adapt_input_conv, class_rows, output_layer

HEAD = "classifier.3"  # mobilenet_v3_small's output layer
#: A job that changes the head by at most ~1e-6: what it ends with is what it started from.
STILL = {"preset": "quick", "epochs": 1, "lr": 1e-8, "batch_size": 8, "workers": 0, "seed": 0,
         "split": {"val": 0.2, "test": 0.2, "seed": 0}, "version": "1.0.0"}


def _base(isolated, classes: list[str]) -> dict[str, torch.Tensor]:
    """A registered base model 'base-cls' (mobilenet_v3_small, 64 px) with ``classes``; its weights."""
    data = manifest_data(CLASSIFIER, name="base-cls", classes=classes, thresholds={},
                         architecture={"name": "mobilenet_v3_small"})
    folder = write_model(isolated / "shipped" / "base-cls", data, seed=123)
    return read_safetensors(folder / "weights.safetensors", "base-cls")


def _relabelled(demo, tmp_path, rename: dict[str, str]):
    """The demo labels CSV with classes renamed (paths made absolute)."""
    out = tmp_path / "labels.csv"
    with open(demo / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "label", "patient_id"])
        w.writeheader()
        for r in rows:
            w.writerow({"path": str(demo / r["path"]), "label": rename.get(r["label"], r["label"]),
                        "patient_id": r["patient_id"]})
    return out


def _head(run_dir) -> torch.Tensor:
    return read_safetensors(run_dir / "model" / "weights.safetensors", "m")[f"{HEAD}.weight"]


def _logs(events, level: str) -> list[str]:
    return [e.message for e in events if e.type == "log" and e.level == level]


# ----------------------------------------------------------------------- pure parts

@pytest.mark.parametrize("name", architectures.architecture_names())
def test_output_layer_is_found_for_every_architecture(name):
    library = architectures.ARCHITECTURES[name].library
    args = ({"encoder_name": "mobilenet_v2"} if library == "segmentation_models_pytorch"
            else {"background_class": 0} if name == "lesion_map" else {})
    module = architectures.build(name, 1, 3, args)
    layer = output_layer(module, 3)
    assert layer is not None
    assert module.get_submodule(layer).weight.shape[0] == 3


def test_class_rows_by_name_and_by_map():
    assert class_rows(["lesion", "normal"], ["lesion", "normal"], None) == ([0, 1], "same")
    assert class_rows(["normal", "lesion"], ["lesion", "normal"], None) == ([1, 0], "reordered")
    assert class_rows(["lesion", "normal"], ["clear", "lesion"], None) == ([None, None], "differ")
    assert class_rows(["lesion", "normal"], ["clear", "lesion"], {"clear": "normal"}) == ([1, 0], "mapped")
    assert class_rows(["lesion", "normal"], ["clear", "lesion"], {"clear": None}) == ([None, 0], "mapped")
    with pytest.raises(JobFailed, match="'normall' is not a class of the base model"):
        class_rows(["lesion", "normal"], ["clear", "lesion"], {"clear": "normall"})
    with pytest.raises(JobFailed, match="'cleer' is not a class of the data set"):
        class_rows(["lesion", "normal"], ["clear", "lesion"], {"cleer": "normal"})


def test_adapt_input_conv_sums_rgb_and_spreads_grey():
    rgb = torch.randn(8, 3, 3, 3)
    assert torch.allclose(adapt_input_conv(rgb, 1), rgb.sum(1, keepdim=True))
    grey = torch.randn(8, 1, 3, 3)
    spread = adapt_input_conv(grey, 3)
    assert spread.shape == (8, 3, 3, 3) and torch.allclose(spread.sum(1, keepdim=True), grey)


# ----------------------------------------------------------------------- class names

def test_same_classes_in_another_order_are_matched_by_name(demo, tmp_path, isolated):
    base = _base(isolated, ["normal", "lesion"])  # the data set's order is lesion, normal
    job = write_job(tmp_path / "run", STILL, dataset=str(demo / "labels.csv"), name="reordered",
                    model="base-cls")
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    head = _head(run_dir)
    assert torch.allclose(head[0], base[f"{HEAD}.weight"][1], atol=1e-4)  # lesion ← lesion
    assert torch.allclose(head[1], base[f"{HEAD}.weight"][0], atol=1e-4)  # normal ← normal
    assert any("classes matched by name" in m for m in _logs(events, "info"))


def test_other_classes_start_a_fresh_head_and_say_so(demo, tmp_path, isolated):
    base = _base(isolated, ["lesion", "normal"])
    labels = _relabelled(demo, tmp_path, {"normal": "clear"})  # classes clear, lesion
    job = write_job(tmp_path / "run", STILL, dataset=str(labels), name="differ", model="base-cls")
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    head, old = _head(run_dir), base[f"{HEAD}.weight"]
    for row in head:  # neither output is an old one: the head was not loaded
        assert not any(torch.allclose(row, o, atol=1e-3) for o in old)
    warning = next(m for m in _logs(events, "warning") if "classes differ" in m)
    assert "lesion, normal" in warning and "clear, lesion" in warning and "class_map" in warning
    assert f"'{HEAD}.weight'" in next(m for m in _logs(events, "warning") if "start fresh" in m)


def test_class_map_carries_outputs_over_in_a_real_trainer_process(demo, tmp_path, isolated):
    base = _base(isolated, ["lesion", "normal"])
    labels = _relabelled(demo, tmp_path, {"normal": "clear"})  # clear, lesion
    job = write_job(tmp_path / "run", STILL, dataset=str(labels), name="mapped",
                    model={"base": "base-cls", "class_map": {"clear": "normal"}})
    proc = run_module("trainer", job, timeout=300, env=medview_env())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    events = events_of(proc.stdout)
    head, old = _head(tmp_path / "run"), base[f"{HEAD}.weight"]
    assert torch.allclose(head[0], old[1], atol=1e-4)  # clear ← normal
    assert torch.allclose(head[1], old[0], atol=1e-4)  # lesion ← lesion (by name)
    assert any("clear ← normal, lesion ← lesion" in m for m in _logs(events, "info"))


def test_class_map_is_a_documented_job_field():
    from trainer.config import JobError, parse_job

    job = parse_job({"dataset": "x.csv", "model": {"base": "b", "class_map": {"clear": "normal", "new": None}}})
    assert job.model.class_map == {"clear": "normal", "new": None}
    assert job.to_dict()["model"]["class_map"] == {"clear": "normal", "new": None}
    with pytest.raises(JobError, match="model.class_map"):
        parse_job({"dataset": "x.csv", "model": {"architecture": "resnet18", "class_map": {"a": "b"}}})
    with pytest.raises(JobError, match="model.class_map.clear"):
        parse_job({"dataset": "x.csv", "model": {"base": "b", "class_map": {"clear": 3}}})


# ----------------------------------------------------------------------- input stem, freezing

def _rgb_weights(tmp_path, drop: str | None = None):
    torch.manual_seed(7)
    state = architectures.build("mobilenet_v3_small", 3, 2, {}).state_dict()
    if drop:
        del state[drop]
    path = tmp_path / "rgb.pth"
    torch.save(state, path)
    return path, state


def test_rgb_stem_is_summed_into_a_grey_model_and_stays_so_when_frozen(demo, tmp_path, isolated):
    weights, rgb = _rgb_weights(tmp_path)
    # frozen for the whole (one-epoch) run; without the start check, which could keep random weights
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"), preset="quick",
                    epochs=1, freeze_epochs=1, compare_with_scratch=False,
                    model={"architecture": "mobilenet_v3_small", "weights": str(weights)})
    proc = run_module("trainer", job, timeout=300, env=medview_env())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    events = events_of(proc.stdout)
    final = read_safetensors(tmp_path / "run" / "model" / "weights.safetensors", "m")
    stem = "features.0.0.weight"
    # the backbone was frozen for the whole run, so the stem is what was loaded
    assert torch.allclose(final[stem], rgb[stem].sum(1, keepdim=True), atol=1e-6)
    adapted = next(m for m in _logs(events, "warning") if "input convolution adapted" in m)
    assert f"'{stem}'" in adapted and "RGB filters summed" in adapted
    assert not any("new head" in e.message for e in events if e.type == "log")


def test_fresh_backbone_layers_are_never_frozen(demo, tmp_path, isolated):
    from trainer.config import load_job
    from trainer.data.discovery import discover_dataset
    from trainer.network import build_network
    from trainer.sink import EventSink

    missing = "features.1.block.0.0.weight"  # a backbone convolution absent from the file
    weights, _ = _rgb_weights(tmp_path, drop=missing)
    job = load_job(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                             preset="quick", epochs=1, freeze_epochs=1,
                             model={"architecture": "mobilenet_v3_small", "weights": str(weights)}))
    out = io.StringIO()
    sink = EventSink("t", None, out)
    net = build_network(job, discover_dataset(job, sink), torch.device("cpu"), sink)
    param = dict(net.module.named_parameters())[missing]
    assert any(p is param for p in net.head_params)
    assert not any(p is param for p in net.backbone_params)
    events = events_of(out.getvalue())
    assert f"'{missing}'" in next(m for m in _logs(events, "warning") if "start fresh" in m)
    assert any("freezing never holds a freshly initialised layer" in m for m in _logs(events, "warning"))


def test_a_map_deciding_base_keeps_its_background_class_by_name():
    """Fine-tuning a lesion map (or a top-k ResNet) on classes in another order or with
    other names: its background class follows 'normal', else the negative of two."""
    from trainer.network import background_for

    base = ["lesion", "normal"]
    assert background_for({"background_class": 1}, base, ["normal", "pneumonia"], None) == {"background_class": 0}
    assert background_for({"background_class": 1}, base, ["lesion", "normal"], None) == {"background_class": 1}
    assert background_for({"background_class": 1}, base, ["clear", "nodule"], "nodule") == {"background_class": 0}
    assert background_for({"encoder_name": "resnet18"}, base, ["a", "b"], None) == {"encoder_name": "resnet18"}
    with pytest.raises(JobFailed, match="background class 'normal'"):
        background_for({"background_class": 1}, base, ["a", "b", "c"], None)
