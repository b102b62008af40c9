"""State-dict key layouts of backbones: one home for mapping weights between them.

A backbone is stored in the *canonical* layout of its architecture family: the trunk of
the torchvision classifier of that name (``conv1.weight``, ``bn1.*``, ``layer1.*`` … for
resnet18; ``features.*`` for densenet121, mobilenet_v3 and efficientnet_b0), without its
head (``fc.*`` / ``classifier.*``) and without BatchNorm step counters
(``num_batches_tracked``, which official weights lack and nothing learns). Other layouts
map onto it:

* timm ResNet and DenseNet use torchvision's names;
* segmentation-models-pytorch encoders are torchvision trunks under ``encoder.``
  (resnet18/34/50, densenet121; smp 0.6 has no encoder with torchvision's MobileNetV3 or
  EfficientNet names, so those two serve classifiers only);
* checkpoints wrap keys in ``module.`` (DataParallel), ``model.`` or ``backbone.``;
* old torchvision DenseNet files spell ``norm.1`` where today's modules say ``norm1``.

No torch at import: only :func:`expected_layout` builds a network (through
:mod:`medview.inference.architectures`, which loads torch when called).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medview.core.errors import MedviewError

__all__ = ["BACKBONE_ARCHITECTURES", "SMP_ENCODERS", "LayoutReport", "LayoutError",
           "adapt_input_conv", "canonical_keys", "to_canonical", "expected_layout",
           "for_network", "family_of"]

#: Architectures a backbone may have, with the prefix of the classifier head they drop.
BACKBONE_ARCHITECTURES: dict[str, str] = {
    "resnet18": "fc.", "resnet34": "fc.", "resnet50": "fc.", "densenet121": "classifier.",
    "mobilenet_v3_small": "classifier.", "mobilenet_v3_large": "classifier.",
    "efficientnet_b0": "classifier.",
}
#: Backbone architectures that are also smp encoders with the same keys under ``encoder.``.
SMP_ENCODERS = ("resnet18", "resnet34", "resnet50", "densenet121")

# Wrappers stripped when every key carries them (DataParallel, Lightning, detection trunks).
_WRAPPERS = ("module.", "model.", "backbone.")
_ENCODER = "encoder."
_COUNTER = "num_batches_tracked"
# torchvision's own fix-up for DenseNet files saved before PyTorch 0.4 (models/densenet.py).
_DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
_NAME_LIMIT = 12


class LayoutError(MedviewError, ValueError):
    """Weights do not fit a backbone layout; the message says which tensors and why."""


@dataclass
class LayoutReport:
    """What a mapping did, tensor by tensor.

    Attributes
    ----------
    loaded : list of str
        Canonical names taken as they were.
    adapted : list of str
        Input convolutions adapted to the backbone's channels.
    skipped : list of (str, str)
        Source names left out, with the reason (head, counter, shape, unknown).
    missing : list of str
        Canonical names the source did not provide.
    counters : int
        BatchNorm step counters dropped (``num_batches_tracked``: not weights).
    """

    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    counters: int = 0

    def summary(self) -> str:
        """One line: counts, then the skipped names with their reasons."""
        text = (f"{len(self.loaded) + len(self.adapted)} tensors loaded "
                f"({len(self.adapted)} adapted), {len(self.skipped)} skipped")
        if self.counters:
            text += f", {self.counters} BatchNorm step counters dropped"
        if self.skipped:
            text += ": " + _names([f"{n} ({why})" for n, why in self.skipped])
        return text


def adapt_input_conv(weight, in_channels: int):
    """A convolution kernel ``[out, in, kh, kw]`` adapted to ``in_channels`` inputs.

    One input channel: the filters summed over the input axis (a grey image seen by RGB
    filters as R = G = B). More: the filters repeated and scaled by ``in / in_channels``
    so that the response to a uniform image keeps its size (timm ``adapt_input_conv``).
    """
    dtype = weight.dtype
    w = weight.float()
    if in_channels == 1:
        w = w.sum(dim=1, keepdim=True)
    else:
        have = w.shape[1]
        w = w.repeat(1, math.ceil(in_channels / have), 1, 1)[:, :in_channels] * (have / in_channels)
    return w.to(dtype)


def family_of(architecture: str, arguments: Mapping[str, Any] | None = None) -> str | None:
    """The backbone architecture a network of ``architecture`` can start from (None: none).

    A torchvision classifier takes the backbone of its own name; an smp network
    (fpn, unet, ...) the backbone named by ``arguments["encoder_name"]`` when that
    encoder has the torchvision layout (:data:`SMP_ENCODERS`); medview's own networks
    (``lesion_map``) none.
    """
    from medview.inference.architectures import get_architecture

    arch = get_architecture(architecture)
    if arch.library == "torchvision":
        return arch.name if arch.name in BACKBONE_ARCHITECTURES else None
    if arch.library != "segmentation_models_pytorch":  # medview's own small networks
        return None
    encoder = (arguments or {}).get("encoder_name", "resnet34")
    return encoder if encoder in SMP_ENCODERS else None


def canonical_keys(state: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``state`` with wrapper prefixes stripped and legacy names renamed.

    Returns
    -------
    state : dict
        Keys in torchvision's naming (head and counters still in).
    skipped : list of (str, str)
        Keys left out: the rest of an smp network (decoder, segmentation head) when the
        state holds an ``encoder.``.
    """
    keys = dict(state)
    skipped: list[tuple[str, str]] = []
    changed = True
    while changed and keys:
        changed = False
        for prefix in _WRAPPERS:
            if all(k.startswith(prefix) for k in keys):
                keys = {k[len(prefix):]: v for k, v in keys.items()}
                changed = True
        if any(k.startswith(_ENCODER) for k in keys):
            skipped += [(k, "not part of the encoder") for k in keys if not k.startswith(_ENCODER)]
            keys = {k[len(_ENCODER):]: v for k, v in keys.items() if k.startswith(_ENCODER)}
            changed = True
    return {_DENSENET_LEGACY.sub(r"\1\2", k): v for k, v in keys.items()}, skipped


