"""int8 graphs: the keep/refuse rule, the manifest block, the engine choice, the result.

The graphs are quantised from a tiny random-weight classifier on noise: enough to run
them (their accuracy is the business of ``tests/trainer/test_int8.py`` and of the rule).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from medview.inference.manifest import ManifestError, parse_manifest
from medview.inference.quantize import (OutputAgreement, compare_outputs, int8_spec,
                                        quantize_graph, refusal)
from medview.inference.registry import Registry, open_graph, record_int8
from medview.inference.weights import WeightsError, sha256_file
from tests.helpers.builders import CLASSIFIER, manifest_data

AGREE = OutputAgreement(ok=True, max_probability_delta=0.01, label_changes=0, detail="max |Δp| 0.01")


def test_the_rule_keeps_a_small_drop_and_refuses_a_large_one_or_disagreement():
    assert refusal("classification", 0.85, 0.845, AGREE) == ""
    assert refusal("segmentation", 0.80, 0.79, AGREE) == ""  # exactly the limit
    assert "AUC drops from 0.8500 to 0.8300" in refusal("classification", 0.85, 0.83, AGREE)
    assert "Dice" in refusal("segmentation", 0.80, 0.75, AGREE)
    far = OutputAgreement(ok=False, max_probability_delta=0.05, label_changes=2, detail="max |Δp| 0.05")
    assert "outside the engine tolerance" in refusal("classification", 0.85, 0.85, far)
    kept = int8_spec("classification", calibration_images=4, test_images=6, fp32_metric=0.9,
                     int8_metric=0.9, agreement=AGREE, file="model.int8.onnx", sha256="a" * 64)
    assert kept.kept and kept.file == "model.int8.onnx" and not kept.refused
    refused = int8_spec("classification", calibration_images=4, test_images=6, fp32_metric=0.9,
                        int8_metric=0.9, agreement=far, file="model.int8.onnx", sha256="a" * 64)
    assert not refused.kept and refused.file == "" and refused.sha256 == "" and refused.refused


def test_label_changes_near_the_threshold_are_counted_not_refused():
    manifest = parse_manifest(manifest_data(CLASSIFIER, onnx=None))  # threshold abnormal 0.3
    # p(abnormal) 0.2993 → 0.3047: within 0.02, but across the threshold
    fp32 = np.array([[0.0, np.log(0.2993 / 0.7007)], [0.0, 2.0]])
    int8 = np.array([[0.0, np.log(0.3047 / 0.6953)], [0.0, 2.001]])
    agreement = compare_outputs(fp32, int8, manifest)
    assert agreement.ok and agreement.label_changes == 1
    assert agreement.max_probability_delta == pytest.approx(0.0054, abs=1e-3)


def _with_onnx(data: dict) -> dict:
    return dict(data, onnx={"file": "model.onnx", "sha256": "b" * 64})


BLOCK = {"calibration_images": 45, "test_images": 60, "metric": "auc", "fp32": 0.85,
         "int8": 0.849, "max_probability_delta": 0.0096, "label_changes": 1,
         "file": "model.int8.onnx", "sha256": "c" * 64}


def test_the_manifest_int8_block_validates_and_round_trips():
    manifest = parse_manifest(_with_onnx(manifest_data(CLASSIFIER, int8=BLOCK)))
    assert manifest.int8.kept and manifest.int8.method == "onnxruntime-qdq"
    again = parse_manifest(json.loads(json.dumps(manifest.to_dict())))
    assert again == manifest
    refused = dict(BLOCK, file="", sha256="", refused="test AUC drops")
    assert not parse_manifest(_with_onnx(manifest_data(CLASSIFIER, int8=refused))).int8.kept
    for bad, field in ((dict(BLOCK, refused="x"), "int8"), (dict(BLOCK, sha256=""), "int8.sha256"),
                       (dict(BLOCK, file="model.onnx"), "int8.file"),
                       (dict(BLOCK, metric="accuracy"), "int8.metric")):
        with pytest.raises(ManifestError) as err:
            parse_manifest(_with_onnx(manifest_data(CLASSIFIER, int8=bad)))
        assert err.value.field == field
    with pytest.raises(ManifestError, match="needs the fp32 graph"):
        parse_manifest(manifest_data(CLASSIFIER, int8=BLOCK))


@pytest.fixture(scope="module")
def int8_folder(sources, tmp_path_factory):
    """The random classifier imported (with its graph) and given an int8 graph, recorded as
    kept; made once, copied into each test's user folder by :func:`with_int8`."""
    from medview.inference.registry import USER

    root = tmp_path_factory.mktemp("int8-models")
    entry = Registry([(root, USER)]).import_model(sources["classifier"])
    rng = np.random.default_rng(0)
    calibration = [rng.standard_normal(entry.manifest.input_shape).astype(np.float32) for _ in range(3)]
    graph = quantize_graph(entry.graph_path, root / "model.int8.onnx", calibration, entry.name)
    spec = int8_spec("classification", calibration_images=3, test_images=3, fp32_metric=0.5,
                     int8_metric=0.5, agreement=AGREE, file="model.int8.onnx", sha256=sha256_file(graph))
    return record_int8(entry, spec, graph).path


