"""What is done in a project: labelled per class, skipped, unlabelled, and orphan labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from medview.labels.project import Project
from medview.labels.store import LABELLED, MASK, SKIPPED, UNLABELLED, Label, LabelStore

if TYPE_CHECKING:
    from medview.labels.images import ProjectImages

__all__ = ["Progress", "Orphan", "progress"]


@dataclass(frozen=True)
class Orphan:
    """A label whose image is not among the project's readable images; kept, not dropped."""

    label: Label
    reason: str

    def describe(self) -> str:
        where = self.label.path or self.label.sop_instance_uid
        return f"{where}: labelled '{self.label.value}' by {self.label.who}, but {self.reason}"


@dataclass
class Progress:
    """Counts of a project's images by label state.

    Attributes
    ----------
    total : int
        Readable images the project covers.
    labelled, skipped, unlabelled : int
        Images by state (segmentation: labelled = has a mask, even an empty one).
    per_class : dict of str to int
        Labelled images per class (segmentation: images whose mask holds the segment).
    orphans : list of Orphan
        Labels on images that are missing or no longer load.
    problems : list of (Path, str)
        Label files that could not be read.
    """

    total: int
    labelled: int
    skipped: int
    unlabelled: int
    per_class: dict[str, int]
    orphans: list[Orphan] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line, e.g. ``12/40 labelled (normal 7, lesion 5), 2 skipped, 26 unlabelled``."""
        classes = ", ".join(f"{k} {v}" for k, v in self.per_class.items())
        return (f"{self.labelled}/{self.total} labelled ({classes}), {self.skipped} skipped, "
                f"{self.unlabelled} unlabelled")

    def lines(self) -> list[str]:
        """The summary, then one line per orphan label and unreadable label file."""
        out = [self.summary()]
        out += [f"label kept for a missing image: {o.describe()}" for o in self.orphans]
        out += [f"label file not readable: {p}: {r}" for p, r in self.problems]
        return out


def progress(project: Project, images: ProjectImages, store: LabelStore) -> Progress:
    """Count ``images`` by their label in ``store``; list labels of images not found."""
    per_class = {name: 0 for name in project.label_names}
    states = {LABELLED: 0, SKIPPED: 0, UNLABELLED: 0}
    for im in images.images:
        label = store.get(im.id)
        state = label.state if label is not None else UNLABELLED
        names = (label.segments if label is not None and label.value == MASK
                 else (label.value,) if label is not None else ())
        if state == LABELLED and not all(n in per_class for n in names):
            state = UNLABELLED  # a class renamed or removed since: not labelled any more
        states[state] += 1
        for n in names if state == LABELLED else ():
            per_class[n] += 1
    reasons = {str(Path(p).resolve()): r for p, r in images.skipped}
    orphans = []
    for image_id, label in sorted(list(store.labels.items())):  # a copy: the GUI may add
        if label.state in (LABELLED, SKIPPED) and images.get(image_id) is None:
            why = reasons.get(str(Path(label.path).resolve())) if label.path else None
            orphans.append(Orphan(label, f"it does not load ({why})" if why
                                  else "it is not found in the project's studies"))
    return Progress(len(images), states[LABELLED], states[SKIPPED], states[UNLABELLED], per_class,
                    orphans, list(store.problems))
