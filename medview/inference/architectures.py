"""Network architectures a manifest may name: a dict of name → builder.

torchvision classifiers are built with ``weights=None`` and
segmentation-models-pytorch networks with ``encoder_weights=None``: weights only
ever come from the model folder, never from the network.

This module imports no torch at load time (the registry lists and validates
manifests without it); each builder imports its library when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medview.core.errors import MedviewError
from medview.core.imports import load

# Set by medview from the manifest's classes/input.channels, or forbidden because
# they would fetch pretrained weights from the internet.
_TORCHVISION_RESERVED = ("num_classes", "weights", "weights_backbone", "progress")
_SMP_RESERVED = ("classes", "in_channels", "encoder_weights")

#: ``arguments["pooling"]`` of a ResNet that scores an image by its strongest class-map
#: cells (:mod:`medview.inference.map_head`); ``"average"`` is torchvision's head.
POOLING, AVERAGE = "top_k", "average"


class UnknownArchitectureError(MedviewError, ValueError):
    """The name is not in :data:`ARCHITECTURES`; the message lists the valid names."""


@dataclass(frozen=True)
class Architecture:
    """One buildable network family.

    Attributes
    ----------
    name : str
        Lower-case key used in manifests.
    task : str
        ``"classification"`` or ``"segmentation"``.
    library : str
        ``"torchvision"``, ``"segmentation_models_pytorch"`` or ``"medview"`` (a network
        defined here, e.g. :mod:`medview.inference.lesion_map`).
    reserved : tuple of str
        Keyword arguments a manifest may not set.
    builder : callable
        ``builder(in_channels, num_classes, arguments) -> torch.nn.Module``.
    """

    name: str
    task: str
    library: str
    reserved: tuple[str, ...]
    builder: Callable[[int, int, dict[str, Any]], Any]


def _torchvision(name: str) -> Callable[[int, int, dict[str, Any]], Any]:
    def build(in_channels: int, num_classes: int, arguments: dict[str, Any]):
        torchvision = load("torchvision")
        map_head = load("medview.inference.map_head")
        arguments, pooling = map_head.split_arguments(arguments)
        if pooling and not name.startswith("resnet"):
            raise ValueError(f"pooling '{pooling['pooling']}' is for ResNets, not {name}")
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes,
                                             **arguments)
        if in_channels != 3:
            _replace_first_conv(model, in_channels)
        if pooling:
            map_head.MapPooledResNet.adopt(model, pooling["background_class"],
                                           pooling.get("top_k", map_head.DEFAULT_TOP_K))
        return model
    return build


def _smp(arch: str) -> Callable[[int, int, dict[str, Any]], Any]:
    def build(in_channels: int, num_classes: int, arguments: dict[str, Any]):
        smp = load("segmentation_models_pytorch")
        encoder = arguments.get("encoder_name", "resnet34")
        _check_encoder(smp, encoder)
        args = {k: v for k, v in arguments.items() if k != "encoder_name"}
        return smp.create_model(arch, encoder_name=encoder, encoder_weights=None,
                                in_channels=in_channels, classes=num_classes, **args)
    return build


def _medview(module: str) -> Callable[[int, int, dict[str, Any]], Any]:
    def build(in_channels: int, num_classes: int, arguments: dict[str, Any]):
        return load(f"medview.inference.{module}").build(in_channels, num_classes, arguments)
    return build


def _check_encoder(smp, encoder: str) -> None:
    """smp raises a bare KeyError for a wrong encoder; say which names are valid."""
    names = smp.encoders.get_encoder_names()
    if encoder not in names and not str(encoder).startswith("tu-"):
        raise UnknownArchitectureError(
            f"unknown encoder '{encoder}'; valid: {', '.join(names)}, or 'tu-<timm model>'")


def _replace_first_conv(model, in_channels: int) -> None:
    """Swap the first Conv2d of a torchvision classifier for one taking ``in_channels``.

    torchvision classifiers are hard-wired to RGB; a grey model keeps one channel
    instead of triplicating it (a third of the first layer's work).
    """
    nn = load("torch.nn")
    for path, child in model.named_modules():  # registration order: the stem comes first
        if isinstance(child, nn.Conv2d):
            parent_path, _, attr = path.rpartition(".")
            setattr(model.get_submodule(parent_path), attr, nn.Conv2d(
                in_channels, child.out_channels, child.kernel_size, child.stride,
                child.padding, child.dilation, child.groups, child.bias is not None,
                child.padding_mode))
            return
    raise ValueError("no Conv2d layer to adapt to the input channels")


_CLASSIFIERS = ("resnet18", "resnet34", "resnet50", "densenet121", "mobilenet_v3_small",
                "mobilenet_v3_large", "efficientnet_b0")
# manifest name -> segmentation_models_pytorch architecture name
_SEGMENTERS = {"fpn": "FPN", "unet": "Unet", "unetplusplus": "UnetPlusPlus",
               "deeplabv3plus": "DeepLabV3Plus", "linknet": "Linknet"}

ARCHITECTURES: dict[str, Architecture] = {
    **{n: Architecture(n, "classification", "torchvision", _TORCHVISION_RESERVED, _torchvision(n))
       for n in _CLASSIFIERS},
    **{n: Architecture(n, "segmentation", "segmentation_models_pytorch", _SMP_RESERVED, _smp(a))
       for n, a in _SEGMENTERS.items()},
    # small findings in few images (issue 13): the recipe's choices when masks show them small
    "lesion_map": Architecture("lesion_map", "classification", "medview", (), _medview("lesion_map")),
    "lesion_unet": Architecture("lesion_unet", "segmentation", "medview", (), _medview("lesion_unet")),
}


def decides_from_map(name: str, arguments: dict[str, Any]) -> bool:
    """Whether a classifier's score is read off its own class map (``lesion_map``, or a
    ResNet with ``"pooling": "top_k"``): its heat map is then that map, what it decided
    from, rather than a Grad-CAM reconstruction of it."""
    return name.lower() == "lesion_map" or arguments.get("pooling") == POOLING


def architecture_names() -> list[str]:
    """Valid architecture names, sorted."""
    return sorted(ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name`` (case-insensitive).

    Raises
    ------
    UnknownArchitectureError
        Listing the valid names.
    """
    try:
        return ARCHITECTURES[str(name).lower()]
    except KeyError:
        raise UnknownArchitectureError(
            f"unknown architecture '{name}'; valid: {', '.join(architecture_names())}") from None


def build(name: str, in_channels: int, num_classes: int, arguments: dict[str, Any] | None = None):
    """Build an untrained network (random weights, no download).

    Parameters
    ----------
    name : str
        A key of :data:`ARCHITECTURES`.
    in_channels : int
        Input channels (1 grey, 3 RGB).
    num_classes : int
        Output channels: class logits, or one mask channel per class.
    arguments : dict, optional
        Extra keyword arguments of the builder (e.g. ``encoder_name`` for smp).

    Returns
    -------
    torch.nn.Module
        In eval mode.

    Raises
    ------
    UnknownArchitectureError
        For an unknown architecture or encoder name.
    TypeError, ValueError
        For arguments the builder rejects.
    """
    arch = get_architecture(name)
    module = arch.builder(in_channels, num_classes, dict(arguments or {}))
    return module.eval()
