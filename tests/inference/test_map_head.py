"""A ResNet whose class scores are its top-k pooled class maps (``pooling: top_k``): same
tensors as the torchvision network, scores from the strongest cells, and the map it pools
is the heat map of its ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medview.inference.analyze import Analyzer, open_model, prepare
from medview.inference.manifest import ManifestError, parse_manifest
from medview.inference.registry import Registry, build_module
from tests.helpers.builders import CLASSIFIER, build_module as random_module, manifest_data, write_model

POOLED = {"name": "resnet18", "arguments": {"pooling": "top_k", "background_class": 0, "top_k": 0.05}}


def _module(seed: int = 0):
    return random_module(manifest_data(CLASSIFIER, architecture=POOLED), seed)


def test_same_tensors_as_the_torchvision_network():
    plain, pooled = random_module(CLASSIFIER), _module()
    assert list(plain.state_dict()) == list(pooled.state_dict())
    assert {k: v.shape for k, v in plain.state_dict().items()} == \
           {k: v.shape for k, v in pooled.state_dict().items()}


def test_score_is_the_mean_of_the_strongest_cells_against_the_background():
    module = _module()
    x = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        logits, maps = module.forward_maps(x)
        assert torch.equal(module(x), logits)
    assert maps.shape == (2, 2, 2, 2)  # 64 px at stride 32
    assert torch.all(maps[:, 0] == 0) and torch.all(logits[:, 0] == 0)  # the background class
    k = max(1, round(0.05 * 4))
    expected = maps[:, 1].flatten(1).topk(k, dim=1).values.mean(1)
    torch.testing.assert_close(logits[:, 1], expected)


def test_one_strong_cell_decides_where_the_average_would_not():
    from medview.inference.map_head import pool_top_k

    maps = torch.full((1, 1, 10, 10), -2.0)
    maps[0, 0, 3, 4] = 6.0
    assert float(pool_top_k(maps, 0.01)) == 6.0 and float(maps.mean()) < -1.9


@pytest.mark.parametrize("arguments, words", [
    ({"pooling": "max"}, "pooling 'max' is unknown"),
    ({"pooling": "top_k"}, "needs 'background_class'"),
    ({"pooling": "top_k", "background_class": 0, "top_k": 0}, "top_k must be"),
    ({"background_class": 0}, "need 'pooling'"),
    ({"pooling": "top_k", "background_class": 2}, "not a class index"),
])
def test_bad_pooling_arguments_are_refused_naming_the_field(arguments, words):
    manifest = parse_manifest(manifest_data(CLASSIFIER, architecture={"name": "resnet18", "arguments": arguments}))
    with pytest.raises(ManifestError, match=words) as err:
        build_module(manifest)
    assert err.value.field == "architecture.arguments"


def test_only_resnets_pool_their_maps():
    data = manifest_data(CLASSIFIER, architecture={"name": "mobilenet_v3_small", "arguments": POOLED["arguments"]})
    with pytest.raises(ManifestError, match="for ResNets"):
        build_module(parse_manifest(data))


def test_graph_outputs_the_pooled_map_as_the_heat_map(isolated, tmp_path, xray_frame):
    data = manifest_data(CLASSIFIER, name="pooled", architecture=POOLED)
    folder = write_model(tmp_path / "pooled", data, seed=3)
    entry = Registry().import_model(folder)
    analyzer = Analyzer(open_model(entry), audit=None, engine="onnxruntime")
    assert analyzer.model.module is None  # no torch: the graph alone
    result = analyzer.analyze(xray_frame, outside_scope=True)
    pre = prepare(xray_frame, analyzer.manifest)
    module = Registry().load("pooled").module
    with torch.inference_mode():
        logits, maps = module.forward_maps(torch.from_numpy(pre.image[None]))
    probs = torch.softmax(logits, 1)[0]
    assert result.probabilities["abnormal"] == pytest.approx(float(probs[1]), abs=1e-5)
    heat = analyzer.explain(xray_frame, 1, pre)
    from medview.inference.cam import class_activation_map

    expected = pre.transform.to_original(class_activation_map(maps[0].numpy(), 1, (64, 64)), fill=0.0)
    np.testing.assert_allclose(heat, expected, atol=1e-4)
    assert heat.max() > 0.9  # a map, not zeros
    # without a graph (a folder never imported) the torch network's maps explain it the same way
    unregistered = Registry([(tmp_path, "user")]).load("pooled")
    assert unregistered.graph is None
    torch_heat = Analyzer(unregistered, audit=None, engine="torch").explain(xray_frame, 1, pre)
    np.testing.assert_allclose(torch_heat, heat, atol=1e-4)
