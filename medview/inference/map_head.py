"""Classifiers that decide from their class activation map: top-k pooling instead of
global average pooling.

A ResNet's head averages its last feature map over the image, then applies one linear
layer; equivalently it averages the class activation map ``z = W·A + b`` (Zhou et al.,
CVPR 2016). A small finding (a lesion a few percent of the image side) then covers one
cell in a hundred and its evidence is diluted by the anatomy around it. Here the image
score of each finding is the mean of its ``top_k`` strongest cells instead (multiple
instance learning: an image is positive when some place in it is), relative to the
*background class* (``normal``), so a two-class softmax gives ``sigmoid(topk(z_lesion -
z_normal))``. The map the decision is made from is the model's heat map: the graph
exports it (:func:`class_maps`), and the trainer can supervise it with lesion masks
(:mod:`trainer.aux_mask`).

The weights are those of the torchvision network (``fc`` is the 1×1 convolution of the
map), so backbones, weight import and Grad-CAM are unchanged. The manifest asks for it
with ``architecture.arguments``::

    {"pooling": "top_k", "background_class": 1, "top_k": 0.02}

(``"pooling": "average"`` is the torchvision head, as without ``pooling``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models import ResNet

# ``arguments["pooling"]``: POOLING asks for this head, AVERAGE (or none) for torchvision's.
# Defined with the registry, which reads them without torch.
from medview.inference.architectures import AVERAGE, POOLING

__all__ = ["POOLING", "AVERAGE", "MAP_ARGUMENTS", "DEFAULT_TOP_K", "split_arguments", "MapPooledResNet",
           "pool_top_k", "class_maps", "maps_of"]

#: Arguments read by medview (never passed to torchvision).
MAP_ARGUMENTS = ("pooling", "background_class", "top_k")
#: Share of the map's cells averaged for an image's score (at least one cell).
DEFAULT_TOP_K = 0.02


def split_arguments(arguments: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(torchvision's arguments, the map head's or None)."""
    if "pooling" not in arguments:
        extra = [k for k in MAP_ARGUMENTS if k in arguments]
        if extra:
            raise ValueError(f"{', '.join(extra)} need 'pooling': '{POOLING}'")
        return arguments, None
    head = {k: arguments[k] for k in MAP_ARGUMENTS if k in arguments}
    rest = {k: v for k, v in arguments.items() if k not in MAP_ARGUMENTS}
    if head["pooling"] == AVERAGE:
        if len(head) > 1:
            raise ValueError(f"{', '.join(k for k in head if k != 'pooling')} need 'pooling': '{POOLING}'")
        return rest, None
    if head["pooling"] != POOLING:
        raise ValueError(f"pooling '{head['pooling']}' is unknown; valid: '{POOLING}', '{AVERAGE}'")
    if not isinstance(head.get("background_class"), int) or isinstance(head["background_class"], bool):
        raise ValueError("pooling 'top_k' needs 'background_class': the index of the class "
                         "that means 'no finding'")
    top_k = head.get("top_k", DEFAULT_TOP_K)
    if not isinstance(top_k, (int, float)) or isinstance(top_k, bool) or not 0 < top_k <= 1:
        raise ValueError(f"top_k must be a share of the map's cells in (0, 1], not {top_k!r}")
    return rest, head


class MapPooledResNet(ResNet):
    """A torchvision ResNet whose class scores are top-k pooled class activation maps.

    Built by :func:`medview.inference.architectures.build` from a plain ResNet (same
    modules, same tensors: :meth:`adopt`).
    """

    background: int
    top_k: float

    @classmethod
    def adopt(cls, model: ResNet, background: int, top_k: float = DEFAULT_TOP_K) -> MapPooledResNet:
        """Turn ``model`` into this class in place: only ``forward`` changes, so its state
        dict keeps the torchvision layout."""
        if not 0 <= background < model.fc.out_features:
            raise ValueError(f"background_class {background} is not a class index "
                             f"(0..{model.fc.out_features - 1})")
        model.__class__ = cls
        model.background, model.top_k = int(background), float(top_k)
        return model

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (``layer4``'s output)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits (N, K), maps (N, K, h, w)): each class's evidence per cell
        relative to the background class (whose map is zero)."""
        maps = class_maps(self.features(x), self.fc.weight, self.fc.bias, self.background)
        return pool_top_k(maps, self.top_k), maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_maps(x)[0]


def maps_of(module: MapPooledResNet, image) -> np.ndarray:
    """The class maps (K, h, w) of one preprocessed input (C, H, W), as numpy: what the
    graph's ``cam`` output holds, for analysis without a graph."""
    with torch.inference_mode():
        x = torch.as_tensor(image)[None].to(next(module.parameters()).device)
        return module.forward_maps(x)[1][0].float().cpu().numpy()


def class_maps(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
               background: int) -> torch.Tensor:
    """``z_c − z_background`` per cell, with ``z = W·A + b`` (a 1×1 convolution)."""
    z = F.conv2d(features, weight[:, :, None, None], bias)
    return z - z[:, background:background + 1]


def pool_top_k(maps: torch.Tensor, share: float) -> torch.Tensor:
    """Mean of the ``share`` largest cells of each map (at least one): (N, K, h, w) → (N, K)."""
    flat = maps.flatten(2)
    # int(), not round(): the ONNX tracer hands the size over as a tensor
    k = max(1, int(share * flat.shape[2] + 0.5))
    return flat.topk(k, dim=2).values.mean(dim=2)
