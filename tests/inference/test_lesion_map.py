"""The lesion map classifier (``lesion_map``): one score per 8×8 cell after a local-contrast
step, the image's score its strongest cell against the background class, and that map is
the heat map of its ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medview.inference.analyze import Analyzer, open_model, prepare
from medview.inference.manifest import ManifestError, parse_manifest
from medview.inference.registry import Registry, build_module
from tests.helpers.builders import CLASSIFIER, manifest_data, write_model
from tests.helpers.builders import build_module as random_module

LESION_MAP = {"name": "lesion_map", "arguments": {"background_class": 0}}


def _module(seed: int = 0):
    return random_module(manifest_data(CLASSIFIER, architecture=LESION_MAP), seed).eval()


def test_score_is_the_strongest_cell_against_the_background():
    module = _module()
    x = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        logits, maps = module.forward_maps(x)
        assert torch.equal(module(x), logits)
    assert maps.shape == (2, 2, 8, 8)  # a cell every 8 px
    assert torch.all(maps[:, 0] == 0) and torch.all(logits[:, 0] == 0)  # the background class
    torch.testing.assert_close(logits[:, 1], maps[:, 1].flatten(1).amax(1))


def test_the_level_of_the_anatomy_around_a_finding_does_not_matter():
    """The local-contrast step: the same image brighter everywhere scores the same."""
    module = _module()
    x = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        torch.testing.assert_close(module(x + 3.0), module(x), atol=1e-4, rtol=1e-4)


def test_a_spot_moves_the_strongest_cell_with_it():
    """The map is spatial: a bright disc raises its own cells' evidence against the rest."""
    module = _module(seed=5)
    yy, xx = np.mgrid[:64, :64]
    with torch.inference_mode():
        empty = module.forward_maps(torch.zeros(1, 1, 64, 64))[1][0, 1]
        for cy, cx in [(12, 12), (50, 44)]:
            disc = torch.from_numpy(((yy - cy) ** 2 + (xx - cx) ** 2 <= 16).astype(np.float32))
            change = (module.forward_maps(4 * disc[None, None])[1][0, 1] - empty).abs()
            row, col = divmod(int(change.argmax()), 8)
            assert abs(row - cy // 8) <= 1 and abs(col - cx // 8) <= 1


@pytest.mark.parametrize("arguments, words", [
    ({}, "needs 'background_class'"),
    ({"background_class": 2}, "needs 'background_class'"),
    ({"background_class": 0, "depth": 3}, "takes no argument depth"),
    ({"background_class": 0, "width": 2}, "'width' must be"),
    ({"background_class": 0, "contrast_window": 30}, "'contrast_window' must be an odd"),
])
def test_bad_arguments_are_refused_naming_the_field(arguments, words):
    manifest = parse_manifest(manifest_data(CLASSIFIER, architecture={"name": "lesion_map", "arguments": arguments}))
    with pytest.raises(ManifestError, match=words) as err:
        build_module(manifest)
    assert err.value.field == "architecture.arguments"


def test_graph_outputs_the_map_as_the_heat_map(isolated, tmp_path, xray_frame):
    from medview.inference.weights import write_safetensors

    data = manifest_data(CLASSIFIER, name="spots", architecture=LESION_MAP)
    folder = write_model(tmp_path / "spots", data, seed=3)
    module = random_module(data, seed=3)
    with torch.no_grad():  # some evidence for 'abnormal' somewhere, so the heat map is not empty
        module.head.bias[1] = 5.0 + module.head.bias[0]
    write_safetensors(module.state_dict(), folder / "weights.safetensors")
    entry = Registry().import_model(folder)
    analyzer = Analyzer(open_model(entry), audit=None, engine="onnxruntime")
    assert analyzer.model.module is None  # no torch: the graph alone
    result = analyzer.analyze(xray_frame, outside_scope=True)
    pre = prepare(xray_frame, analyzer.manifest)
    module = Registry().load("spots").module
    with torch.inference_mode():
        logits, maps = module.forward_maps(torch.from_numpy(pre.image[None]))
    assert result.probabilities["abnormal"] == pytest.approx(float(torch.softmax(logits, 1)[0, 1]), abs=1e-5)
    from medview.inference.cam import class_activation_map

    heat = analyzer.explain(xray_frame, 1, pre)
    expected = pre.transform.to_original(class_activation_map(maps[0].numpy(), 1, (64, 64)), fill=0.0)
    np.testing.assert_allclose(heat, expected, atol=1e-4)
    assert heat.max() > 0.9
    # without a graph (a folder never imported) the torch network's map explains it the same way
    unregistered = Registry([(tmp_path, "user")]).load("spots")
    assert unregistered.graph is None
    torch_heat = Analyzer(unregistered, audit=None, engine="torch").explain(xray_frame, 1, pre)
    np.testing.assert_allclose(torch_heat, heat, atol=1e-4)
    # and so does the inference process's torch (its "gradcam" request)
    from medview.inference.gradcam import heat_map

    np.testing.assert_allclose(heat_map(module, pre.image, 1), class_activation_map(maps[0].numpy(), 1, (64, 64)),
                               atol=1e-5)
