"""Class activation maps from a model's ONNX graph: Grad-CAM without torch.

For a classifier whose head is global average pooling then one linear layer (ResNet,
EfficientNet), the class score is ``y_c = b_c + Σ_k w_ck · mean(A_k)``, so the gradient
of ``y_c`` with respect to the last feature map ``A`` is ``w_ck / (h·w)`` everywhere and
Grad-CAM's channel weights are ``w_ck / (h·w)``: Grad-CAM equals the class activation
map ``Σ_k w_ck A_k`` (Zhou et al., CVPR 2016) up to a positive factor, which the scaling
to [0, 1] removes. The graph computes ``Σ_k w_ck A_k`` for every class as its second
output (:data:`CAM_OUTPUT`, made by :mod:`medview.inference.graph`); the rest — ReLU,
bilinear resize to the input, scaling — is done here in numpy and OpenCV, the same
steps in the same order as :func:`medview.inference.gradcam.gradcam`.
"""

from __future__ import annotations

import numpy as np

from medview.core.imports import load

#: Name of the graph output holding the class activation maps (N×K×h×w).
CAM_OUTPUT = "cam"


def class_activation_map(maps: np.ndarray, class_index: int,
                         size: tuple[int, int]) -> np.ndarray:
    """The heat map of one class from the graph's maps, at the input size.

    Parameters
    ----------
    maps : numpy.ndarray
        (K, h, w): one map per class for one image (the graph's :data:`CAM_OUTPUT`).
    class_index : int
    size : tuple of int
        (height, width) of the network input.

    Returns
    -------
    numpy.ndarray
        float32 (height, width) in [0, 1]; all zeros when no location supports the class.
    """
    if not 0 <= class_index < len(maps):
        raise ValueError(f"class_index {class_index} out of range (0..{len(maps) - 1})")
    cv2 = load("cv2")
    cam = np.maximum(np.asarray(maps[class_index], np.float32), 0.0)
    # INTER_LINEAR samples at half-pixel centres, as torch's bilinear align_corners=False.
    cam = cv2.resize(cam, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    top = float(cam.max())
    cam = cam / top if top > 0 else np.zeros_like(cam)
    return np.clip(cam, 0.0, 1.0).astype(np.float32)
