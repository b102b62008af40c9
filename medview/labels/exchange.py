"""A project's labels in and out, in the layouts the trainer reads today.

* Classification → ``OUT/labels.csv`` with ``path,label,patient_id`` (trainer/JOBS.md,
  "dataset"): one row per file, paths relative to the CSV where they can be.
* Segmentation → ``OUT/images/<id>.dcm`` (a copy of the source, so its PatientID keeps
  the split patient-aware) with ``OUT/masks/<id>.png`` (class numbers, from the project's
  DICOM SEG masks): the trainer's image/mask pair layout, read as it is today. The SEG
  files stay the project's record; the PNGs are made from them on each export, which
  replaces an earlier export in the same folder.
* Import: a CSV ``path,label[,patient_id]`` (paths relative to the CSV) labels every
  frame of each file (``patient_id`` is recorded for images that carry none, e.g. PNG);
  in a segmentation project a ``mask`` column names a PNG/DICOM mask to store as SEG.

Nothing here drops a label silently: every row or label left out is one line in
:attr:`Exchange.notes`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.core.atomic import atomic_path
from medview.core.errors import ReadError
from medview.labels.files import LabelsError, SaveError, save_failure, write_file, write_json
from medview.labels.heldout import is_held_out
from medview.labels.labelling import Labeller
from medview.labels.project import SKIP
from medview.labels.seg import read_seg
from medview.labels.store import LABELLED, MASK

__all__ = ["Exchange", "export_labels", "import_csv", "read_mask"]

# Marks a folder written by a segmentation export (so a later export may replace it).
_MARK = "medview-labels-export.json"


@dataclass
class Exchange:
    """What an export or import did: the main file, the count, and what was left out."""

    path: Path
    count: int
    notes: list[str] = field(default_factory=list)


def export_labels(labeller: Labeller, out: Path, hold_out: bool = False) -> Exchange:
    """Export a project's labels into folder ``out`` for the trainer (see the module notes).

    ``hold_out`` leaves the project's held-out patients out (:mod:`medview.labels.heldout`),
    so that a model trained on the export can be compared with others on them; a note
    says how many images were kept back.

    Raises
    ------
    LabelsError
        If nothing is labelled, or ``out`` cannot be written.
    """
    out = Path(out)
    labelled = list(_labelled(labeller))
    kept = {im.id for im, label in labelled if is_held_out(im, label.patient_id)} \
        if hold_out else set()
    labelled = [(im, label) for im, label in labelled if im.id not in kept]
    if labeller.project.task == "classification":
        done = _export_csv(labeller, out, labelled)
    else:
        done = _export_pairs(labeller, out, labelled)
    if kept:
        done.notes.insert(0, f"{len(kept)} labelled images of held-out patients kept out of "
                             "training, for comparing models ('medview labels compare')")
    return done


def _labelled(labeller: Labeller):
    for im in labeller.images.images:
        label = labeller.store.get(im.id)
        if label is not None and label.state == LABELLED:
            yield im, label


def _export_csv(labeller: Labeller, out: Path, labelled: list) -> Exchange:
    by_file: dict[Path, list] = defaultdict(list)
    for im, label in labelled:
        by_file[im.path].append((im, label))
    notes = _orphan_notes(labeller)
    rows = []
    for path, items in by_file.items():
        values = {label.value for _, label in items}
        frames = len(labeller.images.in_file(path))
        if len(values) > 1 or len(items) < frames:
            notes.append(f"{path}: its {frames} frames are not all labelled alike; left out (the "
                         "trainer's CSV labels whole files)")
            continue
        im, label = items[0]
        rows.append((_relative(path, out), label.value, label.patient_id or im.patient_id))
    if not rows:
        raise LabelsError(f"{labeller.project.path}: no labelled images to export")
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "label", "patient_id"])
    writer.writerows(rows)
    target = out / "labels.csv"
    write_file(target, text.getvalue().encode("utf-8"))
    return Exchange(target, len(rows), notes)


def _export_pairs(labeller: Labeller, out: Path, labelled: list) -> Exchange:
    _prepare_pairs_folder(out)
    notes = _orphan_notes(labeller)
    count = 0
    for im, label in labelled:
        if len(labeller.images.in_file(im.path)) > 1:
            notes.append(f"{im.describe()}: a frame of a multi-frame file; the trainer's pairs "
                         "need single-frame images, left out")
            continue
        try:
            mask = read_seg(labeller.mask_file(label))
        except LabelsError as err:
            notes.append(f"{err}; its image {im.describe()} left out")
            continue
        if mask.source_sop_instance_uid != im.sop_instance_uid or mask.source_frame != im.frame:
            notes.append(f"{labeller.mask_file(label)}: references another image than "
                         f"{im.describe()}; left out")
            continue
        _write_pair(im.path, mask.labels, out, im.id)
        count += 1
    if not count:
        raise LabelsError(f"{labeller.project.path}: no masks to export")
    classes = ["background", *labeller.project.label_names]
    write_json(out / _MARK, {"format": _MARK, "project": str(labeller.project.path),
                             "pairs": count, "classes": classes})
    return Exchange(out, count, notes)


def _prepare_pairs_folder(out: Path) -> None:
    """``out`` new, empty, or an earlier export (whose pairs are removed: a label cleared
    since must not train); anything else is refused rather than mixed or deleted."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not (out / _MARK).is_file():
            raise LabelsError(f"{out}: already exists and is not an empty folder or an earlier "
                              "export; choose a new folder")
        for sub in ("images", "masks"):
            shutil.rmtree(out / sub, ignore_errors=True)


