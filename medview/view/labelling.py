"""The viewer's labelling state without Qt: the open project, the image on screen, its label.

:class:`LabellingModel` is what the labelling panel shows and what keys 1–9 change. The
viewer tells it which frame is on screen (:meth:`LabellingModel.show`); it answers with
that image's label, the project's progress, and where the next or previous unlabelled
image is (:meth:`LabellingModel.step`), which the viewer then brings on screen. Every
change is an event (``events.project``, ``events.current``, ``events.labels``,
``events.message``), so the whole loop is testable without a QApplication.

In a segmentation project keys 1–9 choose the segment the brush paints, and the model is
the viewports' painter (:attr:`~medview.view.model.ViewModel.painter`): brush and eraser
strokes edit the current image's mask (:class:`~medview.view.mask_edit.MaskEdit`, with
undo and redo), which is saved as DICOM SEG when each stroke ends (``events.mask``).

A label that cannot be saved (read-only or full label folder) is kept here as pending,
reported in one line, and saved with the next label or on close, so no label is lost
while the folder is unavailable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medview.core.imports import load
from medview.labels.files import LabelsError, SaveError
from medview.labels.project import SKIP
from medview.labels.store import LABELLED, MASK, SKIPPED, UNLABELLED
from medview.view.events import Events
from medview.view.mask_edit import MaskEdit

if TYPE_CHECKING:  # they read DICOM headers: the window starts without pydicom
    from medview.labels.images import ProjectImage
    from medview.labels.labelling import Labeller
    from medview.labels.progress import Progress

__all__ = ["LabellingModel"]


class LabellingModel:
    """The labelling project open in the viewer (or none).

    Attributes
    ----------
    labeller : Labeller or None
    current : ProjectImage or None
        The project image on screen; None when the screen shows another image.
    advance : bool
        After a label is given, move to the next unlabelled image.
    edit : MaskEdit or None
        The current image's mask while a segmentation project is open.
    segment, radius
        What the brush paints (from 1) and its radius in image pixels.
    """

    EVENTS = ("project", "current", "labels", "message", "mask")
    #: Which series the browser lists while a project is open (``set_filter``).
    FILTERS = {"all": "All series", "unlabelled": "Series with unlabelled images",
               "labelled": "Fully labelled series",
               "useful": "Series with the most useful images"}

    def __init__(self) -> None:
        self.events = Events(*self.EVENTS)
        self.labeller: Labeller | None = None
        self.current: ProjectImage | None = None
        self.advance = True
        self.edit: MaskEdit | None = None
        self.segment, self.radius = 1, 5.0
        self.filter = "all"
        #: Ids of the images ranked most useful to label next (None: not ranked).
        self.useful: set[str] | None = None
        # image id -> (image, value, mask or None): given, not saved yet
        self._pending: dict[str, tuple[ProjectImage, str, np.ndarray | None]] = {}
        self._progress: Progress | None = None

    # -- project

    def open(self, labeller: Labeller) -> None:
        """Label ``labeller``'s project from now on (a project open before is closed)."""
        self.close()
        self.labeller = labeller
        self._progress = None
        self.events.project.emit()
        problems = labeller.progress().lines()[1:]
        if problems:
            self.events.message.emit(f"{len(problems)} label(s) need attention: {problems[0]}")

    def close(self) -> None:
        """Save what is pending, then forget the project."""
        if self.labeller is None:
            return
        self.save_pending()
        self.labeller = self.current = self.edit = None
        self.events.project.emit()

    @property
    def class_names(self) -> list[str]:
        return self.labeller.project.label_names if self.labeller is not None else []

    def progress(self) -> Progress | None:
        """Counts of the project (cached until a label changes)."""
        if self.labeller is None:
            return None
        if self._progress is None:
            self._progress = self.labeller.progress()
        return self._progress

    # -- the image on screen

    @property
    def segmenting(self) -> bool:
        return self.labeller is not None and self.labeller.project.task == "segmentation"

    def show(self, path: str | Path | None, frame: int = 0,
             shape: tuple[int, int] | None = None) -> None:
        """The viewer shows frame ``frame`` of ``path`` (None: nothing), ``shape`` (rows,
        cols) in size: a segmentation project loads its mask for editing."""
        found = None
        if self.labeller is not None and path is not None:
            found = self.labeller.images.find(path, frame)
        if found != self.current:
            self.current = found
            self.edit = self._mask_for(found, shape) if self.segmenting else None
            self.events.current.emit()
            self.events.mask.emit()

    def label_of(self, image: ProjectImage | None = None) -> str:
        """The label of ``image`` (default the current one): a class, ``"skip"`` or ``""``."""
        image = image or self.current
        if self.labeller is None or image is None:
            return ""
        if image.id in self._pending:
            return self._pending[image.id][1]
        label = self.labeller.store.get(image.id)
        return label.value if label is not None else ""

    # -- labelling

    def assign(self, number: int, images: list[ProjectImage] | None = None
               ) -> ProjectImage | None:
        """Give class ``number`` (from 1, as keys 1–9 do) to the current image, or to
        ``images`` (e.g. every image of the series on screen, Ctrl+1–9).

        Returns the image to show next (the next unlabelled one when :attr:`advance`),
        or None to stay. A number beyond the classes, or no current image, only says so.
        """
        if self.labeller is None or (self.current is None and not images):
            self.events.message.emit("This image is not part of the labelling project")
            return None
        names = self.class_names
        if not 1 <= number <= len(names):
            self.events.message.emit(f"No class {number}: the project's classes are "
                                     + ", ".join(f"{i} {n}" for i, n in enumerate(names, 1)))
            return None
        if self.segmenting:  # the number chooses what the brush paints
            self.segment = number
            if self.edit is not None:
                self.edit.segment = number
            self.events.message.emit(f"The brush paints {number} {names[number - 1]}")
            self.events.mask.emit()
            return None
        return self._record(images or [self.current], names[number - 1])

    def skip(self) -> ProjectImage | None:
        """Mark the current image skipped; returns the image to show next, as :meth:`assign`."""
        if self.labeller is None or self.current is None:
            return None
        return self._record([self.current], SKIP)

    def save_pending(self) -> bool:
        """Try again to save labels that could not be saved; True when none is left."""
        for image_id, (image, value, mask) in list(self._pending.items()):
            try:
                if mask is None:
                    self.labeller.assign(image, value)
                else:
                    self.labeller.set_mask(image, mask)
            except SaveError as err:
                self.events.message.emit(f"{err} ({len(self._pending)} label(s) not saved yet)")
                return False
            del self._pending[image_id]
        return True

    @property
    def pending(self) -> int:
        """Labels given but not saved yet (their folder could not be written)."""
        return len(self._pending)

    def _record(self, images: list[ProjectImage], value: str) -> ProjectImage | None:
        for image in images:
            self._pending[image.id] = (image, value, None)
        saved = self.save_pending()
        self._progress = None
        self.events.labels.emit()
        if saved:
            what = images[0].path.name if len(images) == 1 else f"{len(images)} images"
            self.events.message.emit(f"{what}: {value}")
        return self.step(+1) if self.advance else None

    # -- navigation

    def step(self, direction: int) -> ProjectImage | None:
        """The next (``+1``) or previous (``-1``) unlabelled image after the current one, in
        project order, wrapping around; None when every other image is labelled."""
        if self.labeller is None:
            return None
        images = self.labeller.images.images
        if not images:
            return None
        start = images.index(self.current) if self.current in images else \
            (-1 if direction > 0 else len(images))
        for k in range(1, len(images) + 1):
            image = images[(start + direction * k) % len(images)]
            if image != self.current and self.state_of(image) == UNLABELLED:
                return image
        self.events.message.emit(f"Every image of {self.labeller.project.name} has a label")
        return None

    def set_filter(self, name: str) -> None:
        """Which series to list: one of :attr:`FILTERS` (emits ``labels``)."""
        if name not in self.FILTERS:
            raise ValueError(f"unknown filter {name!r}; valid: {', '.join(self.FILTERS)}")
        self.filter = name
        self.events.labels.emit()

    def set_useful(self, ids: set[str] | None) -> None:
        """The images ranked most useful to label next (emits ``labels``)."""
        self.useful = ids
        self.events.labels.emit()

    def lists(self, images: list[ProjectImage]) -> bool:
        """Whether a series holding these project images is listed under :attr:`filter`
        (a series with none of the project's images only under "all"; "useful" lists the
        series holding an unlabelled image among :attr:`useful`, every series until ranked)."""
        if self.filter == "all" or self.labeller is None:
            return True
        if self.filter == "useful":
            return self.useful is None or any(
                im.id in self.useful and self.state_of(im) == UNLABELLED for im in images)
        unlabelled = [self.state_of(im) == UNLABELLED for im in images]
        return bool(images) and (any(unlabelled) if self.filter == "unlabelled"
                                 else not any(unlabelled))

    def state_of(self, image: ProjectImage) -> str:
        """``"labelled"``, ``"skipped"`` or ``"unlabelled"`` (a pending label counts)."""
        value = self.label_of(image)
        if not value:
            return UNLABELLED
        return LABELLED if value != SKIP else SKIPPED

    # -- masks (segmentation projects): the viewports' painter

    def press(self, frame, rc: tuple[float, float], erase: bool = False) -> None:
        """A brush (or eraser) stroke starts at ``rc`` on ``frame`` (a core Frame)."""
        self.show(frame.path, frame.index, frame.shape)
        if self.edit is None:
            self.events.message.emit("This image is not part of the labelling project"
                                     if self.current is None else
                                     "This image's mask cannot be edited (see the message above)")
            return
        self.edit.press(rc, erase)
        self.events.mask.emit()

    def drag(self, rc: tuple[float, float]) -> None:
        if self.edit is not None and self.edit.stroking:
            self.edit.drag(rc)
            self.events.mask.emit()

    def release(self) -> None:
        """The stroke ends: a changed mask is saved as DICOM SEG."""
        if self.edit is not None and self.edit.release():
            self._save_mask()

    def undo(self) -> None:
        """Take back the last stroke on the current image (and save the mask)."""
        if self.edit is not None and self.edit.undo():
            self._save_mask()

    def redo(self) -> None:
        if self.edit is not None and self.edit.redo():
            self._save_mask()

    def set_radius(self, radius: float) -> None:
        self.radius = max(0.5, float(radius))
        if self.edit is not None:
            self.edit.radius = self.radius

    def mask_rgba(self) -> np.ndarray | None:
        """The current mask in the project's colours (None when there is no mask to show)."""
        if self.edit is None or not self.edit.labels.any():
            return None
        colours = [tuple(int(s.colour[i:i + 2], 16) for i in (1, 3, 5))
                   for s in self.labeller.project.segments]
        return self.edit.rgba(colours)

    def _save_mask(self) -> None:
        image = self.current
        self._pending[image.id] = (image, MASK, self.edit.labels.copy())
        if self.save_pending():
            self.events.message.emit(f"{image.path.name}: mask saved")
        self._progress = None
        self.events.labels.emit()
        self.events.mask.emit()

    def _mask_for(self, image: ProjectImage | None, shape) -> MaskEdit | None:
        """The saved (or pending) mask of ``image`` to edit; a new empty one of ``shape``."""
        if image is None or shape is None:
            return None
        if image.id in self._pending and self._pending[image.id][2] is not None:
            return MaskEdit(self._pending[image.id][2], self.segment, self.radius)
        label = self.labeller.store.get(image.id)
        labels = np.zeros(shape, np.uint8)
        if label is not None and label.value == MASK:
            try:
                labels = load("medview.labels.seg").read_seg(self.labeller.mask_file(label)).labels
            except LabelsError as err:
                self.events.message.emit(f"{err}; the mask is kept and not edited here")
                return None
            if labels.shape != tuple(shape):
                self.events.message.emit(
                    f"{self.labeller.mask_file(label)}: the mask is {labels.shape[0]}×"
                    f"{labels.shape[1]} but its image is {shape[0]}×{shape[1]}; the mask is "
                    "kept and not edited here")
                return None
        return MaskEdit(labels, self.segment, self.radius)