@functools.cache
def expected_layout(architecture: str, channels: int) -> dict[str, tuple[int, ...]]:
    """Canonical tensor names and shapes of a backbone (built once, random, no download).

    Raises
    ------
    LayoutError
        For an architecture that is not a backbone architecture.
    """
    if architecture not in BACKBONE_ARCHITECTURES:
        raise LayoutError(f"'{architecture}' is not a backbone architecture; valid: "
                          f"{', '.join(BACKBONE_ARCHITECTURES)}")
    from medview.inference.architectures import build

    head = BACKBONE_ARCHITECTURES[architecture]
    state = build(architecture, channels, 2).state_dict()
    return {k: tuple(v.shape) for k, v in state.items()
            if not k.startswith(head) and not k.endswith(_COUNTER)}


def to_canonical(state: Mapping[str, Any], architecture: str, channels: int = 1
                 ) -> tuple[dict[str, Any], LayoutReport]:
    """Map a torchvision, timm or smp state dict onto the canonical backbone layout.

    Parameters
    ----------
    state : mapping of str to Tensor
        A classifier's or an smp network's (or encoder's) state dict, possibly wrapped.
    architecture : str
        A key of :data:`BACKBONE_ARCHITECTURES`.
    channels : int
        Input channels of the backbone; an RGB stem is adapted (summed for 1 channel).

    Returns
    -------
    state : dict
        Exactly the tensors of :func:`expected_layout`.
    report : LayoutReport

    Raises
    ------
    LayoutError
        When tensors of the backbone are missing or mis-shaped (naming them), or
        none matches.
    """
    expected = expected_layout(architecture, channels)
    named, skipped = canonical_keys(state)
    head = BACKBONE_ARCHITECTURES[architecture]
    report = LayoutReport(skipped=skipped)
    out = {}
    for name, value in named.items():
        want = expected.get(name)
        if name.endswith(_COUNTER):
            report.counters += 1
        elif want is None:
            why = "head" if name.startswith(head) else f"not a tensor of {architecture}"
            report.skipped.append((name, why))
        elif tuple(value.shape) == want:
            out[name] = value
            report.loaded.append(name)
        elif _is_stem(value.shape, want, channels):
            out[name] = adapt_input_conv(value, channels)
            report.adapted.append(name)
        else:
            report.skipped.append((name, f"shape {tuple(value.shape)}, {architecture} has {want}"))
    report.missing = [k for k in expected if k not in out]
    if not out:
        example = ", ".join(f"'{k}'" for k in list(named)[:3])
        raise LayoutError(f"no tensor matches {architecture} by name and shape (the file's "
                          f"{len(named)} tensors are named e.g. {example}); is it a "
                          f"{architecture} state dict?")
    if report.missing:
        raise LayoutError(f"{len(report.missing)} of {len(expected)} tensors of {architecture} "
                          f"are missing or do not fit: {_names(report.missing)}; "
                          f"{report.summary()}")
    return out, report


def for_network(state: Mapping[str, Any], network_keys) -> dict[str, Any]:
    """``state`` renamed to the layout of a network, whichever fits more of its keys.

    Tries the state as it is, its canonical names (a torchvision classifier), and its
    canonical names under ``encoder.`` (an smp network); returns the candidate with the
    most names in ``network_keys``. Shapes are checked by the caller, which reports.
    """
    keys = set(network_keys)
    named, _ = canonical_keys(state)
    candidates = [dict(state), named, {_ENCODER + k: v for k, v in named.items()}]
    return max(candidates, key=lambda c: sum(k in keys for k in c))


def _is_stem(have, want, channels: int) -> bool:
    """An input convolution that differs only in its input channels (RGB or grey)."""
    return (len(have) == 4 and len(want) == 4 and have[0] == want[0] and tuple(have[2:]) == want[2:]
            and want[1] == channels and have[1] in (1, 3) and have[1] != channels)


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:_NAME_LIMIT])
    return shown + (f" and {len(names) - _NAME_LIMIT} more" if len(names) > _NAME_LIMIT else "")
