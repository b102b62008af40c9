"""The small U-Net for small findings (``lesion_unet``): a mask at the input's size, a
1 % foreground start, checked arguments, test-time flips, and its ONNX graph gives the
torch network's mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medview.inference.analyze import Analyzer, open_model, prepare
from medview.inference.lesion_unet import FOREGROUND_PRIOR
from medview.inference.manifest import ManifestError, parse_manifest
from medview.inference.registry import Registry, build_module
from tests.helpers.builders import SEGMENTER, manifest_data, write_model
from tests.helpers.builders import build_module as random_module

LESION_UNET = {"name": "lesion_unet", "arguments": {}}
FLIPPED = {"name": "lesion_unet", "arguments": {"test_time_flips": True}}


@pytest.mark.parametrize("classes, shape", [(("lesion",), (64, 64)), (("background", "liver", "lesion"), (72, 96))])
def test_logits_have_the_input_size_and_start_near_one_percent_foreground(classes, shape):
    data = manifest_data(SEGMENTER, architecture=LESION_UNET, classes=list(classes),
                         output={"activation": "sigmoid" if len(classes) == 1 else "softmax"})
    module = random_module(data, seed=0).eval()
    x = torch.randn(2, 1, *shape, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        logits = module(x)
    assert tuple(logits.shape) == (2, len(classes), *shape)
    # an untrained network is a near-empty mask, not a half-foreground one
    if len(classes) == 1:
        foreground = torch.sigmoid(logits).mean()
    else:
        foreground = 1 - torch.softmax(logits, 1)[:, 0].mean()
    assert float(foreground) < 5 * FOREGROUND_PRIOR


def test_a_bright_spot_raises_the_mask_where_it_is():
    """The network is spatial: the output changes most around an input change."""
    module = random_module(manifest_data(SEGMENTER, architecture=LESION_UNET), seed=4).eval()
    yy, xx = np.mgrid[:64, :64]
    with torch.inference_mode():
        empty = module(torch.zeros(1, 1, 64, 64))[0, 0]
        for cy, cx in [(14, 16), (48, 40)]:
            disc = torch.from_numpy(((yy - cy) ** 2 + (xx - cx) ** 2 <= 16).astype(np.float32))
            change = (module(4 * disc[None, None])[0, 0] - empty).abs()
            near = change[max(0, cy - 16):cy + 16, max(0, cx - 16):cx + 16].mean()
            assert near > 2 * change.mean()


@pytest.mark.parametrize("arguments, words", [
    ({"encoder_name": "resnet18"}, "takes no argument encoder_name"),
    ({"width": 200}, "'width' must be"),
    ({"contrast_window": 4}, "'contrast_window' must be an odd"),
    ({"test_time_flips": "yes"}, "'test_time_flips' must be true or false"),
])
def test_bad_arguments_are_refused_naming_the_field(arguments, words):
    manifest = parse_manifest(manifest_data(SEGMENTER, architecture={"name": "lesion_unet", "arguments": arguments}))
    with pytest.raises(ManifestError, match=words) as err:
        build_module(manifest)
    assert err.value.field == "architecture.arguments"


def test_test_time_flips_make_the_trained_network_outline_a_mirrored_image_mirrored():
    """With the flips, a mirrored image gets the mirrored outline (the mean of the four views
    is the same set of views); without them a random network does not; training is unchanged."""
    x = torch.randn(1, 1, 48, 64, generator=torch.Generator().manual_seed(2))
    plain = random_module(manifest_data(SEGMENTER, architecture=LESION_UNET), seed=5).eval()
    flipped = random_module(manifest_data(SEGMENTER, architecture=FLIPPED), seed=5).eval()
    with torch.inference_mode():
        for dims in ((-1,), (-2,), (-2, -1)):
            torch.testing.assert_close(flipped(x.flip(dims)).flip(dims), flipped(x), atol=1e-5, rtol=1e-5)
            assert (plain(x.flip(dims)).flip(dims) - plain(x)).abs().max() > 1e-3
        views = [plain(x)] + [plain(x.flip(d)).flip(d) for d in ((-1,), (-2,), (-2, -1))]
        torch.testing.assert_close(flipped(x), torch.stack(views).mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(flipped.train()(x), plain.train()(x))  # one view while it learns


@pytest.mark.parametrize("architecture", [LESION_UNET, FLIPPED], ids=["plain", "test_time_flips"])
def test_the_graph_outlines_what_the_torch_network_outlines(architecture, isolated, tmp_path, xray_frame):
    data = manifest_data(SEGMENTER, name="spots", architecture=architecture)
    folder = write_model(tmp_path / "spots", data, seed=3)
    entry = Registry().import_model(folder)
    analyzer = Analyzer(open_model(entry), audit=None, engine="onnxruntime")
    assert analyzer.model.module is None  # no torch: the graph alone
    pre = prepare(xray_frame, analyzer.manifest)
    graph_logits = analyzer.engine.run(pre.image[None])
    with torch.inference_mode():
        torch_logits = Registry().load("spots").module(torch.from_numpy(pre.image[None])).numpy()
    np.testing.assert_allclose(graph_logits, torch_logits, atol=1e-4)
