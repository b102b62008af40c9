"""Find labelled images on disk and say plainly what was found and what is wrong.

Three layouts are understood:

* **classification folders** — ``root/<class>/**/<image>``: each sub-folder of ``root``
  is a class and everything below it (any depth) its images;
* **classification CSV** — a table with columns ``path,label[,patient_id][,mask]``; paths
  are relative to the CSV's folder (absolute paths work too); the optional ``mask`` names a
  lesion mask of that image (0 = background, > 0 = lesion), which training uses as an
  auxiliary target (:mod:`trainer.aux_mask`);
* **segmentation pairs** — ``root/images/<name>.<ext>`` with ``root/masks/<name>.png``
  (or ``.dcm``); mask value 0 is background and k is class k, except that a mask holding
  only 0 and 255 is binary (255 → 1).

Images may be DICOM or PNG/JPEG/TIFF/BMP. They are read by medview's core readers
(headers only while discovering); a sample is a lightweight record of paths, label and
patient, and :mod:`trainer.data.images` decodes pixels when training needs them.
Problems that spoil one file skip that file and list it with its reason in
:attr:`DatasetSummary.skipped`; problems that spoil the data set raise
:class:`DatasetError`.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from medview.core.errors import MedviewError, ReadError
from medview.core.io.folder import load_paths
from medview.core.study import Frame
from trainer.data.images import MASK_SUFFIXES, load_mask

__all__ = [
    "DatasetError",
    "ClassificationSample",
    "SegmentationSample",
    "DatasetSummary",
    "LabelledDataset",
    "discover",
    "discover_classification_folders",
    "discover_classification_csv",
    "discover_segmentation",
    "MIN_IMAGES_PER_CLASS",
]

Task = Literal["classification", "segmentation"]

#: Below this many images a class gets a warning: validation and test may not see it.
MIN_IMAGES_PER_CLASS = 5


class DatasetError(MedviewError):
    """The data set cannot be used as given; the message names the file or folder and why."""


@dataclass(frozen=True)
class ClassificationSample:
    """One labelled image (or one frame of a multi-frame DICOM file).

    Attributes
    ----------
    path : Path
        The image file.
    label : int
        Class index into :attr:`LabelledDataset.classes`.
    patient_id : str or None
        From the CSV's ``patient_id`` column, else the DICOM PatientID, else None.
    frame : int
        Frame within the file, 0-based.
    mask : Path or None
        A lesion mask of the image (CSV ``mask`` column): 0 = background, > 0 = lesion.
    """

    path: Path
    label: int
    patient_id: str | None = None
    frame: int = 0
    mask: Path | None = None

    @property
    def group(self) -> str:
        """Split group: the patient, or else the file (frames of one file stay together)."""
        return _group(self.patient_id, self.path)

    @property
    def stratum(self) -> int:
        """What stratified splitting balances: the label."""
        return self.label


@dataclass(frozen=True)
class SegmentationSample:
    """One image with its label mask.

    Attributes
    ----------
    image : Path
        The image file (single-frame).
    mask : Path
        The mask file.
    patient_id : str or None
        DICOM PatientID of the image, if any.
    classes_present : tuple of int
        Class numbers the mask contains (0 = background).
    """

    image: Path
    mask: Path
    patient_id: str | None = None
    classes_present: tuple[int, ...] = ()

    @property
    def group(self) -> str:
        """Split group: the patient, or else the image file."""
        return _group(self.patient_id, self.image)

    @property
    def stratum(self) -> int:
        """What stratified splitting balances: the highest class present (0 = empty mask)."""
        return max(self.classes_present, default=0)


@dataclass
class DatasetSummary:
    """What a data set holds and what was left out, for people and for the job_started event.

    Attributes
    ----------
    task : {"classification", "segmentation"}
    source : str
        The folder or CSV file discovered.
    classes : list of str
        Class names by index.
    counts : dict of str to int
        Images per class (segmentation: images whose mask contains the class).
    n_samples : int
        Usable samples.
    n_patients : int
        Distinct patient IDs among them.
    n_without_patient_id : int
        Samples with no patient ID (each is its own group when splitting).
    size_min, size_max : (int, int) or None
        Smallest and largest (rows, columns), taken separately per axis.
    size_most_common : (int, int) or None
        The most frequent (rows, columns).
    size_most_common_count : int
        How many samples have it.
    skipped : list of (Path, str)
        Files not used, each with a one-line reason.
    warnings : list of str
        Problems that did not stop discovery (dropped classes, rare classes, …).
    n_masks : int
        Classification samples with a lesion mask (CSV ``mask`` column).
    """

    task: Task
    source: str
    classes: list[str]
    counts: dict[str, int]
    n_samples: int
    n_patients: int
    n_without_patient_id: int
    size_min: tuple[int, int] | None
    size_max: tuple[int, int] | None
    size_most_common: tuple[int, int] | None
    size_most_common_count: int
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Classification samples with a lesion mask (CSV ``mask`` column).
    n_masks: int = 0

    @property
    def split_by(self) -> str:
        """What the split keeps together: ``"patient"`` (every image has a patient ID),
        ``"image"`` (none has; each file is its own group) or ``"mixed"``."""
        if self.n_without_patient_id == 0:
            return "patient"
        return "image" if self.n_patients == 0 else "mixed"

    def split_description(self) -> str:
        """How the split really was, for the card and ``evaluation.json``, e.g. "by patient"."""
        if self.split_by == "patient":
            return "by patient"
        if self.split_by == "image":
            return "by image (no image has a patient ID)"
        return (f"mixed: by patient, but by image for the {self.n_without_patient_id} images without "
                "patient ID")

    def to_dict(self) -> dict:
        """JSON-ready form (paths as strings, sizes as lists)."""
        def size(s):
            return list(s) if s is not None else None

        return {
            "task": self.task, "source": self.source, "classes": list(self.classes),
            "counts": dict(self.counts), "n_samples": self.n_samples,
            "n_patients": self.n_patients, "n_without_patient_id": self.n_without_patient_id,
            "split_by": self.split_by, "size_min": size(self.size_min), "size_max": size(self.size_max),
            "size_most_common": size(self.size_most_common),
            "size_most_common_count": self.size_most_common_count,
            "skipped": [{"path": str(p), "reason": r} for p, r in self.skipped],
            "warnings": list(self.warnings), "masks": self.n_masks,
        }

    def describe(self) -> str:
        """A few lines of plain text for a person."""
        lines = [f"{self.task} data set {self.source}: {self.n_samples} images, "
                 f"{self.n_patients} patients ({self.n_without_patient_id} images without patient ID)"]
        lines += [f"  {name}: {self.counts.get(name, 0)}" for name in self.classes]
        if self.size_min is not None:
            lines.append(f"  sizes: {_fmt(self.size_min)} to {_fmt(self.size_max)}, most common "
                         f"{_fmt(self.size_most_common)} ({self.size_most_common_count} images)")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  skipped {p}: {r}" for p, r in self.skipped]
        return "\n".join(lines)


@dataclass
class LabelledDataset:
    """Discovered samples with their class names and summary.

    Attributes
    ----------
    task : {"classification", "segmentation"}
    classes : list of str
        Class names by index (segmentation: index 0 is background).
    samples : list of ClassificationSample or list of SegmentationSample
    summary : DatasetSummary
    """

    task: Task
    classes: list[str]
    samples: list
    summary: DatasetSummary

    def __len__(self) -> int:
        return len(self.samples)

    def strata(self) -> np.ndarray:
        """Per-sample stratum for :func:`trainer.data.splits.stratified_split`."""
        return np.array([s.stratum for s in self.samples], dtype=np.int64)

    def groups(self) -> list[str]:
        """Per-sample split group (patient, else file) for :mod:`trainer.data.splits`."""
        return [s.group for s in self.samples]


# -- entry point ------------------------------------------------------------------------


def discover(path: str | Path, *, check_pixels: bool = False) -> LabelledDataset:
    """Discover a data set, choosing the layout from what ``path`` is.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` file (classification CSV), a folder with ``images/`` and ``masks/``
        (segmentation), or a folder of class folders (classification).
    check_pixels : bool
        Also decode every image, so files whose header reads but whose pixels do not are
        skipped now rather than failing mid-training (slower: reads all pixel data).

    Returns
    -------
    LabelledDataset

    Raises
    ------
    DatasetError
        If the path is missing or the data set is unusable.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: not found")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise DatasetError(f"{path}: expected a folder or a .csv file of labels")
        return discover_classification_csv(path, check_pixels=check_pixels)
    if (path / "images").is_dir() and (path / "masks").is_dir():
        return discover_segmentation(path, check_pixels=check_pixels)
    return discover_classification_folders(path, check_pixels=check_pixels)


# -- classification: folders ------------------------------------------------------------


def discover_classification_folders(root: str | Path, *, check_pixels: bool = False) -> LabelledDataset:
    """Discover ``root/<class>/**/<image>``.

    Parameters
    ----------
    root : str or Path
        Folder whose sub-folders are the classes (hidden ones ignored).
    check_pixels : bool
        See :func:`discover`.

    Returns
    -------
    LabelledDataset

    Raises
    ------
    DatasetError
        If ``root`` has no class folders, or fewer than two classes with images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{root}: no class folders (expected {root}/<class name>/<images>)")
    skipped: list[tuple[Path, str]] = []
    warnings = _loose_files_warning(root)
    found: dict[str, list[Frame]] = {}
    for d in class_dirs:
        frames = sorted(_readable_frames([d], skipped, check_pixels), key=lambda f: (str(f.path), f.index))
        if frames:
            found[d.name] = frames
        else:
            warnings.append(f"class folder '{d.name}' has no readable images; class dropped")
    classes = _require_two_classes(list(found), root)
    samples = [ClassificationSample(f.path, label, _patient_id(f), f.index)
               for label, name in enumerate(classes) for f in found[name]]
    shapes = [f.shape for name in classes for f in found[name]]
    return _classification_dataset(root, classes, samples, shapes, skipped, warnings)


def _loose_files_warning(root: Path) -> list[str]:
    loose = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    if not loose:
        return []
    return [f"{len(loose)} file(s) directly in {root} ignored (only files inside class folders are "
            f"used): {_names(loose)}"]


# -- classification: CSV ----------------------------------------------------------------


def discover_classification_csv(csv_path: str | Path, *, check_pixels: bool = False) -> LabelledDataset:
    """Discover images listed in a CSV with columns ``path,label[,patient_id][,mask]``.

    Column names are matched case-insensitively; other columns are ignored. A
    ``patient_id`` cell overrides the DICOM PatientID; empty cells fall back to it. A
    ``mask`` cell names a lesion mask (PNG or DICOM, the image's size; empty: none); a
    mask that cannot be used is left out with a warning and its image kept.

    Parameters
    ----------
    csv_path : str or Path
        The CSV file (UTF-8, with a header row).
    check_pixels : bool
        See :func:`discover`.

    Returns
    -------
    LabelledDataset

    Raises
    ------
    DatasetError
        If the file is missing, lacks the ``path`` or ``label`` column, lists nothing
        readable, or fewer than two classes remain.
    """
    csv_path = Path(csv_path)
    rows = _read_csv_rows(csv_path)
    skipped: list[tuple[Path, str]] = []
    listed = _rows_to_files(rows, csv_path, skipped)
    frames = _readable_frames(list(listed), skipped, check_pixels)
    by_file: dict[Path, list[Frame]] = {}
    for f in frames:
        by_file.setdefault(f.path.resolve(), []).append(f)
    warnings: list[str] = []
    labelled = [(f, label, pid) for path, (label, pid, _) in listed.items()
                for f in by_file.get(path.resolve(), [])]
    masks = _csv_masks(listed, by_file, warnings)
    listed_classes = sorted({label for label, _, _ in listed.values()})
    present = sorted({label for _, label, _ in labelled})
    for name in listed_classes:
        if name not in present:
            warnings.append(f"class '{name}' has no readable images; class dropped")
    classes = _require_two_classes(present, csv_path)
    index = {name: i for i, name in enumerate(classes)}
    samples = [ClassificationSample(f.path, index[label], pid or _patient_id(f), f.index,
                                    masks.get(f.path.resolve()))
               for f, label, pid in labelled]
    return _classification_dataset(csv_path, classes, samples, [f.shape for f, _, _ in labelled],
                                   skipped, warnings)


def _csv_masks(listed: dict[Path, tuple[str, str | None, Path | None]], by_file: dict[Path, list[Frame]],
               warnings: list[str]) -> dict[Path, Path]:
    """Image (resolved) → its usable mask; masks that cannot be used are named in one warning."""
    masks: dict[Path, Path] = {}
    bad: list[tuple[Path, str]] = []
    for path, (_, _, mask) in listed.items():
        frames = by_file.get(path.resolve(), [])
        if mask is None or not frames:
            continue
        try:
            labels = load_mask(mask)
        except ReadError as err:
            bad.append((mask, err.reason))
            continue
        if labels.shape != tuple(frames[0].shape):
            bad.append((mask, f"mask is {_fmt(labels.shape)} but its image is {_fmt(frames[0].shape)}"))
            continue
        masks[path.resolve()] = mask
    if bad:
        items = "; ".join(f"{p}: {r}" for p, r in bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.append(f"{len(bad)} mask(s) not used (their images are kept): {items}")
    return masks


def _read_csv_rows(csv_path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row with lower-cased keys) of every data row."""
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: file not found")
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark in front of the header
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
            for col in ("path", "label"):
                if col not in header:
                    found = ", ".join(h for h in header if h) or "none"
                    raise DatasetError(f"{csv_path}: missing column '{col}' (found columns: {found})")
            rows = [(reader.line_num, {(k or "").strip().lower(): (v or "").strip()
                                       for k, v in row.items() if isinstance(v, str)})
                    for row in reader]
    except UnicodeDecodeError:
        raise DatasetError(f"{csv_path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise DatasetError(f"{csv_path}: not a readable CSV ({exc})") from None
    if not rows:
        raise DatasetError(f"{csv_path}: lists no images")
    return rows


def _rows_to_files(rows: list[tuple[int, dict[str, str]]], csv_path: Path,
                   skipped: list[tuple[Path, str]]) -> dict[Path, tuple[str, str | None, Path | None]]:
    """Existing files listed in the CSV → (label, patient_id or None, mask or None); the rest
    is skipped."""
    base, name = csv_path.parent, csv_path.name
    listed: dict[Path, tuple[str, str | None, Path | None]] = {}
    first_line: dict[Path, int] = {}
    for line, row in rows:
        raw, label = row.get("path", ""), row.get("label", "")
        path = base / raw
        where = f"{name} line {line}"
        if not raw:
            skipped.append((csv_path, f"{where}: empty path"))
        elif not label:
            skipped.append((path, f"no label ({where})"))
        elif not path.exists():
            skipped.append((path, f"file not found ({where})"))
        elif path.is_dir():
            skipped.append((path, f"is a folder, not an image file ({where})"))
        elif path.resolve() in first_line:
            skipped.append((path, f"listed again ({where}; first on line {first_line[path.resolve()]})"))
        else:
            first_line[path.resolve()] = line
            mask = row.get("mask") or None
            listed[path] = (label, row.get("patient_id") or None, base / mask if mask else None)
    return listed


def _classification_dataset(source: Path, classes: list[str], samples: list[ClassificationSample],
                            shapes: list[tuple[int, int]], skipped: list[tuple[Path, str]],
                            warnings: list[str]) -> LabelledDataset:
    counts = Counter(s.label for s in samples)
    per_class = {name: counts[i] for i, name in enumerate(classes)}
    summary = _summary("classification", source, classes, per_class, samples, shapes, skipped, warnings)
    summary.n_masks = sum(s.mask is not None for s in samples)
    return LabelledDataset("classification", classes, samples, summary)


def _require_two_classes(classes: list[str], source: Path) -> list[str]:
    if not classes:
        raise DatasetError(f"{source}: no readable images")
    if len(classes) == 1:
        raise DatasetError(f"{source}: only one class ('{classes[0]}') has images; "
                           "classification needs at least two")
    return classes


# -- segmentation -----------------------------------------------------------------------


def discover_segmentation(root: str | Path, *, class_names: list[str] | None = None,
                          check_pixels: bool = False) -> LabelledDataset:
    """Discover image/mask pairs ``root/images/<name>.*`` + ``root/masks/<name>.png|.dcm``.

    Masks are decoded here (they are small) to learn which classes exist; a pair whose
    mask is unreadable, colour, of another size than its image, or holds values that are
    not class numbers is skipped with the reason.

    Parameters
    ----------
    root : str or Path
        Folder holding ``images/`` and ``masks/`` (names may sit in sub-folders, matched
        by their path relative to ``images/``).
    class_names : list of str, optional
        Names by class number, background first; default ``background``, ``class 1``, ….
    check_pixels : bool
        See :func:`discover`.

    Returns
    -------
    LabelledDataset

    Raises
    ------
    DatasetError
        If a folder is missing, no pair is usable, every mask is empty, or
        ``class_names`` is too short.
    """
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    for d in (images_dir, masks_dir):
        if not d.is_dir():
            raise DatasetError(f"{root}: missing folder '{d.name}' (expected images/ and masks/)")
    skipped: list[tuple[Path, str]] = []
    frames = _readable_frames([images_dir], skipped, check_pixels)
    pairs = _pair_masks(frames, images_dir, masks_dir, skipped)
    samples, shapes = [], []
    for frame, mask_path in pairs:
        present = _mask_classes(mask_path, frame.shape, skipped)
        if present is not None:
            samples.append(SegmentationSample(frame.path, mask_path, _patient_id(frame), present))
            shapes.append(frame.shape)
    warnings = _unmatched_masks_warning(masks_dir, pairs)
    classes = _segmentation_classes(samples, class_names, root, warnings)
    counts = Counter(k for s in samples for k in s.classes_present)
    per_class = {name: counts[i] for i, name in enumerate(classes)}
    summary = _summary("segmentation", root, classes, per_class, samples, shapes, skipped, warnings)
    return LabelledDataset("segmentation", classes, samples, summary)


def _pair_masks(frames: list[Frame], images_dir: Path, masks_dir: Path,
                skipped: list[tuple[Path, str]]) -> list[tuple[Frame, Path]]:
    pairs: list[tuple[Frame, Path]] = []
    taken: dict[Path, Path] = {}
    multi_frame = Counter(f.path for f in frames)
    for f in frames:
        if multi_frame[f.path] > 1:
            if f.index == 0:
                skipped.append((f.path, "multi-frame image; segmentation needs one mask per image, "
                                        "so use single-frame images"))
            continue
        stem = f.path.relative_to(images_dir).with_suffix("")
        candidates = [m for m in (masks_dir / stem.with_suffix(s) for s in MASK_SUFFIXES) if m.is_file()]
        if not candidates:
            skipped.append((f.path, f"no mask (expected masks/{stem.as_posix()}.png or .dcm)"))
        elif len(candidates) > 1:
            skipped.append((f.path, f"two masks ({', '.join(m.name for m in candidates)}); keep one"))
        elif candidates[0] in taken:
            skipped.append((f.path, f"mask {candidates[0].name} already belongs to {taken[candidates[0]].name}"))
        else:
            taken[candidates[0]] = f.path
            pairs.append((f, candidates[0]))
    return pairs


def _mask_classes(mask_path: Path, image_shape: tuple[int, int],
                  skipped: list[tuple[Path, str]]) -> tuple[int, ...] | None:
    """Class numbers in the mask, or None after listing why the pair is skipped."""
    try:
        labels = load_mask(mask_path)
    except ReadError as err:
        skipped.append((mask_path, err.reason))
        return None
    if labels.shape != tuple(image_shape):
        skipped.append((mask_path, f"mask is {_fmt(labels.shape)} but its image is {_fmt(image_shape)}"))
        return None
    return tuple(int(k) for k in np.unique(labels))


def _unmatched_masks_warning(masks_dir: Path, pairs: list[tuple[Frame, Path]]) -> list[str]:
    used = {m.resolve() for _, m in pairs}
    unmatched = [m for m in masks_dir.rglob("*") if m.is_file() and not m.name.startswith(".")
                 and m.resolve() not in used]
    if not unmatched:
        return []
    return [f"{len(unmatched)} file(s) in masks/ belong to no usable image: {_names(unmatched)}"]


def _segmentation_classes(samples: list[SegmentationSample], class_names: list[str] | None,
                          root: Path, warnings: list[str]) -> list[str]:
    if not samples:
        raise DatasetError(f"{root}: no usable image/mask pairs")
    top = max(max(s.classes_present) for s in samples)
    if top == 0:
        raise DatasetError(f"{root}: every mask is empty (no foreground pixels); nothing to learn")
    if class_names is None:
        class_names = ["background"] + [f"class {k}" for k in range(1, top + 1)]
    elif len(class_names) <= top:
        raise DatasetError(f"{root}: masks use class {top} but only {len(class_names)} class names "
                           "were given (background first)")
    seen = {k for s in samples for k in s.classes_present}
    absent = [class_names[k] for k in range(1, len(class_names)) if k not in seen]
    if absent:
        warnings.append(f"no mask contains {', '.join(absent)}")
    return list(class_names)


# -- shared -----------------------------------------------------------------------------


def _readable_frames(paths: Iterable[Path], skipped: list[tuple[Path, str]], check_pixels: bool) -> list[Frame]:
    """Frames of everything under ``paths``, header-read; failures go to ``skipped``."""
    library = load_paths(paths)
    skipped.extend(library.skipped)
    frames = library.frames()
    if not check_pixels:
        return frames
    good = []
    for f in frames:
        try:
            f.stored()
            good.append(f)
        except ReadError as err:
            skipped.append((err.path, err.reason))
    return good


def _patient_id(frame: Frame) -> str | None:
    value = frame.get("PatientID")
    return (str(value).strip() or None) if value is not None else None


def _group(patient_id: str | None, path: Path) -> str:
    return f"patient:{patient_id}" if patient_id else f"file:{path}"


def _summary(task: Task, source: Path, classes: list[str], counts: dict[str, int], samples: list,
             shapes: list[tuple[int, int]], skipped: list[tuple[Path, str]], warnings: list[str]) -> DatasetSummary:
    ids = [s.patient_id for s in samples]
    known = [i for i in ids if i]
    warnings = warnings + _class_size_warnings(counts, task) + _patient_warnings(known, len(samples))
    common = Counter(shapes).most_common(1)
    return DatasetSummary(
        task=task, source=str(source), classes=classes, counts=counts, n_samples=len(samples),
        n_patients=len(set(known)), n_without_patient_id=len(ids) - len(known),
        size_min=(min(r for r, _ in shapes), min(c for _, c in shapes)) if shapes else None,
        size_max=(max(r for r, _ in shapes), max(c for _, c in shapes)) if shapes else None,
        size_most_common=common[0][0] if common else None,
        size_most_common_count=common[0][1] if common else 0,
        skipped=list(skipped), warnings=warnings)


def _class_size_warnings(counts: dict[str, int], task: Task) -> list[str]:
    what = "images" if task == "classification" else "masks containing it"
    names = list(counts)[1:] if task == "segmentation" else list(counts)  # background is everywhere
    return [f"class '{name}' has only {counts[name]} {what}; validation and test may miss it"
            for name in names if 0 < counts[name] < MIN_IMAGES_PER_CLASS]


def _patient_warnings(known_ids: list[str], n_samples: int) -> list[str]:
    distinct = set(known_ids)
    if len(distinct) == 1 and len(known_ids) == n_samples and n_samples > 1:
        return [f"all {n_samples} images carry the same patient ID '{known_ids[0]}' (anonymised?); "
                "a patient-aware split cannot separate them"]
    missing = n_samples - len(known_ids)
    if n_samples < 2 or missing == 0:
        return []
    # Without an ID an image is its own split group: two images of one patient (two views, a
    # DICOM and its PNG copy) can then sit in training and test, and the test scores flatter.
    leak = ("so images of one patient can land in both training and test (leakage: the test "
            "scores would look better than they are); give every image a patient ID (a "
            "patient_id column in a labels CSV, or the DICOM PatientID)")
    if not known_ids:
        return [f"no image has a patient ID: the split is by image, {leak}"]
    return [f"{missing} of {n_samples} images have no patient ID and are split by image while the "
            f"others are split by patient; if they show the same patients, {leak}"]


def _fmt(shape) -> str:
    return "×".join(str(int(v)) for v in shape)


def _names(paths: list[Path], limit: int = 5) -> str:
    names = ", ".join(p.name for p in paths[:limit])
    return names + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def sample_paths(samples: list) -> list[Path]:
    """The image file of each sample (classification ``path``, segmentation ``image``)."""
    return [Path(getattr(s, "path", None) or s.image) for s in samples]
