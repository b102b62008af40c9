"""Which unlabelled image to label next: the ones the model in use is least sure of.

Two measures of how unsure a model is of an image, both in [0, 1], from the model's
outputs (its ONNX graph run by :func:`medview.analysis.labelling.rank`):

``flips`` (the default)
    Disagreement of a cheap two-member ensemble: the network on the image and on the
    image flipped left–right. Mutual information between the prediction and the member
    (BALD: entropy of the mean minus the mean entropy), divided by log K: 0 when the two
    agree, 1 when they give opposite answers with confidence. It is high only where the
    views *disagree*, so it passes over images that are ambiguous to the model either way.
    Segmentation: the mean over the image's pixels. Costs two inferences per image.
``entropy``
    Entropy of the predicted class probabilities, divided by log K (1 = no idea which
    class, 0 = certain).

Which works, measured by ``bench/active_learning.py`` (README, "Labelling"; 4 seeds):
``flips`` reached a test AUC of 0.85 / 0.88 / 0.90 with 17 / 21 / 11 % fewer labels than
random order; ``entropy`` with none fewer (0 / −8 %, and once not at all), as it keeps
choosing images that are ambiguous to any model. Neither beat random order on the mean
AUC over all rounds (the curves are noisy), so the saving is modest.

What else was considered: MC-dropout needs dropout in the graph, and the exported graphs
run in inference mode with none (the shipped graphs hold no Dropout node; the ResNets
have no dropout at all); the engine precision variants (fp32 / bf16 / fp16 of one graph)
differ by rounding only, so they carry no information about the model's ignorance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.labels.images import ProjectImage

__all__ = ["METHODS", "entropy", "flip_disagreement", "score", "Outputs", "Ranked", "order",
           "unlabelled"]

#: The measures, the default first.
METHODS = ("flips", "entropy")
_EPS = 1e-12


def entropy(probs: np.ndarray) -> np.ndarray:
    """Normalised entropy over axis 0 of ``probs`` (K, …): values in [0, 1]."""
    p = np.clip(np.asarray(probs, np.float64), _EPS, 1.0)
    k = p.shape[0]
    return -(p * np.log(p)).sum(axis=0) / np.log(k) if k > 1 else np.zeros(p.shape[1:])


def flip_disagreement(variants: list[np.ndarray]) -> np.ndarray:
    """Mutual information between the members' predictions (K, …) and the member, over
    log K: 0 when they agree, up to 1 when they disagree with confidence."""
    stack = np.stack([np.asarray(v, np.float64) for v in variants])
    mean_entropy = np.mean([entropy(v) for v in stack], axis=0)
    return np.clip(entropy(stack.mean(axis=0)) - mean_entropy, 0.0, 1.0)


def score(variants: list[np.ndarray], method: str) -> float:
    """One image's uncertainty under ``method`` from its :class:`Outputs`
    variants (segmentation maps are averaged over their pixels)."""
    if method == "entropy":
        values = entropy(variants[0])
    elif method == "flips":
        if len(variants) < 2:
            raise ValueError("'flips' needs the flipped variant of the image")
        values = flip_disagreement(variants)
    else:
        raise ValueError(f"unknown uncertainty {method!r}; valid: {', '.join(METHODS)}")
    return float(np.mean(values))


@dataclass(frozen=True)
class Outputs:
    """One image through one model (:func:`medview.analysis.labelling.outputs`).

    Attributes
    ----------
    variants : list of numpy.ndarray
        Class probabilities at the network's input: ``(K,)`` for a classifier
        (calibrated, as analysis reports them), ``(K, H, W)`` for a segmenter; a model
        with sigmoid outputs gives ``(2, K, …)``, each class's (yes, no). The first
        is the image as analysis sees it; a second, when asked for, the image flipped
        left–right (flipped back), a cheap second opinion of the same network.
    result : ClassificationResult or SegmentationResult or None
        What analysis reports for the image (its label, or mask at the image's size),
        when asked for.
    """

    variants: list[np.ndarray]
    result: object = None


@dataclass(frozen=True)
class Ranked:
    """An unlabelled image and how unsure the model is of it (higher: label it sooner)."""

    image: ProjectImage
    score: float
    label: str = ""

    def describe(self) -> str:
        return f"{self.score:.3f}  {self.image.describe()}" + (
            f"  (model says {self.label})" if self.label else "")


def unlabelled(labeller) -> list[ProjectImage]:
    """The project's images without a label (skipped ones have one), in project order."""
    return [im for im in labeller.images.images if labeller.store.get(im.id) is None]


def order(images: list[ProjectImage], outputs: dict, method: str,
          classes: tuple[str, ...] | None = None) -> list[Ranked]:
    """``images`` that have :class:`Outputs` (by image id), most
    uncertain under ``method`` first; ties keep the order of ``images``. ``classes`` (a
    classifier's) names what the model says of each."""
    ranked = []
    for im in images:
        out = outputs.get(im.id)
        if out is not None:
            says = classes[int(np.argmax(out.variants[0]))] if classes else ""
            ranked.append(Ranked(im, score(out.variants, method), says))
    return sorted(ranked, key=lambda r: -r.score)  # sorted() is stable
