"""Is an image like the ones a model was trained on? A compact reference and a distance.

A model's declared input (:mod:`medview.inference.scope`) catches an MR given to a
chest-radiograph model when the header says "MR"; it cannot catch a chest CR that is
nothing like the training images, a PNG of anything, or a header that lies. The trainer
therefore stores a compact description of its training images and a threshold set on the
validation images, and every analysis measures the new image against it.

The description is of the network *input* (after the shared preprocessing), reduced to a
16 × 16 thumbnail per channel: a principal-component model of the training thumbnails
(mean, the leading components and their variances) gives a Mahalanobis distance inside the
subspace plus the energy left outside it (Hotelling T² and Q statistics, the classic
multivariate process-control pair). It needs no engine output, so it works the same on
torch, ONNX Runtime and OpenVINO; the threshold is the validation images' 99th percentile,
so about 1 % of images like the training set are flagged (foreign images score tens of
times higher: ``bench/trust.py``).

numpy only; the reference file is safetensors (never pickled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Reference", "Familiarity", "thumbnail", "fit_reference", "REFERENCE_NAME",
           "METHOD"]

REFERENCE_NAME = "reference.safetensors"
METHOD = "input-pca-t2q"
THUMB = 16
QUANTILE = 0.99
MAX_COMPONENTS = 24


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The descriptor of one network input (C, H, W): area-averaged 16 × 16 per channel.

    Returns
    -------
    numpy.ndarray
        float64 (C * 256,).
    """
    c, h, w = image.shape
    ys = np.linspace(0, h, THUMB + 1).astype(int)
    xs = np.linspace(0, w, THUMB + 1).astype(int)
    # Block means via cumulative sums: exact area averaging for any input size.
    s = np.pad(np.asarray(image, np.float64).cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
    blocks = (s[:, ys[1:]][:, :, xs[1:]] - s[:, ys[:-1]][:, :, xs[1:]]
              - s[:, ys[1:]][:, :, xs[:-1]] + s[:, ys[:-1]][:, :, xs[:-1]])
    area = np.outer(np.diff(ys), np.diff(xs))
    return (blocks / area).reshape(-1)


@dataclass(frozen=True)
class Familiarity:
    """One image measured against a model's training images.

    Attributes
    ----------
    score : float
        :meth:`Reference.score` of the image.
    threshold : float
        The reference's threshold.
    """

    score: float
    threshold: float

    @property
    def unlike_training(self) -> bool:
        """True when the image is unlike the images the model was trained on."""
        return self.score > self.threshold

    def to_json(self) -> dict:
        """Strict JSON: a non-finite score (an image the model cannot describe) is null."""
        def finite(x: float):
            return round(x, 3) if math.isfinite(x) else None

        return {"score": finite(self.score), "threshold": finite(self.threshold),
                "unlike_training": self.unlike_training}


@dataclass(frozen=True)
class Reference:
    """A principal-component model of the training thumbnails and its threshold.

    Attributes
    ----------
    mean : numpy.ndarray
        (D,) mean thumbnail.
    components : numpy.ndarray
        (K, D) orthonormal leading components.
    variances : numpy.ndarray
        (K,) variance of the training thumbnails along each component.
    residual : float
        Mean squared distance of the training thumbnails from the subspace.
    threshold : float
        Scores above it are "unlike the training images".
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    residual: float
    threshold: float = float("inf")

    def score(self, descriptor: np.ndarray) -> float:
        """How far one thumbnail is from the training images (about 1 for a typical one)."""
        x = np.asarray(descriptor, np.float64) - self.mean
        z = self.components @ x
        inside = float(np.sum(z * z / self.variances))
        outside = float(np.sum((x - self.components.T @ z) ** 2) / self.residual)
        # T² and Q, each divided by its expected value on training images, averaged.
        return 0.5 * (inside / len(self.variances) + outside)

    def check(self, image: np.ndarray) -> Familiarity:
        """Measure one network input (C, H, W) against the training images."""
        return Familiarity(self.score(thumbnail(image)), self.threshold)

    def save(self, path: str | Path) -> None:
        """Write the reference as safetensors (atomically)."""
        from medview.core import atomic
        from medview.core.imports import load

        save = load("safetensors.numpy").save

        tensors = {"mean": self.mean, "components": self.components,
                   "variances": self.variances,
                   "scalars": np.array([self.residual, self.threshold], np.float64)}
        atomic.write_bytes(Path(path), save({k: np.ascontiguousarray(v, np.float64)
                                             for k, v in tensors.items()},
                                            metadata={"method": METHOD}))

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        """Read a reference written by :meth:`save`.

        Raises
        ------
        ValueError
            If the file is not a reference of this method or its arrays disagree.
        """
        from medview.core.imports import load

        safetensors = load("safetensors")
        SafetensorError, safe_open = safetensors.SafetensorError, safetensors.safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                if (f.metadata() or {}).get("method") != METHOD:
                    raise ValueError(f"{Path(path).name}: not a '{METHOD}' reference")
                t = {k: f.get_tensor(k) for k in ("mean", "components", "variances", "scalars")}
        except SafetensorError as err:
            raise ValueError(f"{Path(path).name}: not a valid safetensors file ({err})") from None
        k, d = t["components"].shape
        if t["mean"].shape != (d,) or t["variances"].shape != (k,) or t["scalars"].shape != (2,):
            raise ValueError(f"{Path(path).name}: arrays of inconsistent shapes")
        if not all(np.isfinite(v).all() for v in (t["mean"], t["components"], t["variances"])):
            raise ValueError(f"{Path(path).name}: holds NaN or infinite values")
        return cls(t["mean"], t["components"], t["variances"], float(t["scalars"][0]),
                   float(t["scalars"][1]))


def fit_reference(train: np.ndarray, calibration: np.ndarray | None = None) -> Reference:
    """Fit the reference on training thumbnails; set the threshold on held-out ones.

    Parameters
    ----------
    train : numpy.ndarray
        (N, D) thumbnails of the training images (N >= 3).
    calibration : numpy.ndarray, optional
        (M, D) thumbnails of validation images; the threshold is their 99th
        percentile. With fewer than 20 of them the training images' own scores are used
        and the threshold is doubled (they sit closer to a model fitted on them).

    Returns
    -------
    Reference
    """
    train = np.asarray(train, np.float64)
    if len(train) < 3:
        raise ValueError(f"{len(train)} training images cannot describe a distribution")
    mean = train.mean(axis=0)
    centred = train - mean
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    variances = sv ** 2 / (len(train) - 1)
    keep = min(MAX_COMPONENTS, len(train) - 2, int(np.sum(variances > variances[0] * 1e-6)))
    keep = max(keep, 1)
    components, kept = vt[:keep], variances[:keep]
    resid = centred - (centred @ components.T) @ components
    residual = max(float(np.mean(np.sum(resid ** 2, axis=1))), 1e-12)
    ref = Reference(mean, components, kept, residual)
    if calibration is not None and len(calibration) >= 20:
        scores = [ref.score(x) for x in calibration]
        threshold = float(np.quantile(scores, QUANTILE))
    else:
        threshold = 2.0 * float(np.quantile([ref.score(x) for x in train], QUANTILE))
    return Reference(mean, components, kept, residual, threshold)
