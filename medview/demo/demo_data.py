"""A synthetic, labelled chest-radiograph data set for trying the trainer end to end.

Layout written under ``out``::

    README.txt                          what this is (synthetic, not patient data)
    labels.csv                          path,label,patient_id of every classification image
                                        (with ``masks``: and a mask column, empty for normal)
    classification/normal/c003_1.dcm    no lesion
    classification/lesion/c003_2.png    one or two round lesions
    classification/masks/c003_2.png     with ``masks``: the lesions of each lesion image
    segmentation/images/s001_1.dcm      radiographs, most with lesions
    segmentation/masks/s001_1.png       8-bit lesion masks, 0 = background, 255 = lesion

Each synthetic patient contributes several images: the same anatomy (one phantom seed)
with a different position, exposure and noise per image, and lesions present in some of
them. So images of one patient resemble each other, as in real follow-up series, and a
split that puts one patient on both sides flatters the model.

All images of a patient are written in one format, alternating by patient: DICOM (DX,
MONOCHROME2, the patient's ID in PatientID) or 16-bit PNG (no patient ID in the file,
only in ``labels.csv``). Both hold the same 12-bit values, so the modality values of the
two formats share one scale. Everything follows from ``seed``: the same arguments write
the same pixels and UIDs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from medview.demo import synth

__all__ = ["DemoImage", "DemoDataSet", "write_demo_data", "CLASSES", "MIN_N", "MIN_SIZE"]

#: Class folder names of the classification set, label 0 first.
CLASSES = ("normal", "lesion")
#: Smallest ``n`` (images per class) and ``size`` accepted.
MIN_N, MIN_SIZE = 2, 64
# Larger than typical early nodules so that a few epochs on a CPU visibly learn them.
_LESION_RADIUS_MM = (10.0, 24.0)
_IMAGES_PER_PATIENT = (2, 3, 4)  # cycled, so patients differ in how much they contribute
_WHEN = datetime(2024, 6, 1, 10, 0, 0)


@dataclass(frozen=True)
class DemoImage:
    """One written image.

    Attributes
    ----------
    path : Path
        Relative to the data set root.
    patient_id : str
        The synthetic patient.
    label : str or None
        Class name (classification only).
    mask : Path or None
        Relative path of the mask (segmentation; classification lesion images with
        ``masks``).
    lesions : int
        Number of lesions drawn.
    """

    path: Path
    patient_id: str
    label: str | None = None
    mask: Path | None = None
    lesions: int = 0


@dataclass
class DemoDataSet:
    """What :func:`write_demo_data` wrote.

    Attributes
    ----------
    root : Path
        The output folder.
    classification, segmentation : list of DemoImage
        The images of each part.
    """

    root: Path
    classification: list[DemoImage] = field(default_factory=list)
    segmentation: list[DemoImage] = field(default_factory=list)


def write_demo_data(out: str | Path, n: int = 50, size: int = 256, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None, masks: bool = False) -> DemoDataSet:
    """Write the demo data set (layout in the module docstring).

    Parameters
    ----------
    out : str or Path
        Output folder (created if needed; existing files of the same names are replaced).
    n : int
        Images per classification class (``2n`` in all) and segmentation images (``n``).
    size : int
        Rows = columns of every image.
    seed : int
        Everything random derives from it.
    progress : callable, optional
        Called as ``progress(done, total)`` after each image.
    masks : bool
        Also write the lesion mask of each classification lesion image and a ``mask``
        column in ``labels.csv``, so a classifier can learn where the lesions are
        (:mod:`trainer.aux_mask`). The images are the same either way.

    Returns
    -------
    DemoDataSet

    Raises
    ------
    ValueError
        If ``n`` or ``size`` is below :data:`MIN_N` / :data:`MIN_SIZE`.
    """
    if n < MIN_N:
        raise ValueError(f"n must be at least {MIN_N}, got {n}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE}, got {size}")
    root = Path(out)
    result = DemoDataSet(root)
    total, done = 3 * n, 0
    for part, plan in (("classification", _classification_plan(n, seed)),
                       ("segmentation", _segmentation_plan(n, seed))):
        for patient, images in enumerate(plan, 1):
            for number, (label, lesions) in enumerate(images, 1):
                image = _write_one(root, part, patient, number, label, lesions, size, seed, masks)
                getattr(result, part).append(image)
                done += 1
                if progress is not None:
                    progress(done, total)
    _write_labels_csv(root / "labels.csv", result.classification, masks)
    _write_readme(root / "README.txt", n, size, seed, masks)
    return result


# -- what to draw -----------------------------------------------------------------------


def _classification_plan(n: int, seed: int) -> list[list[tuple[str, int]]]:
    """Per patient, the (label, lesion count) of each image: n of each class in all."""
    rng = np.random.default_rng([seed, 1])
    labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), n))
    lesions = rng.integers(1, 3, labels.size)  # 1 or 2 lesions where the label is "lesion"
    images = [(CLASSES[lab], int(les) if lab else 0) for lab, les in zip(labels, lesions, strict=True)]
    return _chunk(images)


def _segmentation_plan(n: int, seed: int) -> list[list[tuple[None, int]]]:
    """Per patient, the lesion count of each image: about 3 in 4 have lesions."""
    rng = np.random.default_rng([seed, 2])
    lesions = np.where(rng.random(n) < 0.75, rng.integers(1, 3, n), 0)
    lesions[0] = max(int(lesions[0]), 1)  # never a segmentation set without any lesion
    if n >= 4:
        lesions[-1] = 0  # and always an empty mask, the case models most often get wrong
    return _chunk([(None, int(k)) for k in lesions])


def _chunk(items: list) -> list[list]:
    chunks, i, k = [], 0, 0
    while i < len(items):
        step = _IMAGES_PER_PATIENT[k % len(_IMAGES_PER_PATIENT)]
        chunks.append(items[i:i + step])
        i, k = i + step, k + 1
    return chunks


# -- drawing and writing ----------------------------------------------------------------


def _write_one(root: Path, part: str, patient: int, number: int, label: str | None,
               lesions: int, size: int, seed: int, masks: bool = False) -> DemoImage:
    letter = part[0]  # "c" or "s": keeps the two parts' patients apart
    patient_id = f"DEMO-{letter.upper()}{patient:03d}"
    name = f"{letter}{patient:03d}_{number}"
    as_dicom = patient % 2 == 1
    # Same anatomy for every image of a patient: the phantom seed depends on the patient only.
    case = synth.chest_phantom_case(size, rng=np.random.default_rng([seed, ord(letter), patient]),
                                    lesions=lesions, lesion_radius_mm=_LESION_RADIUS_MM)
    image, mask, (dy, dx) = _jitter(case.image, case.lesion_mask,
                                    np.random.default_rng([seed, ord(letter), patient, number]))
    folder = Path(part) / (label if part == "classification" else "images")
    rel = folder / f"{name}.{'dcm' if as_dicom else 'png'}"
    if as_dicom:
        synth.write_radiograph(
            image, root / rel, imager_spacing=round(case.pixel_spacing_mm, 6),
            photometric="MONOCHROME2",
            patient=synth.PatientInfo(f"DEMO^{letter.upper()}{patient:03d}", patient_id, "", "O"),
            study=synth.StudyInfo(description="medview demo data (synthetic)", study_id=str(number),
                                  when=_WHEN),
            series_description=f"Synthetic chest PA ({part})",
            lesions=[synth.Lesion(les.row + dy, les.col + dx, les.radius) for les in case.lesions],
            uid_seed=f"medview-demo-{seed}-{name}")
    else:
        synth.write_png(image, root / rel, bits=16)
    mask_rel = None
    if part == "segmentation" or (masks and lesions):
        mask_rel = Path(part) / "masks" / f"{name}.png"
        synth.write_png(mask * np.uint8(255), root / mask_rel, bits=8)
    return DemoImage(rel, patient_id, label, mask_rel, lesions)


def _jitter(image: np.ndarray, mask: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Another acquisition of the same patient: shifted a little, other exposure and noise.

    Returns the new image, the equally shifted mask and the shift (rows, columns).
    """
    limit = max(1, round(0.03 * image.shape[0]))
    dy, dx = (int(v) for v in rng.integers(-limit, limit + 1, 2))
    img = _shift(image.astype(np.float64), dy, dx, mode="edge")
    img = img * rng.uniform(0.93, 1.07) + rng.uniform(-80, 80) + rng.normal(0.0, 15.0, img.shape)
    out = np.clip(np.round(img), 0, 4095).astype(np.uint16)
    return out, _shift(mask, dy, dx, mode="constant"), (dy, dx)


