"""A data set's fingerprint: what the recipe needs to know about the images to choose
the training settings (nnU-Net's idea: the data decide, not hand tuning).

Counts per class, the typical image size, the modality, the size of the objects that
masks outline (relative to the image) and the class balance. Everything but the object
size comes from the discovery's summary and a few DICOM headers; the object size reads
up to :data:`MAX_MASKS` masks (small PNG files).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["Fingerprint", "ObjectSize", "fingerprint", "object_diameters", "MAX_MASKS"]

#: Masks read to measure object sizes (an even sample over the data set).
MAX_MASKS = 200
#: DICOM headers read to find the modality.
MAX_HEADERS = 32


@dataclass(frozen=True)
class ObjectSize:
    """Sizes of the objects (connected foreground regions) in the masks.

    Diameters are those of a disc of the same area, as a fraction of the image's longer
    side: the letterbox resize maps that side to the network input, so a diameter ``d``
    becomes ``d × input size`` pixels.

    Attributes
    ----------
    median, small : float
        Median and 25th-percentile diameter (the small ones decide the resolution).
    objects : int
        Objects measured.
    masks : int
        Masks read.
    """

    median: float
    small: float
    objects: int
    masks: int


@dataclass(frozen=True)
class Fingerprint:
    """What the recipe knows about a data set.

    Attributes
    ----------
    task : {"classification", "segmentation"}
    images : int
        Usable images.
    per_class : dict of str to int
        Images per class (segmentation: images whose mask holds the class).
    smallest_class : int
        Images of the rarest class (segmentation: of the rarest foreground class).
    balance : float
        Rarest / commonest class count, 1 = balanced.
    image_size : (int, int) or None
        The most common (rows, columns).
    modality : str or None
        The most common DICOM Modality (None: no DICOM image among those read).
    masks : int
        Images with a mask (segmentation: all; classification: the CSV ``mask`` column).
    objects : ObjectSize or None
        Object sizes from the masks; None without masks (or when every mask is empty).
    """

    task: str
    images: int
    per_class: dict[str, int]
    smallest_class: int
    balance: float
    image_size: tuple[int, int] | None
    modality: str | None
    masks: int
    objects: ObjectSize | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the ``recipe`` block of ``job.resolved.json`` and the report)."""
        data = asdict(self)
        data["image_size"] = list(self.image_size) if self.image_size else None
        return data

    def describe(self) -> str:
        """One line for a person."""
        size = "×".join(map(str, self.image_size)) if self.image_size else "?"
        objects = (f"; objects {self.objects.median:.1%} of the image side (25th percentile "
                   f"{self.objects.small:.1%}, {self.objects.objects} in {self.objects.masks} masks)"
                   if self.objects else "")
        return (f"{self.images} images ({', '.join(f'{k} {v}' for k, v in self.per_class.items())}), "
                f"balance {self.balance:.2f}, typically {size} px, modality {self.modality or 'none (no DICOM)'}, "
                f"{self.masks} with masks{objects}")


def fingerprint(ds) -> Fingerprint:
    """The fingerprint of a discovered data set.

    Parameters
    ----------
    ds : trainer.data.datasets.LabelledDataset

    Returns
    -------
    Fingerprint
    """
    s = ds.summary
    counts = dict(s.counts)
    judged = list(counts.values())[1:] if ds.task == "segmentation" else list(counts.values())
    judged = [c for c in judged if c > 0] or [0]
    masks = [m for m in (_mask_of(x) for x in ds.samples) if m is not None]
    return Fingerprint(
        task=ds.task, images=s.n_samples, per_class=counts, smallest_class=int(min(judged)),
        balance=float(min(judged) / max(judged)) if max(judged) else 0.0,
        image_size=tuple(s.size_most_common) if s.size_most_common else None,
        modality=_modality(ds.samples), masks=len(masks), objects=object_diameters(masks))


def object_diameters(mask_paths: list, limit: int = MAX_MASKS) -> ObjectSize | None:
    """Equivalent diameters of the foreground regions of up to ``limit`` masks.

    Parameters
    ----------
    mask_paths : list of Path
        Mask files (0 = background); an even sample of ``limit`` is read.
    limit : int

    Returns
    -------
    ObjectSize or None
        None when no mask could be read or every one is empty.
    """
    import cv2

    from medview.core.errors import MedviewError
    from trainer.data.images import load_mask

    if not mask_paths:
        return None
    step = max(1, len(mask_paths) / limit)
    chosen = [mask_paths[int(i * step)] for i in range(min(limit, len(mask_paths)))]
    diameters, read = [], 0
    for path in chosen:
        try:
            labels = load_mask(path)
        except MedviewError:
            continue
        read += 1
        n, _, stats, _ = cv2.connectedComponentsWithStats((labels > 0).astype(np.uint8), connectivity=8)
        areas = stats[1:n, cv2.CC_STAT_AREA].astype(np.float64)
        diameters.extend(2.0 * np.sqrt(areas / np.pi) / max(labels.shape))
    if not diameters:
        return None
    d = np.asarray(diameters)
    return ObjectSize(float(np.median(d)), float(np.percentile(d, 25)), len(d), read)


def _mask_of(sample):
    return getattr(sample, "mask", None)


def _modality(samples: list) -> str | None:
    """The most common Modality among the first DICOM headers of an even sample."""
    from medview.core.io.folder import load_paths
    from trainer.data.datasets import sample_paths

    paths = sample_paths(samples)
    step = max(1, len(paths) // MAX_HEADERS)
    chosen = [str(p) for p in paths[::step][:MAX_HEADERS]]
    try:
        frames = [f for f in load_paths(chosen).frames() if f.index == 0]
    except Exception:  # a header that reads oddly must not stop training; modality is advice
        return None
    found = Counter(str(f.get("Modality")).strip() for f in frames if f.get("Modality"))
    return found.most_common(1)[0][0] if found else None
