"""create_graph_engine: a model's ONNX graph on the CPU, measured once, checked, cached."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medview.inference.engines import create_graph_engine, selection
from medview.inference.onnx_export import export_onnx
from tests.helpers.engines import SHAPE, CountCalls, torch_reference


@pytest.fixture
def graph(classifier, tmp_path):
    return export_onnx(classifier, SHAPE, tmp_path / "model.onnx")


def _make(graph, cache, **kw):
    return create_graph_engine(graph, SHAPE, task="classification", model_key="g@1",
                               graph_sha256="ab" * 32, cache_dir=cache, **kw)


def test_measured_once_then_cached_and_agrees_with_torch(graph, classifier, tmp_path, batch,
                                                        monkeypatch):
    counter = CountCalls(selection.measure_candidates)
    monkeypatch.setattr(selection, "measure_candidates", counter)
    first = _make(graph, tmp_path / "cache")
    assert first.selection["source"] == "measured" and first.name in ("onnxruntime", "openvino")
    again = _make(graph, tmp_path / "cache")
    assert again.selection["source"] == "cache" and again.name == first.name
    assert counter.calls == 1
    entry, = json.loads((tmp_path / "cache" / "engines.json").read_text())["entries"].values()
    assert entry["fields"]["weights"] == "onnx:" + "ab" * 32
    np.testing.assert_allclose(again.run(batch), torch_reference(classifier, batch),
                               rtol=1e-2, atol=1e-2)


def test_without_measuring_the_reference_runs_at_once(graph, tmp_path):
    engine = _make(graph, tmp_path / "cache", measure=False)
    assert engine.selection["source"] == "default" and engine.selection["choice"] == "onnxruntime:fp32"


def test_explicit_engine_and_fp16(graph, tmp_path):
    notices = []
    engine = _make(graph, tmp_path / "cache", engine="openvino", precision="fp16",
                   on_notice=notices.append)
    assert engine.name == "openvino" and engine.precision == "fp32"
    assert any("fp16 is not offered" in n for n in notices)
    assert (tmp_path / "cache" / "openvino").is_dir()  # OpenVINO's compiled-model cache
    with pytest.raises(ValueError, match="not 'torch'"):
        _make(graph, tmp_path / "cache", engine="torch")


def test_onnxruntime_keeps_the_optimised_graph(graph, tmp_path, batch):
    from medview.inference.engines.onnxruntime_engine import OnnxRuntimeEngine

    cache = tmp_path / "ort"
    first = OnnxRuntimeEngine(graph, SHAPE, "classification", cache_dir=cache)
    (kept,) = cache.iterdir()  # one complete file, no temporary left
    made = kept.stat().st_mtime_ns
    again = OnnxRuntimeEngine(graph, SHAPE, "classification", cache_dir=cache)
    assert list(cache.iterdir()) == [kept] and kept.stat().st_mtime_ns == made  # read, not remade
    np.testing.assert_allclose(again.run(batch), first.run(batch), rtol=1e-5, atol=1e-6)
    kept.write_bytes(b"damaged")  # a broken copy is made again, not fatal
    np.testing.assert_allclose(OnnxRuntimeEngine(graph, SHAPE, "classification",
                                                 cache_dir=cache).run(batch),
                               first.run(batch), rtol=1e-5, atol=1e-6)
    assert kept.stat().st_size > 1000