def _shift(a: np.ndarray, dy: int, dx: int, mode: str) -> np.ndarray:
    """``a`` moved by (dy, dx) pixels, the uncovered border filled by ``mode`` (np.pad)."""
    py, px = abs(dy), abs(dx)
    padded = np.pad(a, ((py, py), (px, px)), mode=mode)
    rows, cols = a.shape
    return padded[py - dy:py - dy + rows, px - dx:px - dx + cols]


def _write_labels_csv(path: Path, images: list[DemoImage], masks: bool = False) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "label", "patient_id"] + (["mask"] if masks else []))
    for im in images:
        mask = [im.mask.as_posix() if im.mask else ""] if masks else []
        writer.writerow([im.path.as_posix(), im.label, im.patient_id] + mask)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _write_readme(path: Path, n: int, size: int, seed: int, masks: bool = False) -> None:
    lesion_masks = ("classification/masks/               lesion masks of the lesion images (labels.csv 'mask')\n"
                    if masks else "")
    path.write_text(
        "medview demo data - SYNTHETIC PHANTOMS, NOT PATIENT DATA, NOT FOR CLINICAL USE\n\n"
        f"Written by 'medview demo-data' with n={n}, size={size}, seed={seed}.\n\n"
        f"classification/{{normal,lesion}}/  {n} images per class, DICOM (.dcm) or 16-bit PNG\n"
        "labels.csv                         the same images as path,label,patient_id"
        + (",mask" if masks else "") + "\n" + lesion_masks +
        f"segmentation/images/               {n} radiographs, most with lesions\n"
        "segmentation/masks/                lesion masks, same names, 0 = background, 255 = lesion\n\n"
        "Several images belong to each synthetic patient (same anatomy); split by patient.\n",
        encoding="utf-8")
