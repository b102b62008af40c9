"""Grad-CAM: it points at the evidence, picks the right layer, and leaves the model as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medview.inference import architectures
from medview.inference.gradcam import default_layer, gradcam


class TwoSpots(nn.Module):
    """Class 0 is evidenced by channel 0 of the input, class 1 by channel 1.

    A 3x3 box filter per channel, ReLU, global average pooling and the identity
    as classifier: the class score is the mean of its channel's features.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1, groups=2, bias=False)
        nn.init.constant_(self.conv.weight, 1 / 9)
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.head(self.conv(x))


def _two_spot_input() -> torch.Tensor:
    x = torch.zeros(1, 2, 64, 64)
    x[0, 0, 8:16, 8:16] = 1.0     # evidence for class 0: top left
    x[0, 1, 44:52, 40:48] = 1.0   # evidence for class 1: bottom right
    return x


def test_heat_map_peaks_on_each_class_evidence():
    model = TwoSpots()
    x = _two_spot_input()
    cam0 = gradcam(model, x, 0)
    cam1 = gradcam(model, x.numpy()[0], 1)  # numpy (C, H, W) accepted too
    for cam, (r, c) in ((cam0, (12, 12)), (cam1, (48, 44))):
        assert cam.shape == (64, 64) and cam.dtype == np.float32
        assert cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
        peak = np.unravel_index(np.argmax(cam), cam.shape)
        assert abs(peak[0] - r) <= 4 and abs(peak[1] - c) <= 4
    assert cam0[48, 44] < 0.05 and cam1[12, 12] < 0.05  # each ignores the other's spot


def test_no_evidence_gives_zeros():
    assert not gradcam(TwoSpots(), torch.zeros(1, 2, 32, 32), 0).any()


def test_model_is_left_as_it_was():
    model = TwoSpots().train()
    for p in model.parameters():
        p.requires_grad_(False)  # frozen weights must not prevent the map
    cam = gradcam(model, _two_spot_input(), 0)
    assert cam.max() == pytest.approx(1.0)
    assert model.training
    assert not model.conv._forward_hooks
    assert all(p.grad is None for p in model.parameters())


def test_explicit_layer_by_name_and_bad_class_index():
    model = TwoSpots()
    by_name = gradcam(model, _two_spot_input(), 1, layer="conv")
    assert np.array_equal(by_name, gradcam(model, _two_spot_input(), 1))
    with pytest.raises(ValueError, match="class_index 2 out of range"):
        gradcam(model, _two_spot_input(), 2)
    with pytest.raises(ValueError, match="one input"):
        gradcam(model, torch.zeros(2, 2, 8, 8), 0)


EXPECTED_LAYER = {"resnet18": "layer4", "resnet34": "layer4", "resnet50": "layer4",
                  "densenet121": "features", "mobilenet_v3_small": "features",
                  "mobilenet_v3_large": "features", "efficientnet_b0": "features"}


@pytest.mark.parametrize("name", sorted(EXPECTED_LAYER))
def test_last_conv_stage_is_chosen_for_each_classifier(name):
    torch.manual_seed(0)
    model = architectures.build(name, 1, 2)
    assert default_layer(model) is model.get_submodule(EXPECTED_LAYER[name])
    cam = gradcam(model, torch.randn(1, 1, 64, 64), 1)
    assert cam.shape == (64, 64) and np.isfinite(cam).all()
    assert 0.0 <= cam.min() and cam.max() <= 1.0


def test_other_modules_use_their_last_conv():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert default_layer(model) is model[2]
    with pytest.raises(ValueError, match="no Conv2d"):
        default_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
