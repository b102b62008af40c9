"""model.json validation: every broken field is named, with the reason."""

from __future__ import annotations

import json

import pytest

from medview.inference.manifest import (ManifestError, parse_manifest, read_manifest,
                                        write_manifest)
from tests.helpers.builders import CLASSIFIER, SEGMENTER, manifest_data


def test_valid_manifest_parses_with_defaults():
    m = parse_manifest(CLASSIFIER)
    assert (m.name, m.version, m.task, m.key) == ("chest-demo", "1.0.0", "classification",
                                                  "chest-demo@1.0.0")
    assert m.input_shape == (1, 64, 64)
    assert m.preprocessing.crop is None and m.preprocessing.resize == "letterbox"
    assert m.threshold("abnormal") == 0.3 and m.threshold("normal") == 0.0
    seg = parse_manifest(SEGMENTER)
    assert seg.activation == "sigmoid" and seg.threshold("prostate") == 0.05
    assert seg.preprocessing.clahe.tile_grid == (4, 4)
    assert seg.preprocessing.diffusion.iterations == 3


def test_manifest_round_trips_through_json(tmp_path):
    data = manifest_data(SEGMENTER, preprocessing={
        "window": {"center": 40, "width": 400}, "crop": {"kind": "foreground", "margin": 0.1},
        "resize": "stretch", "clahe": None, "diffusion": {"conduction": "quadratic"}})
    original = parse_manifest(data)
    write_manifest(original, tmp_path / "model.json")
    assert read_manifest(tmp_path) == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temp file left


def test_message_names_model_field_and_reason():
    data = manifest_data(CLASSIFIER, input={"size": [64], "channels": 1})
    with pytest.raises(ManifestError) as info:
        parse_manifest(data)
    assert f"{type(info.value).__name__}: {info.value}" == (
        "ManifestError: model 'chest-demo' field 'input.size': must be two positive integers")


def _set(path: str, value):
    """A CLASSIFIER copy with the dotted ``path`` set to ``value`` (or deleted if DELETE)."""
    data = manifest_data(CLASSIFIER)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


DELETE = object()

BROKEN = [
    ("name", DELETE, "name", "missing"),
    ("name", "Chest Demo", "name", "not allowed"),
    ("version", "1 0", "version", "not allowed"),
    ("task", "detection", "task", "must be one of classification, segmentation"),
    ("classes", ["only"], "classes", "at least two classes"),
    ("classes", ["a", "a"], "classes", "unique"),
    ("input.size", [0, 64], "input.size", "two positive integers"),
    ("input.size", [8, 8], "input.size", "outside 16..4096"),
    ("input.channels", 2, "input.channels", "1 (grey) or 3 (RGB)"),
    ("input.channels", True, "input.channels", "must be an integer"),
    ("normalisation.mean", [0.5, 0.5], "normalisation.mean", "list of 1 numbers"),
    ("normalisation.std", [0], "normalisation.std", "positive"),
    ("preprocessing.window", {"center": 40, "width": 0}, "preprocessing.window.width",
     "at least 1"),
    ("preprocessing.window", "", "preprocessing.window", "must not be empty"),
    ("preprocessing.resize", "crop", "preprocessing.resize", "letterbox, stretch"),
    ("preprocessing.crop", {"kind": "random"}, "preprocessing.crop.kind", "center, foreground"),
    ("preprocessing.crop", {"kind": "center", "fraction": 1.5}, "preprocessing.crop.fraction",
     "at most 1"),
    ("preprocessing.clahe", {"tile_grid": [0, 8]}, "preprocessing.clahe.tile_grid",
     "two positive integers"),
    ("preprocessing.diffusion", {"gamma": 0.5}, "preprocessing.diffusion.gamma", "at most 0.25"),
    ("preprocessing.diffusion", {"iterations": 2.5}, "preprocessing.diffusion.iterations",
     "integer"),
    ("thresholds", {"pneumonia": 0.5}, "thresholds.pneumonia", "not one of the classes"),
    ("thresholds", {"abnormal": 1.5}, "thresholds.abnormal", "at most 1"),
    ("output.activation", "relu", "output.activation", "softmax, sigmoid"),
    ("card.date", "last tuesday", "card.date", "ISO date"),
    ("card.intended_use", DELETE, "card.intended_use", "missing"),
    ("card", DELETE, "card", "missing"),
    ("card.metrics", {"auc": "high"}, "card.metrics.auc", "finite number"),
    ("weights.sha256", "abc", "weights.sha256", "64 hexadecimal"),
    ("weights.file", "../w.safetensors", "weights.file", "inside the model folder"),
    ("format", 2, "format", "newer than this medview"),
    ("normalization", {"mean": [0.5]}, "normalization", "did you mean 'normalisation'"),
    ("architecture.arguments", {"num_classes": 3}, "architecture.arguments.num_classes",
     "set by medview"),
    ("architecture.arguments", {"weights": "IMAGENET1K_V1"}, "architecture.arguments.weights",
     "set by medview"),
    ("architecture.name", DELETE, "architecture.name", "missing"),
]


@pytest.mark.parametrize("path, value, field, reason", BROKEN,
                         ids=[f"{b[0]}={'DELETE' if b[1] is DELETE else b[1]}" for b in BROKEN])
def test_each_broken_field_is_named(path, value, field, reason):
    with pytest.raises(ManifestError) as info:
        parse_manifest(_set(path, value))
    err = info.value
    assert err.field == field, str(err)
    assert reason in err.reason, str(err)
    assert str(err).startswith("model 'chest-demo' field ") or path == "name"


def test_segmentation_specific_rules():
    with pytest.raises(ManifestError, match="field 'output.activation': softmax segmentation"):
        parse_manifest(manifest_data(SEGMENTER, output={"activation": "softmax"}))
    with pytest.raises(ManifestError, match="field 'task': architecture 'fpn' is for "
                                            "segmentation, not classification"):
        parse_manifest(manifest_data(SEGMENTER, task="classification", classes=["a", "b"]))


def test_unknown_architecture_lists_valid_names():
    with pytest.raises(ManifestError) as info:
        parse_manifest(_set("architecture.name", "resnet19"))
    assert info.value.field == "architecture.name"
    for name in ("resnet18", "resnet34", "resnet50", "densenet121", "mobilenet_v3_small",
                 "mobilenet_v3_large", "efficientnet_b0", "fpn", "unet"):
        assert name in info.value.reason


def test_bad_file_is_named_by_folder(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    with pytest.raises(ManifestError, match="model 'my-model' field 'model.json': file not found"):
        read_manifest(folder)
    (folder / "model.json").write_text('{"name": "x",\n "version": }')
    with pytest.raises(ManifestError, match="model 'my-model' field 'model.json': invalid JSON "
                                            "at line 2"):
        read_manifest(folder)
    (folder / "model.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ManifestError, match="must be a JSON object"):
        read_manifest(folder)
