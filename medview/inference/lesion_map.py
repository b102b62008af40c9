"""A small fully convolutional classifier for small findings: one score per 8×8 cell.

On a clinic's few hundred radiographs with round lesions of radius 3–8 % of the image side, the
torchvision classifiers stay near chance for a 10-minute budget on two cores (issue 13,
``bench/lesion_map.py``): their last map has 6×6 cells at 192 px, so a lesion is a
fraction of one cell, and a ResNet-18 step is too slow for more than a few hundred
optimiser steps. This network keeps a map at 1/8 of the input side (a lesion covers a
few cells) with ~0.09 M weights, and decides from it:

* a fixed **local-contrast** step first: each pixel minus the mean of its
  ``contrast_window`` neighbourhood, so a finding is measured against the anatomy around
  it, whatever the level there;
* a 5×5 stride-2 stem, six 3×3 conv + BN + ReLU layers and two 2×2 max pools;
* a 1×1 convolution giving each class's evidence per cell, relative to the *background
  class* (``normal``; its map is zero), as :func:`medview.inference.map_head.class_maps`;
* the image's logit of a class is the **maximum** of its map (an image is positive when
  some place in it is). A two-class softmax then gives ``sigmoid(max cell)``.

The map the decision is made from is the model's heat map (``forward_maps``: the graph
exports it as the CAM output), and the trainer supervises it cell by cell with lesion
masks when the data set has them (:class:`trainer.aux_mask.OwnMapModel`). Manifest::

    {"name": "lesion_map", "arguments": {"background_class": 1}}

optionally with ``"width"`` (channels of the stem, default 16) and ``"contrast_window"``
(odd pixels, default 31).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medview.inference.map_head import class_maps

__all__ = ["LesionMapNet", "ARGUMENTS", "DEFAULT_WIDTH", "DEFAULT_WINDOW", "STRIDE", "build", "local_contrast",
           "contrasts", "conv_bn_relu", "check_shape_arguments"]

#: Arguments the manifest may give.
ARGUMENTS = ("background_class", "width", "contrast_window")
DEFAULT_WIDTH = 16
DEFAULT_WINDOW = 31
#: Input pixels per map cell.
STRIDE = 8


def conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    """3×3 convolution (no bias), BatchNorm, ReLU; the spatial size is kept."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def local_contrast(x: torch.Tensor, window: int) -> torch.Tensor:
    """Each pixel minus the mean of its ``window``×``window`` neighbourhood (the image's
    edge: the mean of the part inside), so a finding is measured against the anatomy
    around it, whatever the level there."""
    return x - _local_mean(x, window)


def contrasts(x: torch.Tensor, window: int, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(:func:`local_contrast`, that contrast divided by the neighbourhood's standard
    deviation, at least ``floor``): the second says how far a pixel stands out of the
    texture around it, the same for a faint finding in quiet soft tissue and a strong one
    in busy bone or MR texture."""
    mean = _local_mean(x, window)
    contrast = x - mean
    var = (_local_mean(x * x, window) - mean * mean).clamp_min(0.0)
    return contrast, contrast / torch.sqrt(var).clamp_min(floor)


def _local_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean of each pixel's ``window``-square neighbourhood (at the edge, of the part in the
    image): a row pass then a column pass, ``2·window`` additions per pixel, not ``window²``
    (the valid part of a window is a rectangle, so the two 1-D means give its mean)."""
    half = window // 2
    rows = F.avg_pool2d(x, (1, window), 1, (0, half), count_include_pad=False)
    return F.avg_pool2d(rows, (window, 1), 1, (half, 0), count_include_pad=False)


class LesionMapNet(nn.Module):
    """Class logits from the maximum of per-cell class maps (module docstring).

    Parameters
    ----------
    in_channels : int
    num_classes : int
        At least 2, one of them the background class.
    background_class : int
        Index of the class meaning "no finding".
    width : int
        Channels of the stem; the deeper layers have 2× and 4×.
    contrast_window : int
        Odd side of the local-contrast neighbourhood, in input pixels.
    """

    def __init__(self, in_channels: int, num_classes: int, background_class: int,
                 width: int = DEFAULT_WIDTH, contrast_window: int = DEFAULT_WINDOW) -> None:
        super().__init__()
        self.background, self.window = int(background_class), int(contrast_window)
        w = int(width)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 5, 2, 2, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),
            conv_bn_relu(2 * w, 2 * w), conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),
            conv_bn_relu(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.head = nn.Conv2d(4 * w, num_classes, 1)

    def forward_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits (N, K), maps (N, K, H/8, W/8)): each class's evidence per cell
        relative to the background class (whose map and logit are zero)."""
        features = self.features(local_contrast(x, self.window))
        maps = class_maps(features, self.head.weight[:, :, 0, 0], self.head.bias, self.background)
        return maps.flatten(2).amax(dim=2), maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_maps(x)[0]


def build(in_channels: int, num_classes: int, arguments: dict[str, Any]) -> LesionMapNet:
    """The network of a manifest's ``architecture.arguments`` (checked here).

    Raises
    ------
    ValueError
        For an unknown argument, a missing or wrong ``background_class``, or a width or
        window out of range.
    """
    unknown = sorted(set(arguments) - set(ARGUMENTS))
    if unknown:
        raise ValueError(f"lesion_map takes no argument {', '.join(unknown)}; valid: {', '.join(ARGUMENTS)}")
    background = arguments.get("background_class")
    if not isinstance(background, int) or isinstance(background, bool) or not 0 <= background < num_classes:
        raise ValueError(f"lesion_map needs 'background_class': the index of the class that means "
                         f"'no finding' (0..{num_classes - 1}), not {background!r}")
    if num_classes < 2:
        raise ValueError("lesion_map needs at least two classes, one of them the background")
    width, window = check_shape_arguments("lesion_map", arguments)
    return LesionMapNet(in_channels, num_classes, background, width, window)


def check_shape_arguments(name: str, arguments: dict[str, Any]) -> tuple[int, int]:
    """(width, contrast_window) of the arguments of ``name`` (defaults filled in).

    Raises
    ------
    ValueError
        Naming the argument, for a width outside 4..128 or a window that is not an odd
        integer of at least 3.
    """
    width = arguments.get("width", DEFAULT_WIDTH)
    window = arguments.get("contrast_window", DEFAULT_WINDOW)
    if not isinstance(width, int) or isinstance(width, bool) or not 4 <= width <= 128:
        raise ValueError(f"{name} 'width' must be an integer 4..128, not {width!r}")
    if not isinstance(window, int) or isinstance(window, bool) or window < 3 or window % 2 == 0:
        raise ValueError(f"{name} 'contrast_window' must be an odd integer >= 3, not {window!r}")
    return width, window
