"""Frame → preprocess → engine → result, on real files, through create_engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from medview.core.geometry import Spacing
from medview.core.io.folder import load_paths
from medview.inference.analyze import Analyzer, class_areas, classification_fields, decide_mask
from medview.inference.audit import AuditLog
from medview.inference.manifest import parse_manifest
from medview.inference.preprocess import frame_input, preprocess
from medview.inference.registry import Registry
from tests.helpers.datafiles import find
from tests.helpers.builders import CLASSIFIER, SEGMENTER, manifest_data


def _frame(name: str):
    return load_paths([find(name)]).frames()[0]


@pytest.fixture
def ct():
    return _frame("CT_small.dcm")


def test_classification_through_the_torch_engine_matches_the_module(installed, ct):
    model = Registry().load("chest-demo")
    audit = AuditLog()
    # fp32: "auto" precision may pick bf16 (1e-3 off) where it times fastest on this CPU
    analyzer = Analyzer(model, audit=audit, device="cpu", engine="torch", precision="fp32")
    result = analyzer.analyze(ct)
    assert (result.model, result.version, result.engine, result.device) == (
        "chest-demo", "1.0.0", "torch", "cpu")
    assert result.file == str(ct.path) and result.frame == 1
    assert result.sop_instance_uid == str(ct.get("SOPInstanceUID"))
    assert result.ms >= result.ms_inference > 0
    # The same preprocessing and the plain module give the same probabilities.
    values, context = frame_input(ct)
    x = torch.from_numpy(preprocess(values, model.manifest, context).image[None])
    with torch.inference_mode():
        expected = torch.softmax(model.module(x), dim=1)[0].numpy()
    assert np.allclose(list(result.probabilities.values()), expected, atol=1e-4)
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert result.label in ("normal", "abnormal")
    assert [r["label"] for r in audit.read()] == [result.label]


def test_auto_engine_gives_the_same_answer(installed, ct):
    model = Registry().load("chest-demo")
    by_torch = Analyzer(model, audit=None, engine="torch").analyze(ct)
    auto = Analyzer(model, audit=None, engine="auto")
    assert auto.engine.name in ("torch", "onnxruntime", "openvino")
    result = auto.analyze(ct)
    for k, p in by_torch.probabilities.items():
        assert result.probabilities[k] == pytest.approx(p, abs=0.02)


def test_segmentation_mask_has_the_frame_size_and_calibrated_area(installed, ct):
    analyzer = Analyzer(Registry().load("prostate-demo"), audit=None, engine="torch")
    result = analyzer.analyze(ct)
    assert result.mask.shape == ct.shape and result.mask.dtype == np.uint8
    assert result.mask_values == {1: "prostate"}
    n = int((result.mask == 1).sum())
    assert n > 0, "the fixture's low threshold should give a non-empty mask"
    area = result.areas["prostate"]
    sp = ct.spacing
    assert sp.calibrated and area.unit == "mm²" and area.source == sp.source
    assert area.value == pytest.approx(n * sp.row_mm * sp.col_mm)
    assert result.label == "prostate" and 0 < result.probabilities["prostate"] <= 1
    line = result.to_json()
    assert line["mask"] is None and "prostate" in line["areas"]
    json.dumps(line)  # JSON-ready, no arrays


def test_non_square_rgb_image_maps_back_to_its_own_size(installed):
    frame = _frame("SC_rgb_small_odd.dcm")
    result = Analyzer(Registry().load("prostate-demo"), audit=None,
                      engine="torch").analyze(frame)
    assert result.mask.shape == frame.shape


def test_explain_returns_a_frame_sized_heat_map(installed, ct):
    analyzer = Analyzer(Registry().load("chest-demo"), audit=None, engine="torch")
    cam = analyzer.explain(ct)
    assert cam.shape == ct.shape and 0.0 <= cam.min() and cam.max() <= 1.0
    seg = Analyzer(Registry().load("prostate-demo"), audit=None, engine="torch")
    with pytest.raises(ValueError, match="explains classifiers"):
        seg.explain(ct)


# ----------------------------------------------------------------------- decisions

def test_softmax_thresholds_make_findings():
    manifest = parse_manifest(CLASSIFIER)  # abnormal: 0.3
    logits = np.log(np.array([0.65, 0.35]))
    fields = classification_fields(logits, manifest)
    assert fields["label"] == "abnormal" and fields["positives"] == ("abnormal",)
    fields = classification_fields(np.log(np.array([0.8, 0.2])), manifest)
    assert fields["label"] == "normal" and fields["positives"] == ()


def test_sigmoid_multilabel_decision():
    manifest = parse_manifest(manifest_data(
        CLASSIFIER, classes=["nodule", "effusion", "fracture"], output={"activation": "sigmoid"},
        thresholds={"fracture": 0.9}))
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    fields = classification_fields(logit(np.array([0.7, 0.6, 0.85])), manifest)
    assert fields["positives"] == ("nodule", "effusion") and fields["label"] == "nodule"
    assert classification_fields(logit(np.array([0.1, 0.2, 0.3])), manifest)["label"] is None


def test_mask_decisions_for_softmax_and_sigmoid():
    softmax = parse_manifest(manifest_data(SEGMENTER, classes=["background", "gland", "lesion"],
                                           output={"activation": "softmax"},
                                           thresholds={"lesion": 0.6}))
    probs = np.array([[[0.8, 0.1, 0.2]], [[0.1, 0.8, 0.3]], [[0.1, 0.1, 0.5]]], np.float32)
    mask, values = decide_mask(probs, softmax)
    assert mask.tolist() == [[0, 1, 0]]  # lesion wins pixel 3 but is below its 0.6
    assert values == {1: "gland", 2: "lesion"}
    sigmoid = parse_manifest(manifest_data(SEGMENTER, classes=["gland", "lesion"],
                                           thresholds={"gland": 0.5, "lesion": 0.5}))
    probs = np.array([[[0.9, 0.2, 0.6]], [[0.1, 0.3, 0.7]]], np.float32)
    mask, values = decide_mask(probs, sigmoid)
    assert mask.tolist() == [[1, 0, 2]] and values == {1: "gland", 2: "lesion"}


def test_areas_are_px_when_uncalibrated():
    mask = np.array([[0, 1, 1], [2, 1, 0]], np.uint8)
    areas = class_areas(mask, {1: "a", 2: "b", 3: "c"}, Spacing(None, None, "uncalibrated"))
    assert {k: (m.value, m.unit) for k, m in areas.items()} == {
        "a": (3.0, "px²"), "b": (1.0, "px²"), "c": (0.0, "px²")}
    mm = class_areas(mask, {1: "a"}, Spacing(0.5, 0.25, "PixelSpacing"))
    assert mm["a"].value == pytest.approx(3 * 0.125) and mm["a"].unit == "mm²"
