"""Grad-CAM heat maps for classifiers (Selvaraju et al., ICCV 2017).

The map weights each channel of a convolutional layer's output by the mean
gradient of the class score with respect to it, sums, keeps the positive part
and scales it to [0, 1]. It shows where the evidence for a class lies, not why.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The last convolutional stage of each supported torchvision family: the
# highest-level features that still have a spatial layout.
_CAM_LAYERS = {
    "ResNet": "layer4",
    "DenseNet": "features",
    "MobileNetV3": "features",
    "EfficientNet": "features",
}


def default_layer(module: nn.Module) -> nn.Module:
    """The layer Grad-CAM uses for ``module`` when none is given.

    The last convolutional stage for the supported torchvision classifiers
    (ResNet ``layer4``; DenseNet, MobileNetV3 and EfficientNet ``features``),
    else the last ``Conv2d`` registered in the module.

    Raises
    ------
    ValueError
        If the module has no convolution.
    """
    for cls in type(module).__mro__:
        if cls.__name__ in _CAM_LAYERS and cls.__module__.startswith("torchvision."):
            return module.get_submodule(_CAM_LAYERS[cls.__name__])
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(module).__name__} has no Conv2d layer for Grad-CAM")
    return convs[-1]


def heat_map(module: nn.Module, input: np.ndarray, class_index: int) -> np.ndarray:
    """The heat map a network without a graph is explained by: the class map it decides
    from when it has one (``forward_maps``: :mod:`medview.inference.map_head`,
    :mod:`medview.inference.lesion_map`; what its graph's ``cam`` output gives), else
    :func:`gradcam`.

    Parameters
    ----------
    module : torch.nn.Module
    input : numpy.ndarray
        One preprocessed input (C, H, W).
    class_index : int

    Returns
    -------
    numpy.ndarray
        float32 (H, W) in [0, 1] at the input size.
    """
    if hasattr(module, "forward_maps"):
        from medview.inference.cam import class_activation_map
        from medview.inference.map_head import maps_of

        return class_activation_map(maps_of(module, input), class_index, tuple(np.shape(input)[-2:]))
    return gradcam(module, input, class_index)


def gradcam(module: nn.Module, input: np.ndarray | torch.Tensor, class_index: int,
            layer: nn.Module | str | None = None) -> np.ndarray:
    """Grad-CAM heat map of one class for one input.

    Parameters
    ----------
    module : torch.nn.Module
        A classifier returning logits (N, K).
    input : numpy.ndarray or torch.Tensor
        One preprocessed input, (C, H, W) or (1, C, H, W).
    class_index : int
        The class whose evidence to show.
    layer : torch.nn.Module or str, optional
        The layer (or its dotted name); default :func:`default_layer`.

    Returns
    -------
    numpy.ndarray
        float32 (H, W) in [0, 1] at the input size; all zeros when no
        location supports the class.
    """
    x = torch.as_tensor(np.asarray(input) if not torch.is_tensor(input) else input)
    x = x.detach().to(torch.float32)
    x = x[None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one input (C, H, W) or (1, C, H, W), got {tuple(x.shape)}")
    target = module.get_submodule(layer) if isinstance(layer, str) else (
        layer or default_layer(module))
    param = next(module.parameters(), None)
    x = x.to(param.device if param is not None else "cpu")
    activation, grad = _activation_and_gradient(module, target, x, class_index)
    weights = grad.mean(dim=(1, 2), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=0))
    cam = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear",
                        align_corners=False)[0, 0]
    top = float(cam.max())
    cam = cam / top if top > 0 else torch.zeros_like(cam)
    return cam.clamp(0, 1).cpu().numpy().astype(np.float32)


def _activation_and_gradient(module: nn.Module, target: nn.Module, x: torch.Tensor,
                             class_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    captured = {}

    def hook(_module, _inputs, output):
        captured["a"] = output
        # Later in-place ops (e.g. DenseNet's ReLU) must not change what we hold.
        return output.clone()

    handle = target.register_forward_hook(hook)
    was_training = module.training
    module.eval()
    try:
        # The input needs a gradient so the graph exists even when weights are frozen.
        with torch.enable_grad(), torch.inference_mode(False):
            logits = module(x.clone().requires_grad_(True))
            if not 0 <= class_index < logits.shape[1]:
                raise ValueError(f"class_index {class_index} out of range "
                                 f"(0..{logits.shape[1] - 1})")
            (grad,) = torch.autograd.grad(logits[0, class_index], captured["a"])
    finally:
        handle.remove()
        module.train(was_training)
    return captured["a"].detach()[0], grad.detach()[0]