def _write_pair(image: Path, labels: np.ndarray, out: Path, name: str) -> None:
    from medview.demo.synth import write_png

    target = out / "images" / f"{name}{image.suffix.lower() or '.dcm'}"
    try:
        with atomic_path(target) as tmp:
            shutil.copyfile(image, tmp)
        write_png(labels.astype(np.uint8), out / "masks" / f"{name}.png")
    except OSError as exc:
        raise save_failure(target, exc) from None


def _orphan_notes(labeller: Labeller) -> list[str]:
    return [f"not exported: {o.describe()}" for o in labeller.progress().orphans]


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path.absolute(), base.absolute())).as_posix()
    except ValueError:  # another Windows drive
        return str(path.absolute())


def import_csv(labeller: Labeller, csv_path: Path, replace: bool = False) -> Exchange:
    """Label the project's images from a CSV ``path,label[,patient_id]`` (segmentation:
    ``path,mask``), paths relative to the CSV.

    A row labels every frame of its file. An image that already has another label keeps
    it unless ``replace``; each row not used is a note.

    Raises
    ------
    LabelsError
        If the CSV cannot be read or lacks the ``path``/``label`` columns (segmentation:
        ``path``/``mask``), or the label folder cannot be written.
    """
    csv_path = Path(csv_path)
    rows = _read_rows(csv_path, labeller.project.task)
    count, notes = 0, []
    for line, row in rows:
        where = f"{csv_path.name} line {line}"
        path = csv_path.parent / row.get("path", "")
        images = labeller.images.in_file(path) if row.get("path") else []
        if not images:
            notes.append(f"{path}: not an image of the project ({where}); row not used")
            continue
        for im in images:
            if row.get("patient_id") and not im.patient_id:  # plain images carry none
                im = dataclasses.replace(im, patient_id=row["patient_id"])
            try:
                count += _import_one(labeller, im, row, csv_path.parent, replace)
            except ReadError as err:
                notes.append(f"{err} ({where}); row not used")
                break
            except SaveError:
                raise
            except LabelsError as err:
                notes.append(f"{err} ({where}); row not used")
                break
            except _Kept as kept:
                notes.append(f"{im.describe()}: keeps its label '{kept}' ({where} says "
                             f"'{row.get('label') or 'a mask'}'; use --replace)")
    return Exchange(csv_path, count, notes)


class _Kept(Exception):
    """An image keeps the label it has (raised with that label)."""


def _import_one(labeller: Labeller, im, row: dict, base: Path, replace: bool) -> int:
    old = labeller.store.get(im.id)
    if labeller.project.task == "classification":
        text = row.get("label", "")
        value = SKIP if text.lower() == SKIP else \
            labeller.project.classes[labeller.project.class_index(text)]
        if old is not None and old.value == value:
            return 0
        if old is not None and not replace:
            raise _Kept(old.value)
        labeller.assign(im, value)
        return 1
    if old is not None and old.value == MASK and not replace:
        raise _Kept(MASK)
    labeller.set_mask(im, read_mask(base / row["mask"]))
    return 1


def read_mask(path: Path) -> np.ndarray:
    """A mask file's class numbers (PNG or DICOM; 0/255 read as 0/1)."""
    from medview.core.io.folder import load_paths

    library = load_paths([path])
    if library.skipped:
        raise ReadError(*library.skipped[0])
    frames = library.frames()
    if not frames:
        raise ReadError(path, "no image in this file")
    values = np.asarray(frames[0].stored())
    if values.ndim != 2:
        raise ReadError(path, "mask is colour; expected one channel of class numbers")
    return (values == 255).astype(np.uint8) if set(np.unique(values).tolist()) <= {0, 255} \
        else values


def _read_rows(csv_path: Path, task: str) -> list[tuple[int, dict[str, str]]]:
    needed = ("path", "label") if task == "classification" else ("path", "mask")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(h or "").strip().lower() for h in reader.fieldnames or []]
            for col in needed:
                if col not in header:
                    raise LabelsError(f"{csv_path}: missing column '{col}' (found: "
                                      f"{', '.join(h for h in header if h) or 'none'})")
            return [(reader.line_num, {(k or "").strip().lower(): (v or "").strip()
                                       for k, v in row.items() if isinstance(v, str)})
                    for row in reader]
    except FileNotFoundError:
        raise LabelsError(f"{csv_path}: file not found") from None
    except UnicodeDecodeError:
        raise LabelsError(f"{csv_path}: not a UTF-8 text file") from None
    except (OSError, csv.Error) as exc:
        raise LabelsError(f"{csv_path}: cannot be read ({exc})") from None
