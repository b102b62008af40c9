"""Masks of a classification data set as an auxiliary target while training.

A labels CSV may name a lesion mask per image (``mask`` column). The classifier then
learns with a second, small output: a 1×1 convolution on its last feature map (the one
the head pools), trained to mark the feature-map cells that hold lesion pixels (binary
cross-entropy + soft Dice, weighted by the job's ``mask_weight``). It teaches the
features where the finding is, which a few hundred image labels alone teach slowly; the
class activation map then points at the lesion too. The extra convolution lives outside
the classifier: the exported model is the plain classifier, with the same manifest and
tensors as without masks.

An image without a mask is left out of the auxiliary loss, except in a binary task an
image of the negative class (``normal``, …), which shows no lesion by definition and
counts as an empty mask. Mask values: 0 background, 1 lesion,
:data:`trainer.data.inputs.UNKNOWN_MASK` no mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.data.inputs import UNKNOWN_MASK as UNKNOWN
from trainer.losses import BinarySegmentationLoss

__all__ = ["uses_masks", "empty_is_background", "feature_layer", "AuxModel", "OwnMapModel", "AuxLoss",
           "MAP_POS_WEIGHT"]

def uses_masks(job, ds) -> bool:
    """Whether the run trains with the auxiliary mask loss."""
    return ds.task == "classification" and ds.summary.n_masks > 0 and job.mask_weight > 0


def empty_is_background(ds, pos: int | None) -> list[bool]:
    """Per class: whether an image of it without a mask counts as an empty mask (the
    negative class of a binary task), else unknown."""
    if pos is None or len(ds.classes) != 2:
        return [False] * len(ds.classes)
    return [i != pos for i in range(len(ds.classes))]


def feature_layer(module, channels: int, size: tuple[int, int]) -> tuple[str, int]:
    """The top-level child whose output is the last spatial feature map (before pooling).

    Found by running one grey image through the network in eval mode and watching the
    outputs of its top-level children: the last 4-D output larger than 1×1.

    Returns
    -------
    name, channels : str, int

    Raises
    ------
    ValueError
        If no child produces a spatial feature map.
    """
    seen: list[tuple[str, int]] = []
    hooks = [child.register_forward_hook(
        lambda _m, _i, out, n=name: seen.append((n, out.shape[1]))
        if isinstance(out, torch.Tensor) and out.ndim == 4 and out.shape[2] * out.shape[3] > 1 else None)
        for name, child in module.named_children()]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(torch.zeros((1, channels) + tuple(size), device=next(module.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    if not seen:
        raise ValueError("the network has no spatial feature map to attach a mask output to")
    return seen[-1]


class AuxModel(nn.Module):
    """The classifier plus a 1×1 convolution on its last feature map.

    ``forward`` returns ``(class logits, mask logits)``; ``net`` alone stays the plain
    classifier (validation, export).
    """

    def __init__(self, net: nn.Module, layer: str, channels: int) -> None:
        super().__init__()
        self.net = net
        self.aux = nn.Conv2d(channels, 1, kernel_size=1)
        self._features: torch.Tensor | None = None
        self._hook = getattr(net, layer).register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output) -> None:
        if self.net.training:  # not while the classifier alone is validated
            self._features = output

    def forward(self, x: torch.Tensor):
        logits = self.net(x)
        features, self._features = self._features, None
        return logits, self.aux(features)

    def remove(self) -> None:
        """Detach the hook from the classifier (after training)."""
        self._hook.remove()


class OwnMapModel(nn.Module):
    """A classifier that decides from its class maps
    (:class:`medview.inference.map_head.MapPooledResNet`): the masks supervise the map of
    the positive class itself, the map whose strongest cells make the image's score, so
    what the pixels teach reaches the decision directly. No extra output, nothing to
    remove.

    ``forward`` returns ``(class logits, the positive class's map)``.
    """

    def __init__(self, net: nn.Module, positive: int) -> None:
        super().__init__()
        self.net, self.positive = net, int(positive)
        self.aux = nn.Identity()  # no parameters of its own

    def forward(self, x: torch.Tensor):
        logits, maps = self.net.forward_maps(x)
        return logits, maps[:, self.positive:self.positive + 1]

    def remove(self) -> None:
        """Nothing to detach (as :meth:`AuxModel.remove`)."""


#: Weight of a lesion cell in the BCE of a map the decision is made from: a lesion covers
#: a few cells of several hundred. Measured on the lesion bench data (lesion_map, 80 s):
#: held-out AUC 0.874 with it, 0.775 without.
MAP_POS_WEIGHT = 20.0


class AuxLoss(nn.Module):
    """The classification loss + ``weight`` × (BCE + soft Dice) of the mask output.

    The mask is max-pooled to the feature map's grid (a cell is positive when any of its
    pixels is lesion); images whose mask is unknown (:data:`trainer.data.inputs.UNKNOWN_MASK`) are
    left out.

    With ``own_map`` (:class:`OwnMapModel`: the mask output is the map the image's score
    is pooled from), an image whose mask is known learns from its mask alone, with lesion
    cells weighted :data:`MAP_POS_WEIGHT`; the classification loss is kept for the images
    without a mask. The mask says more than the label (which cells, not only whether
    one), and the label's loss on the pooled maximum pulls up whichever cell is strongest,
    early on rarely the lesion's (measured: held-out AUC 0.80 with both losses, 0.87 with
    the mask's alone).
    """

    def __init__(self, base: nn.Module, weight: float, own_map: bool = False) -> None:
        super().__init__()
        self.base, self.weight, self.own_map = base, float(weight), bool(own_map)
        self.seg = BinarySegmentationLoss(pos_weight=MAP_POS_WEIGHT if own_map else None)

    def forward(self, outputs, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        logits, aux = outputs
        known = ~(masks == UNKNOWN).flatten(1).any(dim=1)
        if not bool(known.any()):
            return self.base(logits, target)
        lesion = (masks[known] == 1).to(aux.dtype).unsqueeze(1)
        cells = F.adaptive_max_pool2d(lesion, aux.shape[2:]).squeeze(1)
        loss = self.weight * self.seg(aux[known], cells)
        if not self.own_map:
            return self.base(logits, target) + loss
        if bool(known.all()):
            return loss
        return loss + self.base(logits[~known], target[~known])
