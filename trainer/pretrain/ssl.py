"""The self-supervised networks: a classifier's trunk with SimSiam's or BYOL's heads.

Both compare two views of one image without negative pairs, so they learn with the
small batches a CPU affords (Chen & He, "Exploring Simple Siamese Representation
Learning", CVPR 2021; Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020):

* **SimSiam**: trunk → projector → predictor; the loss is the negative cosine
  similarity between one view's prediction and the other view's projection, with the
  gradient stopped on the projection, symmetrised.
* **BYOL**: the same, except that the projection to predict comes from a *target*
  network, an exponential moving average of the online trunk and projector (momentum
  from ``tau`` at the start to 1 at the end, cosine).

The trunk is a medview architecture (:mod:`medview.inference.architectures`, one input
channel) with its classification head replaced by an identity, so its state dict is
the backbone in torchvision layout (``conv1.*``, ``bn1.*``, ``layer1.*`` … for
ResNets; no ``fc``).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SSLNet", "build_trunk", "build_ssl", "trunk_state", "HEAD_NAMES", "METHOD_DEFAULTS"]

#: Names of the classification head in torchvision classifiers.
HEAD_NAMES = ("fc", "classifier")

#: Per method: learning rate for SGD at batch 256 (scaled linearly with the batch),
#: weight decay, projector width, projection size, predictor width, BYOL's start momentum.
METHOD_DEFAULTS = {
    "simsiam": {"lr": 0.05, "weight_decay": 1e-4, "hidden": 2048, "dim": 2048, "pred": 512},
    "byol": {"lr": 0.05, "weight_decay": 1e-4, "hidden": 1024, "dim": 256, "pred": 1024, "tau": 0.99},
}


def build_trunk(architecture: str, channels: int = 1) -> tuple[nn.Module, int]:
    """A classifier of ``architecture`` without its head, and the size of its features.

    Returns
    -------
    trunk : torch.nn.Module
        Maps (N, channels, H, W) to (N, features); random weights.
    features : int
    """
    from medview.inference.architectures import build

    net = build(architecture, channels, 2)
    head = next(n for n in HEAD_NAMES if hasattr(net, n))
    setattr(net, head, nn.Identity())
    net.eval()
    with torch.no_grad():
        features = int(net(torch.zeros(2, channels, 64, 64)).shape[1])
    return net.train(), features


def trunk_state(trunk: nn.Module, architecture: str) -> dict[str, torch.Tensor]:
    """The trunk's tensors in the canonical backbone layout, on the CPU, contiguous.

    Weights and BatchNorm statistics; BatchNorm step counters are not part of a backbone
    (:mod:`medview.inference.backbone_layout`).
    """
    from medview.inference.backbone_layout import to_canonical

    state, _ = to_canonical(trunk.state_dict(), architecture, 1)
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _mlp(sizes: list[int], last_bn: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(nn.Linear(a, b, bias=last and not last_bn))
        if not last:
            layers += [nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(b, affine=False))
    return nn.Sequential(*layers)


class SSLNet(nn.Module):
    """Trunk, projector and predictor (and BYOL's target); ``forward(x1, x2)`` is the loss.

    Parameters
    ----------
    trunk : torch.nn.Module
    features : int
        Output size of the trunk.
    method : {"simsiam", "byol"}
    """

    def __init__(self, trunk: nn.Module, features: int, method: str) -> None:
        super().__init__()
        d = METHOD_DEFAULTS[method]
        self.method = method
        self.trunk = trunk
        if method == "simsiam":
            self.projector = _mlp([features, d["hidden"], d["dim"]], last_bn=True)
        else:
            self.projector = _mlp([features, d["hidden"], d["dim"]], last_bn=False)
        self.predictor = _mlp([d["dim"], d["pred"], d["dim"]], last_bn=False)
        self.target: nn.Module | None = None
        if method == "byol":
            self.target = nn.Sequential(copy.deepcopy(trunk), copy.deepcopy(self.projector))
            for p in self.target.parameters():
                p.requires_grad_(False)
        #: Spread of the last batch's projections: ~1 healthy, ~0 collapsed (all alike).
        self.spread = float("nan")

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.projector(self.trunk(x1)), self.projector(self.trunk(x2))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            self.spread = _spread(z1)
            if self.target is not None:
                self.target.train(self.training)
                t1, t2 = self.target(x1), self.target(x2)
            else:
                t1, t2 = z1.detach(), z2.detach()
        return _similarity_loss(p1, t2) + _similarity_loss(p2, t1)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        """BYOL: move the target towards the online network (no-op for SimSiam)."""
        if self.target is None:
            return
        online = list(self.trunk.parameters()) + list(self.projector.parameters())
        for t, o in zip(self.target.parameters(), online):
            t.mul_(tau).add_(o.detach(), alpha=1.0 - tau)
        online_buffers = list(self.trunk.buffers()) + list(self.projector.buffers())
        for t, o in zip(self.target.buffers(), online_buffers):
            t.copy_(o)


def _similarity_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Half the negative cosine similarity, averaged: -0.5 (aligned) … 0.5 (opposite).

    Summed over both directions, the symmetric loss goes from -1 (perfect) upwards; BYOL's
    ``2 - 2 cos`` is the same up to an affine map.
    """
    return -0.5 * F.cosine_similarity(p, z.detach(), dim=1).mean()


def _spread(z: torch.Tensor) -> float:
    """Standard deviation of the l2-normalised projections × sqrt(dim) (SimSiam §4.1)."""
    if len(z) < 2:
        return float("nan")
    zn = F.normalize(z.detach().float(), dim=1)
    return float(zn.std(dim=0).mean() * math.sqrt(zn.shape[1]))


def build_ssl(architecture: str, method: str) -> SSLNet:
    """The self-supervised network for ``architecture`` and ``method`` (random weights)."""
    trunk, features = build_trunk(architecture)
    return SSLNet(trunk, features, method)
