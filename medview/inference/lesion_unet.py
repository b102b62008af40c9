"""A small U-Net for outlining small findings: local contrast in, a mask at the input's size out.

On a clinic's few hundred radiographs with round lesions 3–8 % of the image side, an FPN
with a ResNet-18 encoder reaches a held-out Dice of about 0.5 in a 10-minute budget on two
cores (issue 13, ``bench/learning_curve.py``): each step is slow, so it sees each image a
few dozen times, and its first decoder output is at 1/4 of the input side. This network
is the segmentation sibling of :mod:`medview.inference.lesion_map` (~0.2 M weights, an
order of magnitude fewer operations):

* three input channels: the same fixed **local contrast** as ``lesion_map`` (each pixel
  minus its neighbourhood's mean), that contrast **divided by the neighbourhood's standard
  deviation** (how far a pixel stands out of its texture: a faint finding in quiet soft
  tissue looks like a strong one in busy bone; with it the network found 107 of the
  bench's 158 held-out lesions, without it 84), and the image itself (the level still
  tells body from air);
* an encoder at 1/2, 1/4, 1/8 and 1/16 of the input side (a 5×5 stride-2 stem, then 3×3
  conv + BN + ReLU pairs after max pools, the deepest dilated for context);
* a decoder back to 1/2 of the input side, each step upsampled and joined with the
  encoder's map of that size, then a 1×1 convolution to one output per class (one for a
  binary mask), upsampled bilinearly to the input's size: logits as an smp network gives.

With ``"test_time_flips": true`` the network, once trained (``eval()``), gives the mean of its
logits for the image and its three mirror images (left-right, up-down, both), each flipped
back: nnU-Net's mirroring at inference. A finding has no orientation, so a network trained
with flips both ways (the recipe's augmentation for small findings) sees four equally valid
views of it; on the issue 13 bench (a ``lesion_unet`` of held-out Dice 0.750) the mean of
the four gives 0.764, at four times the (small) inference cost. It is part of the network,
so every engine (torch, ONNX, int8) and the trainer's test report give the same mask (an
epoch's validation runs one view: :func:`trainer.steps.validate`).

Manifest::

    {"name": "lesion_unet", "arguments": {}}

optionally with ``"width"`` (channels of the stem, default 16), ``"contrast_window"``
(odd pixels, default 31) and ``"test_time_flips"`` (default false).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medview.inference.lesion_map import DEFAULT_WIDTH, DEFAULT_WINDOW, check_shape_arguments, conv_bn_relu, \
    contrasts

__all__ = ["LesionUNet", "ARGUMENTS", "FOREGROUND_PRIOR", "CONTRAST_FLOOR", "MIRRORS", "build"]

#: Arguments the manifest may give.
ARGUMENTS = ("width", "contrast_window", "test_time_flips")
#: Share of foreground pixels an untrained network predicts (class 0 is the background).
FOREGROUND_PRIOR = 0.01
#: Least neighbourhood standard deviation the normalised contrast divides by: 1 % of the
#: display range in the usual normalisation (mean 0.5, std 0.25); below, it is noise.
CONTRAST_FLOOR = 0.04
#: Dimensions flipped for each mirror image of ``test_time_flips`` (width, height, both).
MIRRORS = ((-1,), (-2,), (-2, -1))


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class LesionUNet(nn.Module):
    """Per-pixel class logits (N, K, H, W) of a small U-Net on local contrast (module docstring).

    Parameters
    ----------
    in_channels : int
    num_classes : int
        Output channels: 1 for a binary mask (sigmoid), else one per class (softmax).
    width : int
        Channels of the stem; the deeper levels have 2× and 4×.
    contrast_window : int
        Odd side of the local-contrast neighbourhood, in input pixels.
    test_time_flips : bool
        In ``eval()``, the mean logits of the input and its three mirror images.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = DEFAULT_WIDTH,
                 contrast_window: int = DEFAULT_WINDOW, test_time_flips: bool = False) -> None:
        super().__init__()
        self.window, w, self.test_time_flips = int(contrast_window), int(width), bool(test_time_flips)
        self.stem = nn.Sequential(  # contrast, normalised contrast and image side by side
            nn.Conv2d(3 * in_channels, w, 5, 2, 2, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            conv_bn_relu(w, w))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w))
        self.down3 = nn.Sequential(nn.MaxPool2d(2), conv_bn_relu(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.down4 = nn.Sequential(nn.MaxPool2d(2), conv_bn_relu(4 * w, 4 * w),
                                   conv_bn_relu(4 * w, 4 * w, dilation=2))
        self.up3 = conv_bn_relu(8 * w, 2 * w)
        self.up2 = conv_bn_relu(4 * w, w)
        self.up1 = conv_bn_relu(2 * w, w)
        self.head = nn.Conv2d(w, num_classes, 1)
        # Findings cover a few % of the pixels: start from 1 % foreground (RetinaNet's prior)
        # rather than a half-foreground guess the first epochs would spend unlearning.
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            if num_classes == 1:
                self.head.bias.fill_(-math.log(1 / FOREGROUND_PRIOR - 1))
            else:
                self.head.bias[0] = math.log((num_classes - 1) * (1 / FOREGROUND_PRIOR - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.test_time_flips:
            return self._logits(x)
        total = self._logits(x)
        for dims in MIRRORS:
            total = total + self._logits(x.flip(dims)).flip(dims)
        return total / (1 + len(MIRRORS))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.stem(torch.cat([*contrasts(x, self.window, CONTRAST_FLOOR), x], dim=1))
        f2 = self.down2(f1)
        f3 = self.down3(f2)
        y = self.up3(torch.cat([_up(self.down4(f3), f3), f3], dim=1))
        y = self.up2(torch.cat([_up(y, f2), f2], dim=1))
        y = self.up1(torch.cat([_up(y, f1), f1], dim=1))
        return _up(self.head(y), x)


def build(in_channels: int, num_classes: int, arguments: dict[str, Any]) -> LesionUNet:
    """The network of a manifest's ``architecture.arguments`` (checked here).

    Raises
    ------
    ValueError
        For an unknown argument, a width or window out of range, or a ``test_time_flips``
        that is not a boolean.
    """
    unknown = sorted(set(arguments) - set(ARGUMENTS))
    if unknown:
        raise ValueError(f"lesion_unet takes no argument {', '.join(unknown)}; valid: {', '.join(ARGUMENTS)}")
    width, window = check_shape_arguments("lesion_unet", arguments)
    flips = arguments.get("test_time_flips", False)
    if not isinstance(flips, bool):
        raise ValueError(f"lesion_unet 'test_time_flips' must be true or false, not {flips!r}")
    return LesionUNet(in_channels, num_classes, width, window, flips)
