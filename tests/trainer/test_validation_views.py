"""Per-epoch validation of a network with test-time flips sees one view; it is then
restored, so the finished model (its test report, analysis) sees all four."""

from __future__ import annotations

import numpy as np
import torch

from medview.inference.registry import build_module
from medview.inference.manifest import parse_manifest
from tests.helpers.builders import SEGMENTER, manifest_data
from trainer.distributed import Dist
from trainer.losses import BinarySegmentationLoss
from trainer.steps import validate


class _Source:
    """Three (image, class-index mask) samples of 32×32."""

    def __len__(self) -> int:
        return 3

    def get(self, i: int):
        rng = np.random.default_rng(i)
        return rng.normal(size=(1, 32, 32)).astype(np.float32), (rng.random((32, 32)) > 0.9).astype(np.int64)


def test_an_epochs_validation_runs_the_network_once_per_image_and_keeps_its_flips():
    module = build_module(parse_manifest(manifest_data(
        SEGMENTER, architecture={"name": "lesion_unet", "arguments": {"test_time_flips": True}})))
    views = []
    module.stem.register_forward_hook(lambda m, i, o: views.append(len(i[0])))
    out = validate(module, _Source(), BinarySegmentationLoss(), "segmentation", 2, 8, torch.device("cpu"), 0, Dist())
    assert views == [3] and out.n == 3
    assert module.test_time_flips
    views.clear()
    with torch.inference_mode():
        module.eval()(torch.zeros(1, 1, 32, 32))
    assert views == [1, 1, 1, 1]  # outside validation: the image and its three mirror images
