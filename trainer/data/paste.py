"""Copy-paste of findings between training images (small findings: segmentation, and a
two-class classifier whose masks supervise its map).

With a hundred or so labelled images a network sees each finding on one background
only, and learns those backgrounds as much as the finding. Pasting a finding cut from
one training image onto another (Ghiasi et al., "Simple Copy-Paste", CVPR 2021; CarveMix
for brain lesions) shows it on many: the normal images of the set become hosts too.

A finding is cut as its *difference* from the tissue around it, not as its pixels: the
background under it is estimated from the tissue around a dilated mask (:func:`cut_findings`),
and what is pasted is image − background inside that dilated region, added onto the host. So the
finding keeps its soft edge and its contrast, and the host keeps its own texture under
it, instead of a square of another patient's anatomy. Only the training split is cut
(never validation or test images).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FindingBank", "MAX_FINDINGS"]

#: Most findings kept (the first ones met); enough variety, bounded memory and start-up.
MAX_FINDINGS = 512
#: Tries to place a finding on tissue that does not touch another finding.
_TRIES = 8
#: A place is tissue when its mean intensity (display range 0..1) is above this: not the
#: air or the black letterbox bars around the patient.
_TISSUE = 0.05


class FindingBank:
    """Findings cut from the training images, each as (signal, label map), ready to paste.

    Parameters
    ----------
    source
        The training samples (``len`` and ``get(i) -> (image (C, H, W), label map (H, W))``).
    mean, std : sequence of float
        The manifest's normalisation (to tell tissue from air on the host).
    limit : int
        Most findings kept.
    """

    def __init__(self, source, mean, std, limit: int = MAX_FINDINGS) -> None:
        self.mean = np.asarray(mean, np.float32)[:, None, None]
        self.std = np.asarray(std, np.float32)[:, None, None]
        self.items: list[tuple[np.ndarray, np.ndarray]] = []
        for i in range(len(source)):
            image, labels = source.get(i)
            if np.any(labels):
                self.items.extend(cut_findings(image, labels)[:limit - len(self.items)])
            if len(self.items) >= limit:
                break

    def __len__(self) -> int:
        return len(self.items)

    def paste(self, image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
        """One finding, mirrored and turned at random, added onto tissue of ``image``.

        Returns new arrays; the inputs unchanged when no place fits (the finding larger than
        the image, or every try on air or on another finding).
        """
        if not self.items:
            return image, labels
        signal, finding = self.items[int(rng.integers(len(self.items)))]
        turns, flip = int(rng.integers(4)), bool(rng.integers(2))
        signal, finding = _orient(signal, turns, flip, (1, 2)), _orient(finding, turns, flip, (0, 1))
        h, w = finding.shape
        if h > labels.shape[0] or w > labels.shape[1]:
            return image, labels
        region = np.any(signal != 0, axis=0)
        for _ in range(_TRIES):
            y = int(rng.integers(labels.shape[0] - h + 1))
            x = int(rng.integers(labels.shape[1] - w + 1))
            if self._fits(image[:, y:y + h, x:x + w], labels[y:y + h, x:x + w], region):
                image, labels = image.copy(), labels.copy()
                image[:, y:y + h, x:x + w] += signal
                under = labels[y:y + h, x:x + w]
                under[finding > 0] = finding[finding > 0]
                return image, labels
        return image, labels

    def _fits(self, under: np.ndarray, labels: np.ndarray, region: np.ndarray) -> bool:
        if np.any(labels[region]):
            return False
        display = under * self.std + self.mean
        return float(display[:, region].mean()) > _TISSUE


def cut_findings(image: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each connected finding of ``labels`` as (signal (C, h, w) float32, label map (h, w) uint8).

    The signal is the image minus its background inside the finding's mask dilated by a
    quarter of its size (the soft edge beyond the outline), fading out towards that
    region's rim, zero outside. The background is the normalised convolution of the
    tissue around it (a Gaussian mean of the pixels outside that region): smooth, and
    defined across the hole (OpenCV's inpainting of float images left a checkered pattern).
    """
    count, components, stats, _ = cv2.connectedComponentsWithStats((labels > 0).astype(np.uint8))
    out = []
    for k in range(1, count):
        x, y, w, h = (int(v) for v in stats[k, :4])
        margin = max(2, max(w, h) // 4)
        pad = margin + max(w, h)  # the tissue around the region that the background comes from
        box = _clipped(y - pad, y + h + pad, x - pad, x + w + pad, labels.shape)
        own = components[box] == k
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        region = cv2.dilate(own.astype(np.uint8), kernel).astype(np.float32)
        # fade out towards the region's rim: no disc of the source's anatomy on the host
        region *= cv2.GaussianBlur(region, (0, 0), margin / 2.0)
        crop = image[(slice(None),) + box].astype(np.float32)
        outside = 1.0 - region
        sigma = max(w, h) / 2.0
        weight = cv2.GaussianBlur(outside, (0, 0), sigma) + 1e-6
        background = np.stack([cv2.GaussianBlur(ch * outside, (0, 0), sigma) / weight for ch in crop])
        signal = (crop - background) * region[None]
        inner = _clipped(y - margin, y + h + margin, x - margin, x + w + margin, labels.shape)
        cut = (slice(inner[0].start - box[0].start, inner[0].stop - box[0].start),
               slice(inner[1].start - box[1].start, inner[1].stop - box[1].start))
        finding = np.where(own, labels[box], 0).astype(np.uint8)[cut]
        out.append((np.ascontiguousarray(signal[(slice(None),) + cut]), np.ascontiguousarray(finding)))
    return out


def _clipped(top: int, bottom: int, left: int, right: int, shape) -> tuple[slice, slice]:
    return slice(max(0, top), min(shape[0], bottom)), slice(max(0, left), min(shape[1], right))


def _orient(a: np.ndarray, turns: int, flip: bool, axes: tuple[int, int]) -> np.ndarray:
    a = np.rot90(a, turns, axes=axes)
    return np.ascontiguousarray(np.flip(a, axis=axes[1]) if flip else a)
