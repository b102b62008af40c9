"""A registered model carries its ONNX graph, and analysis runs it without torch.

The graph is made at import and checked against the torch network; its SHA-256 is in the
manifest. Grad-CAM of a classifier comes from the graph's class activation maps, equal to
torch Grad-CAM on the same image (or, for a classifier deciding from its map, that map).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from medview.inference import analyze
from medview.inference.analyze import (Analyzer, classification_fields, open_model, prepare,
                                       runs_in_worker, runs_on_graph)
from medview.inference.cam import CAM_OUTPUT
from medview.inference.manifest import ManifestError, parse_manifest, read_manifest
from medview.inference.registry import Registry, SHIPPED, open_graph
from medview.inference.weights import WeightsError, sha256_file
from tests.helpers.builders import CLASSIFIER, manifest_data
from tests.helpers.paths import ROOT, SAMPLE_XRAY

SHIPPED_MODELS = ROOT / "models"


@pytest.fixture
def imported(isolated, sources):
    registry = Registry()
    return {kind: registry.import_model(folder) for kind, folder in sources.items()}


def _outputs(graph: Path) -> list[str]:
    import onnxruntime as ort

    return [o.name for o in ort.InferenceSession(
        str(graph), providers=["CPUExecutionProvider"]).get_outputs()]


def test_import_writes_the_graph_and_its_sha256(imported):
    for kind, entry in imported.items():
        graph = entry.graph_path
        assert graph == entry.path / "model.onnx" and graph.is_file()
        assert read_manifest(entry.path).onnx.sha256 == sha256_file(graph)
        expected = ["output", CAM_OUTPUT] if kind == "classifier" else ["output"]
        assert _outputs(graph) == expected


def test_analysis_from_the_graph_matches_the_torch_network(imported, xray_frame):
    import torch

    entry = imported["classifier"]
    graph = Analyzer(open_model(entry), audit=None, engine="onnxruntime")
    assert graph.model.module is None and graph.engine.name == "onnxruntime"
    result = graph.analyze(xray_frame, outside_scope=True)
    pre = prepare(xray_frame, graph.manifest)
    with torch.inference_mode():
        logits = Registry().load(entry.name).module(torch.from_numpy(pre.image[None]))[0]
    expected = classification_fields(logits.numpy(), graph.manifest)["probabilities"]
    for name, p in expected.items():
        assert result.probabilities[name] == pytest.approx(p, abs=1e-5)
    seg = imported["segmenter"]
    graph = Analyzer(open_model(seg), audit=None, engine="onnxruntime")
    pre = prepare(xray_frame, graph.manifest)
    with torch.inference_mode():
        expected = Registry().load(seg.name).module(torch.from_numpy(pre.image[None])).numpy()
    np.testing.assert_allclose(graph.engine.run(pre.image[None]), expected, atol=1e-4)


def test_classifier_heat_map_from_the_graph_equals_torch_gradcam(imported, xray_frame):
    """The class activation map from the graph equals torch Grad-CAM (ResNet-18, the sample
    radiograph), for both classes."""
    from medview.inference.gradcam import gradcam

    analyzer = Analyzer(open_model(imported["classifier"]), audit=None, engine="onnxruntime")
    assert analyzer.model.module is None
    assert analyzer.heatmap_method == "Grad-CAM"
    pre = prepare(xray_frame, analyzer.manifest)
    tops = []
    for index in range(len(analyzer.manifest.classes)):
        mine = analyzer.explain(xray_frame, index, pre)
        reference = pre.transform.to_original(
            gradcam(analyzer.model.network(), pre.image, index), fill=0.0)
        assert mine.shape == reference.shape
        np.testing.assert_allclose(mine, reference, atol=1e-4)
        tops.append(mine.max())
    assert max(tops) > 0.9  # a map, not zeros (a random network may support one class nowhere)


def test_shipped_classifier_heat_map_is_the_map_it_decides_from(isolated, monkeypatch, xray_frame):
    """The shipped demo classifier is a lesion map: its graph's heat map is that map, as
    its torch network gives it, and the viewer calls it a decision map, not Grad-CAM."""
    from medview.inference.gradcam import heat_map

    monkeypatch.setenv("MEDVIEW_MODELS_DIR", str(SHIPPED_MODELS))
    analyzer = Analyzer(open_model(Registry().find("demo-lesion-classifier")), audit=None,
                        engine="onnxruntime")
    assert analyzer.model.module is None
    assert analyzer.heatmap_method == "decision map"
    pre = prepare(xray_frame, analyzer.manifest)
    for index in range(len(analyzer.manifest.classes)):
        mine = analyzer.explain(xray_frame, index, pre)
        reference = pre.transform.to_original(heat_map(analyzer.model.network(), pre.image, index), fill=0.0)
        np.testing.assert_allclose(mine, reference, atol=1e-4)


def test_shipped_models_carry_their_checked_graph(isolated, monkeypatch):
    monkeypatch.setenv("MEDVIEW_MODELS_DIR", str(SHIPPED_MODELS))
    for entry in Registry().available():
        if entry.source == SHIPPED:
            assert entry.graph_path is not None and open_graph(entry).graph == entry.graph_path


def test_altered_graph_is_refused(imported):
    entry = imported["segmenter"]
    with open(entry.graph_path, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(WeightsError, match="SHA-256 differs"):
        open_graph(entry)


def test_missing_graph_makes_the_model_unusable(imported):
    entry = imported["segmenter"]
    entry.graph_path.unlink()
    (found,) = [e for e in Registry().entries() if e.name == entry.name]
    assert not found.valid and "graph 'model.onnx': file not found" in found.error


def test_torch_or_cuda_requests_use_the_network(imported):
    entry = imported["classifier"]
    assert runs_on_graph(entry, "cpu", "auto") and runs_on_graph(entry, "cpu", "openvino")
    assert not runs_on_graph(entry, "cpu", "torch") and not runs_on_graph(entry, "cuda", "auto")
    assert open_model(entry, "cpu", "torch").module is not None


def test_the_gui_runs_torch_in_the_inference_process_for_cuda_or_by_choice(imported,
                                                                           monkeypatch):
    entry = imported["classifier"]
    cuda = {"usable": False}
    monkeypatch.setattr(analyze, "_cuda_usable", lambda: cuda["usable"])
    assert runs_on_graph(entry) and not runs_in_worker(entry)
    assert runs_in_worker(entry, "cpu", "torch") and runs_in_worker(entry, "cuda", "auto")
    assert not runs_in_worker(entry, "cpu", "onnxruntime")
    cuda["usable"] = True  # torch sees a GPU: "auto" means the torch CUDA engine
    assert not runs_on_graph(entry) and runs_in_worker(entry)
    assert not runs_in_worker(entry, "cpu", "auto")
    model = open_model(entry, "auto", "auto", in_worker=True)
    assert model.module is None and model.graph is None and model.path == entry.path
    # a model without a graph (imported before graphs) on the CPU stays in this process
    cuda["usable"] = False
    legacy = replace(entry, manifest=replace(entry.manifest, onnx=None))
    assert legacy.graph_path is None
    assert not runs_on_graph(legacy) and not runs_in_worker(legacy)
    assert runs_in_worker(legacy, "auto", "torch")


def test_manifest_graph_needs_a_sha256():
    data = manifest_data(CLASSIFIER, onnx={"file": "model.onnx"})
    with pytest.raises(ManifestError, match="'onnx.sha256': is required"):
        parse_manifest(data)
    data["onnx"] = {"file": "model.pt", "sha256": "0" * 64}
    with pytest.raises(ManifestError, match="'onnx.file'"):
        parse_manifest(data)


@pytest.mark.parametrize("model", ["demo-lesion-classifier", "demo-lesion-segmenter"])
def test_cli_analyze_never_imports_torch(model, isolated, tmp_path):
    """``medview analyze`` with a shipped model, in a fresh process: torch never loads."""
    script = ("import sys\nfrom medview.cli import main\n"
              "code = main(sys.argv[1:])\n"
              "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n"
              "sys.exit(code)\n")
    env = dict(os.environ, MEDVIEW_MODELS_DIR=str(SHIPPED_MODELS),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script, "analyze", "--model", model,
                           str(SAMPLE_XRAY)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["model"] == model and result["engine"] in ("onnxruntime", "openvino")
    assert "TORCH False" in proc.stderr, proc.stderr[-2000:]
