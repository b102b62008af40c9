"""Random views of an unlabelled image, made through the shared preprocessing.

Self-supervised learning compares two random views of one image. Each view here starts
from the image's cached modality values (:mod:`trainer.pretrain.archive`) and goes
through :func:`medview.inference.preprocess.preprocess`, the function inference uses,
so a backbone learns from images prepared exactly as the models built on it will see
them. What varies is what varies between radiographs:

* a random resized crop of the values (area 35-100 %, aspect 3:4-4:3; smaller crops
  would often lose the small findings a clinic's classifier is after), stretched to
  the input size;
* the window (level ±10 % of the image's auto window, width ×0.8-1.25): exposure and
  display settings differ between machines;
* horizontal flip, rotation ±10° (patient positioning), gamma 0.7-1.4, Gaussian blur
  (half the views, σ ≤ 1 px) and noise (σ ≤ 0.03 of the intensity range).

No colour jitter and no vertical flip: radiographs are grey and never upside down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from medview.inference.manifest import Manifest, WindowSpec
from medview.inference.preprocess import ImageContext, preprocess

__all__ = ["ViewSpec", "WINDOW_SPAN", "random_view", "crop_box"]

#: Cached values are rescaled so that the image's auto window spans 0..WINDOW_SPAN.
WINDOW_SPAN = 1000.0


@dataclass(frozen=True)
class ViewSpec:
    """Strength of each random change (see the module docstring)."""

    crop_scale: tuple[float, float] = (0.35, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    level: float = 0.1
    width: float = 1.25
    flip: bool = True
    rotate: float = 10.0
    gamma: float = 1.4
    blur_p: float = 0.5
    blur_sigma: float = 1.0
    noise: float = 0.03


def crop_box(shape: tuple[int, int], rng: np.random.Generator, scale: tuple[float, float],
             ratio: tuple[float, float]) -> tuple[int, int, int, int]:
    """A random (top, left, height, width) covering ``scale`` of the area at aspect ``ratio``.

    The box is clipped to the image, so a wide crop of a tall image is as wide as the
    image allows.
    """
    h, w = shape
    area = h * w * rng.uniform(*scale)
    aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    cw = int(round(min(w, max(2.0, math.sqrt(area * aspect)))))
    ch = int(round(min(h, max(2.0, math.sqrt(area / aspect)))))
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return top, left, ch, cw


def random_view(values: np.ndarray, invert: bool, manifest: Manifest, spec: ViewSpec,
                rng: np.random.Generator) -> np.ndarray:
    """One random view of an image, as the network takes it.

    Parameters
    ----------
    values : numpy.ndarray
        (rows, cols) modality values rescaled so that the image's auto window is
        0..:data:`WINDOW_SPAN` (any float dtype).
    invert : bool
        MONOCHROME1: inverted after windowing, as :func:`preprocess` does.
    manifest : Manifest
        The backbone's input size and normalisation (its window and resize are replaced
        per view).
    spec : ViewSpec
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        float32 (1, height, width), normalised as the manifest says.
    """
    top, left, ch, cw = crop_box(values.shape, rng, spec.crop_scale, spec.crop_ratio)
    crop = values[top:top + ch, left:left + cw]
    centre = WINDOW_SPAN * (0.5 + rng.uniform(-spec.level, spec.level))
    width = WINDOW_SPAN * math.exp(rng.uniform(-math.log(spec.width), math.log(spec.width)))
    window = WindowSpec("fixed", center=centre, width=width)
    view_manifest = replace(manifest, preprocessing=replace(manifest.preprocessing, window=window,
                                                            crop=None, resize="stretch"))
    x = preprocess(crop, view_manifest, ImageContext(invert=invert)).image[0]
    mean, std = float(manifest.normalisation.mean[0]), float(manifest.normalisation.std[0])
    u = x * std + mean  # back to [0, 1] intensities
    u = _geometry(u, spec, rng)
    u = _intensity(u, spec, rng)
    return ((u - mean) / std).astype(np.float32)[None]


def _geometry(u: np.ndarray, spec: ViewSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.flip and rng.random() < 0.5:
        u = u[:, ::-1]
    if spec.rotate:
        h, w = u.shape
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0),
                                    float(rng.uniform(-spec.rotate, spec.rotate)), 1.0)
        # Reflected borders: black corners would be an easy cue shared by no two views.
        u = cv2.warpAffine(np.ascontiguousarray(u), m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(u, dtype=np.float32)


def _intensity(u: np.ndarray, spec: ViewSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.gamma > 1.0:
        g = math.exp(rng.uniform(-math.log(spec.gamma), math.log(spec.gamma)))
        u = np.power(np.clip(u, 0.0, 1.0), g, dtype=np.float32)
    if spec.blur_sigma > 0 and rng.random() < spec.blur_p:
        u = cv2.GaussianBlur(u, (0, 0), float(rng.uniform(0.1, spec.blur_sigma)))
    if spec.noise > 0:
        sigma = float(rng.uniform(0.0, spec.noise))
        u = u + rng.standard_normal(u.shape, dtype=np.float32) * np.float32(sigma)
    return u
