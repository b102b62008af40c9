"""The self-supervised networks: a classifier's trunk with SimSiam's, BYOL's or MoCo's heads.

All three compare two views of one image and learn with the small batches a CPU affords:

* **SimSiam** (Chen & He, CVPR 2021): trunk → projector → predictor; the loss is the
  negative cosine similarity between one view's prediction and the other view's
  projection, with the gradient stopped on the projection, symmetrised. No negatives.
* **BYOL** (Grill et al., NeurIPS 2020): the same, except that the projection to predict
  comes from a *target* network, an exponential moving average of the online trunk and
  projector (momentum from ``tau`` at the start to 1 at the end, cosine).
* **MoCo v2** (Chen et al., 2020; MoCo-CXR applied it to chest radiographs): the EMA
  target encodes the *key* view; the loss (InfoNCE, temperature 0.2) tells each query
  apart from a queue of keys of other images (up to 4,096, at most half the archive so
  an image's own older keys rarely count against it). The negatives make images that
  look alike (the same anatomy) differ in what sets them apart, findings included,
  without large batches.

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
#: weight decay, projector width, projection size, predictor width (0: none), the target's
#: start momentum (BYOL, MoCo), MoCo's temperature and longest queue.
METHOD_DEFAULTS = {
    "simsiam": {"lr": 0.05, "weight_decay": 1e-4, "hidden": 2048, "dim": 2048, "pred": 512},
    "byol": {"lr": 0.05, "weight_decay": 1e-4, "hidden": 1024, "dim": 256, "pred": 1024, "tau": 0.99},
    "moco": {"lr": 0.03, "weight_decay": 1e-4, "hidden": 2048, "dim": 128, "pred": 0, "tau": 0.99,
             "temperature": 0.2, "queue": 4096},
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
    """Trunk, projector, predictor, and the target and queue of the methods that have them;
    ``forward(x1, x2)`` is the loss.

    Parameters
    ----------
    trunk : torch.nn.Module
    features : int
        Output size of the trunk.
    method : {"simsiam", "byol", "moco"}
    images : int
        Images in the archive (bounds MoCo's queue).
    """

    def __init__(self, trunk: nn.Module, features: int, method: str, images: int = 10**6) -> None:
        super().__init__()
        d = METHOD_DEFAULTS[method]
        self.method = method
        self.trunk = trunk
        self.projector = _mlp([features, d["hidden"], d["dim"]], last_bn=method == "simsiam")
        self.predictor = _mlp([d["dim"], d["pred"], d["dim"]], last_bn=False) if d["pred"] else None
        self.target: nn.Module | None = None
        if "tau" in d:
            self.target = nn.Sequential(copy.deepcopy(trunk), copy.deepcopy(self.projector))
            for p in self.target.parameters():
                p.requires_grad_(False)
        if method == "moco":
            size = max(16, min(d["queue"], images // 2))
            self.register_buffer("queue", F.normalize(torch.randn(size, d["dim"]), dim=1))
            self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
            self.temperature = d["temperature"]
        #: Spread of the last batch's projections: ~1 healthy, ~0 collapsed (all alike).
        self.spread = float("nan")

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.projector(self.trunk(x1)), self.projector(self.trunk(x2))
        with torch.no_grad():
            self.spread = _spread(z1)
            if self.target is not None:
                self.target.train(self.training)
                t1, t2 = self.target(x1), self.target(x2)
            else:
                t1, t2 = z1.detach(), z2.detach()
        if self.method == "moco":
            loss = 0.5 * (self._info_nce(z1, t2) + self._info_nce(z2, t1))
            self._enqueue(torch.cat([t1, t2]))
            return loss
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return _similarity_loss(p1, t2) + _similarity_loss(p2, t1)

    def _info_nce(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        q, k = F.normalize(q.float(), dim=1), F.normalize(k.float(), dim=1)
        positive = (q * k).sum(1, keepdim=True)
        negative = q @ self.queue.clone().t()  # the queue changes before the backward pass
        logits = torch.cat([positive, negative], 1) / self.temperature
        return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        if not self.training:
            return
        keys = F.normalize(_gathered(keys.float()), dim=1)
        size, start = len(self.queue), int(self.queue_ptr)
        keys = keys[:size]
        end = start + len(keys)
        if end <= size:
            self.queue[start:end] = keys
        else:
            self.queue[start:] = keys[:size - start]
            self.queue[:end - size] = keys[size - start:]
        self.queue_ptr.fill_(end % size)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        """BYOL, MoCo: move the target towards the online network (no-op for SimSiam)."""
        if self.target is None:
            return
        online = list(self.trunk.parameters()) + list(self.projector.parameters())
        for t, o in zip(self.target.parameters(), online):
            t.mul_(tau).add_(o.detach(), alpha=1.0 - tau)
        online_buffers = list(self.trunk.buffers()) + list(self.projector.buffers())
        for t, o in zip(self.target.buffers(), online_buffers):
            t.copy_(o)


def _gathered(t: torch.Tensor) -> torch.Tensor:
    """Every process's ``t``, concatenated (``t`` itself when not distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


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


def build_ssl(architecture: str, method: str, images: int = 10**6) -> SSLNet:
    """The self-supervised network for ``architecture`` and ``method`` (random weights)."""
    trunk, features = build_trunk(architecture)
    return SSLNet(trunk, features, method, images)