@pytest.fixture
def with_int8(isolated, int8_folder):
    from tests.helpers.builders import install

    install(isolated, int8_folder)
    return Registry().find(CLASSIFIER["name"])


def test_a_quantised_graph_holds_int8_layers_and_keeps_the_ends_in_float(with_int8):
    import onnx

    from medview.inference.quantize import end_layers

    graph = onnx.load(str(with_int8.int8_path)).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert read_outputs(with_int8.int8_path) == read_outputs(with_int8.graph_path)
    quantised_inputs = {i for n in graph.node if n.op_type == "DequantizeLinear" for i in n.output}
    ends = {n.name: n for n in graph.node if n.name in end_layers(with_int8.graph_path)}
    assert ends, "the first convolution and the head are found"
    for node in ends.values():  # their weights stay float: no DequantizeLinear feeds them a weight
        assert not any(i in quantised_inputs for i in node.input[1:])


def read_outputs(path) -> list[str]:
    import onnx

    return [o.name for o in onnx.load(str(path)).graph.output]


def test_engine_choice_runs_the_int8_graph_where_it_is_faster(with_int8, tmp_path, monkeypatch):
    from medview.inference.engines import graph_factory, selection

    def timed(engine, x, runs):  # int8 engines 4× faster, whatever the machine's load
        engine.run(x)
        return [0.001 if engine.precision == "int8" else 0.004] * runs

    monkeypatch.setattr(selection, "_time_round", timed)
    monkeypatch.setattr(graph_factory, "cpu_has_vnni", lambda: True)
    m = with_int8.manifest
    kwargs = dict(task="classification", model_key=m.key, graph_sha256=m.onnx.sha256,
                  int8_graph=with_int8.int8_path, int8_sha256=m.int8.sha256)
    engine = graph_factory.create_graph_engine(with_int8.graph_path, m.input_shape,
                                               cache_dir=tmp_path / "a", **kwargs)
    assert engine.precision == "int8" and "onnxruntime:int8" in engine.selection["timings_ms"]
    assert engine.describe().startswith(("onnxruntime int8", "openvino int8"))
    fp32 = graph_factory.create_graph_engine(with_int8.graph_path, m.input_shape, precision="fp32",
                                             cache_dir=tmp_path / "b", **kwargs)
    assert fp32.precision != "int8"
    monkeypatch.setattr(graph_factory, "cpu_has_vnni", lambda: False)  # sums could saturate
    plain = graph_factory.create_graph_engine(with_int8.graph_path, m.input_shape,
                                              cache_dir=tmp_path / "c", **kwargs)
    assert not any("int8" in k for k in plain.selection["timings_ms"])
    asked = graph_factory.create_graph_engine(with_int8.graph_path, m.input_shape, precision="int8",
                                              engine="onnxruntime", cache_dir=tmp_path / "d", **kwargs)
    assert asked.precision == "int8"


def test_analysis_result_names_the_int8_precision(with_int8, xray_frame):
    from medview.inference.analyze import Analyzer, open_model

    analyzer = Analyzer(open_model(with_int8), audit=None, engine="onnxruntime", precision="int8")
    result = analyzer.analyze(xray_frame, outside_scope=True)
    assert result.precision == "int8" and result.engine == "onnxruntime"
    assert result.to_json()["precision"] == "int8"


def test_an_altered_int8_graph_is_refused(with_int8):
    with open(with_int8.int8_path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(WeightsError, match="SHA-256 differs"):
        open_graph(with_int8)


def test_a_remade_graph_drops_the_int8_graph_made_from_the_old_one(with_int8):
    from medview.inference.registry import add_graph

    old = with_int8.int8_path
    entry = add_graph(with_int8)
    assert entry.manifest.int8 is None and entry.int8_path is None and not old.exists()
