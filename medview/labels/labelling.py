"""A project opened for labelling: its images, its labels, and the checked ways to change them.

:class:`Labeller` is what the CLI and the viewer both use: it turns "class 2", "lesion",
"skip" or a mask into a checked record in the :class:`~medview.labels.store.LabelStore`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.labels.files import LabelsError
from medview.labels.images import ProjectImage, ProjectImages, scan
from medview.labels.progress import Progress, progress
from medview.labels.project import SKIP, Project
from medview.labels.seg import write_seg
from medview.labels.store import MASK, Label, LabelStore

__all__ = ["Labeller"]


class Labeller:
    """A project, its images and its labels.

    Parameters
    ----------
    project : Project
    images : ProjectImages
        The images the project covers (from :func:`~medview.labels.images.scan`, or the
        viewer's open frames).
    store : LabelStore, optional
        Default: the project's label folder, written as this OS user on this PC.
    """

    def __init__(self, project: Project, images: ProjectImages,
                 store: LabelStore | None = None) -> None:
        self.project = project
        self.images = images
        self.store = store if store is not None else LabelStore(project.label_dir)

    @classmethod
    def open(cls, path: str | Path, user: str | None = None, host: str | None = None) -> Labeller:
        """Read the project file and the headers of its studies (no pixels)."""
        project = Project.load(path)
        return cls(project, scan(project), LabelStore(project.label_dir, user, host))

    def image(self, path: str | Path, frame: int = 0) -> ProjectImage:
        """The project image at ``path`` and ``frame``.

        Raises
        ------
        LabelsError
            If the project does not cover it (naming why, when its file did not load).
        """
        found = self.images.find(path, frame)
        if found is not None:
            return found
        for p, reason in self.images.skipped:
            if Path(p).resolve() == Path(path).resolve():
                raise LabelsError(f"{path}: {reason}")
        if self.images.in_file(path):
            raise LabelsError(f"{path}: has no frame {frame + 1}")
        raise LabelsError(f"{path}: not an image of project {self.project.path.name} "
                          f"(its studies: {', '.join(str(s) for s in self.project.studies)})")

    def assign(self, image: ProjectImage, text: str) -> Label:
        """Label ``image`` with a class (name, or number from 1), ``"skip"``, or ``""`` (clear).

        Raises
        ------
        LabelsError
            If the project has no such class, is a segmentation project (masks are set
            with :meth:`set_mask`), or the label folder cannot be written.
        """
        if text.lower() == SKIP:
            value = SKIP
        elif not text:
            value = ""
        elif self.project.task != "classification":
            raise LabelsError(f"{self.project.path}: a segmentation project is labelled with "
                              "masks, not classes")
        else:
            value = self.project.classes[self.project.class_index(text)]
        return self.store.set(image, value)

    def set_mask(self, image: ProjectImage, labels: np.ndarray) -> Label:
        """Save ``labels`` (0 background, k segment k) as ``image``'s mask, a DICOM SEG.

        Raises
        ------
        LabelsError
            If this is not a segmentation project, the image is not DICOM, the mask does
            not fit the image, or the label folder cannot be written.
        """
        if self.project.task != "segmentation":
            raise LabelsError(f"{self.project.path}: a classification project has no masks")
        out = self.store.mask_path(image.id)
        write_seg(out, image.path, image.frame, labels, self.project.segments)
        present = tuple(s.name for k, s in enumerate(self.project.segments, 1)
                        if np.any(np.asarray(labels) == k))
        return self.store.set(image, MASK, out.relative_to(self.store.label_dir).as_posix(),
                              present)

    def mask_file(self, label: Label) -> Path:
        """The SEG file of a segmentation label."""
        return self.store.label_dir / label.mask

    def progress(self) -> Progress:
        """Counts by state and class, orphan labels and unreadable label files."""
        return progress(self.project, self.images, self.store)
