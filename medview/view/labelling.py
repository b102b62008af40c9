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
The other mask tools work the same way, each edit one undo step of the image it changed
and saved at once: the lasso (fill or erase inside an outline), a fill of the pixels
whose modality values (HU on CT) lie in :attr:`LabellingModel.value_range` (or a brush
kept to them), islands (keep the largest, remove the one clicked, remove small ones),
fill holes, a mask copied from a neighbouring slice, masks interpolated between labelled
slices of a series, and the AI segmenter's mask accepted as the image's label. Each
image keeps its undo history while the project is open. Segments can be hidden or made
more or less opaque (display only).

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
from medview.view import mask_tools
from medview.view.events import Events
from medview.view.mask_edit import BRUSH, ERASER, ISLAND, LASSO, LASSO_ERASER, MaskEdit

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
    value_range : tuple of float
        The range of modality values (e.g. HU) that "fill range" paints.
    limit_to_range : bool
        The brush and the lasso paint only pixels within :attr:`value_range`.
    hidden, opacity : set of int, dict of int to float
        Segments not shown; each segment's opacity (0–1, default :attr:`OPACITY`).
    min_island : int
        "Remove small islands" removes islands of fewer pixels than this.
    units : str
        Units of the modality values of the image on screen (``"HU"``; ``""`` unknown).
    """

    EVENTS = ("project", "current", "labels", "message", "mask")
    OPACITY = 0.5  #: a segment's opacity until the user changes it
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
        self.value_range, self.limit_to_range = (-100.0, 300.0), False
        self.min_island = 20
        self.hidden: set[int] = set()
        self.opacity: dict[int, float] = {}
        self.units = ""
        self._values = None  # () -> the modality values of the image on screen
        self._edits: dict[str, MaskEdit] = {}  # image id -> its mask, undo history kept
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
        self.hidden.clear()  # segment numbers mean another project's segments
        self.opacity.clear()
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
        self._edits.clear()
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
             shape: tuple[int, int] | None = None, values=None, units: str = "") -> None:
        """The viewer shows frame ``frame`` of ``path`` (None: nothing), ``shape`` (rows,
        cols) in size: a segmentation project loads its mask for editing. ``values``
        returns the frame's modality values (for the value range), in ``units``."""
        if values is not None:
            self._values, self.units = values, units
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

    def press(self, frame, rc: tuple[float, float], tool: str = BRUSH) -> None:
        """A press of mask tool ``tool`` at ``rc`` on ``frame`` (a core Frame): a brush or
        eraser stroke starts, a lasso starts or gets a corner, an island is removed."""
        self.show(frame.path, frame.index, frame.shape, frame.modality_values,
                  frame.params.units)
        edit = self._editable()
        if edit is None:
            return
        if tool == ISLAND:
            self.remove_island_at(rc)
            return
        edit.limit = self.range_mask() if self.limit_to_range else None
        if tool not in (LASSO, LASSO_ERASER):
            edit.cancel_lasso()  # a polygon left open under another tool would block undo
        if tool in (LASSO, LASSO_ERASER):
            edit.lasso_press(rc, erase=tool == LASSO_ERASER)
        else:
            edit.press(rc, erase=tool == ERASER)
        self.events.mask.emit()

    def drag(self, rc: tuple[float, float]) -> None:
        edit = self.edit
        if edit is not None and edit.stroking:
            edit.drag(rc)
        elif edit is not None and edit.lasso is not None:
            edit.lasso_drag(rc)
        else:
            return
        self.events.mask.emit()

    def release(self) -> None:
        """The button is up: a stroke or traced lasso that changed the mask is saved."""
        edit = self.edit
        if edit is None:
            return
        if edit.stroking:
            changed = edit.release()
        elif edit.lasso is not None:
            changed = edit.lasso_release()
        else:
            return
        self._saved_or_shown(changed)

    def finish(self) -> bool:
        """Close the polygon being clicked (double click, Enter); False if there is none."""
        if self.edit is None or self.edit.lasso is None:
            return False
        self._saved_or_shown(self.edit.close_lasso())
        return True

    def cancel(self) -> bool:
        """Drop the polygon being clicked (Escape); False if there is none."""
        if self.edit is None or not self.edit.cancel_lasso():
            return False
        self.events.mask.emit()
        return True

    def undo(self) -> None:
        """Take back the last edit of the current image (and save the mask)."""
        if self.edit is not None and self.edit.undo():
            self._save_mask()

    def redo(self) -> None:
        if self.edit is not None and self.edit.redo():
            self._save_mask()

    # -- whole-mask tools (each one undo step, saved at once)

    def range_mask(self) -> np.ndarray | None:
        """Pixels of the image on screen within :attr:`value_range` (None, said in a
        message: the image has no single modality value per pixel, e.g. a colour one)."""
        values = self._values() if self._values is not None else None
        if values is None or values.ndim != 2:
            self._say("This image has no modality values (HU) to keep to")
            return None
        return mask_tools.in_range(values, *self.value_range)

    def set_range(self, lo: float, hi: float, limit: bool | None = None) -> None:
        """The value range (modality units); ``limit``: keep the brush and lasso to it."""
        self.value_range = (float(lo), float(hi))
        if limit is not None:
            self.limit_to_range = bool(limit)

    def fill_range(self) -> None:
        """Paint the segment wherever the image's values lie in :attr:`value_range`."""
        where = self.range_mask() if self._editable() is not None else None
        if where is not None:
            self.edit.limit = None
            self._saved_or_shown(self.edit.fill(where))
            lo, hi = self.value_range
            self._say(f"{int(where.sum())} pixels within {lo:g}–{hi:g} {self.units}".rstrip())

    def keep_largest(self) -> None:
        """Keep only the segment's largest island."""
        self._segment_edit(lambda seg: seg & ~mask_tools.largest_island(seg), 0)

    def remove_small(self, min_pixels: int) -> None:
        """Remove the segment's islands of fewer than ``min_pixels`` pixels."""
        self._segment_edit(lambda seg: mask_tools.small_islands(seg, int(min_pixels)), 0)

    def fill_holes(self) -> None:
        """Fill the background enclosed by the segment."""
        self._segment_edit(mask_tools.holes, self.segment, only_background=True)

    def remove_island_at(self, rc: tuple[float, float]) -> None:
        """Remove the island (of whichever segment) under ``rc``."""
        if self._editable() is None:
            return
        labels = self.edit.labels
        r, c = int(round(rc[0])), int(round(rc[1]))
        inside = 0 <= r < labels.shape[0] and 0 <= c < labels.shape[1]
        k = int(labels[r, c]) if inside else 0
        if not k:
            self._say("No island under the pointer")
            return
        self._saved_or_shown(self.edit.fill(mask_tools.island_at(labels == k, rc), erase=True))

    def paste(self, labels: np.ndarray) -> None:
        """Make ``labels`` (e.g. the mask of the slice before) the current image's mask."""
        if self._editable() is None:
            return
        if labels.shape != self.edit.labels.shape:
            self._say(f"The mask is {labels.shape[0]}×{labels.shape[1]} but this image is "
                      f"{self.edit.labels.shape[0]}×{self.edit.labels.shape[1]}")
            return
        self._saved_or_shown(self.edit.apply(labels))

    def accept(self, mask: np.ndarray, mask_values: dict[int, str]) -> None:
        """Make an AI segmentation the current image's label: a class named like one of
        the project's segments (case ignored) becomes that segment, any other the
        segment chosen now. Segments the AI mask does not give are kept."""
        if self._editable() is None:
            return
        if mask.shape != self.edit.labels.shape:
            self._say(f"The AI mask is {mask.shape[0]}×{mask.shape[1]} but this image is "
                      f"{self.edit.labels.shape[0]}×{self.edit.labels.shape[1]}")
            return
        numbers = {name.lower(): n for n, name in enumerate(self.class_names, 1)}
        to = {v: numbers.get(name.lower(), self.segment) for v, name in mask_values.items()}
        labels = self.edit.labels.copy()
        labels[np.isin(labels, list(to.values()))] = 0
        for v, k in to.items():
            labels[mask == v] = k
        self._saved_or_shown(self.edit.apply(labels))
        self._say("AI mask accepted: " + ", ".join(
            f"{name} → {self.class_names[to[v] - 1]}" for v, name in mask_values.items()))

    def interpolate(self, slices: list[tuple[ProjectImage | None, tuple[int, int]]]) -> int:
        """Fill the empty slices between labelled ones by shape-based interpolation.

        ``slices`` are a series' frames in order: each its project image (None: not in
        the project, which ends a run) and size. Slices already holding a mask are kept.
        Returns how many slices were filled (each is one undo step of its image).
        """
        if not self.segmenting:
            return 0
        maps = [self._labels_of(im, shape) if im is not None else None for im, shape in slices]
        filled = 0
        known = [i for i, m in enumerate(maps) if m is not None and m.any()]
        for i, j in zip(known, known[1:]):
            gap = range(i + 1, j)
            if not gap or any(maps[m] is None for m in gap) or maps[i].shape != maps[j].shape:
                continue
            for m in gap:
                if maps[m].shape == maps[i].shape:
                    t = (m - i) / (j - i)
                    filled += self._store_edit(slices[m][0],
                                               mask_tools.interpolate(maps[i], maps[j], t))
        self._say(f"{filled} slice(s) interpolated" if filled else
                  "Nothing to interpolate: label two slices with empty slices between them")
        self.events.mask.emit()
        return filled

    # -- helpers of the tools

    def _editable(self) -> MaskEdit | None:
        if self.edit is None:
            self._say("This image is not part of the labelling project" if self.current is None
                      else "This image's mask cannot be edited (see the message above)")
        return self.edit

    def _segment_edit(self, where_of, value: int, only_background: bool = False) -> None:
        """Set ``where_of(the segment's mask)`` to ``value``, one undo step."""
        if self._editable() is None:
            return
        labels = self.edit.labels.copy()
        where = where_of(labels == self.segment)
        if only_background:
            where &= labels == 0
        labels[where] = value
        changed = self.edit.apply(labels)
        self._saved_or_shown(changed)
        if not changed:
            self._say("The mask did not change")

    def _saved_or_shown(self, changed: bool) -> None:
        if changed:
            self._save_mask()
        else:
            self.events.mask.emit()

    def _say(self, text: str) -> None:
        self.events.message.emit(text)

    def _labels_of(self, image: ProjectImage, shape) -> np.ndarray | None:
        """The mask of ``image`` (edited, pending or saved; empty if none)."""
        edit = self._mask_for(image, shape)
        return edit.labels if edit is not None else None

    def _store_edit(self, image: ProjectImage, new: np.ndarray) -> int:
        """Give ``image`` the mask ``new`` as one undo step and save it; 1 if it changed."""
        if not self._edits[image.id].apply(new):
            return 0
        self._save_mask(image)
        return 1

    def set_radius(self, radius: float) -> None:
        self.radius = max(0.5, float(radius))
        if self.edit is not None:
            self.edit.radius = self.radius

    def set_visible(self, segment: int, visible: bool) -> None:
        """Show or hide segment ``segment`` (from 1) over the image (display only)."""
        (self.hidden.discard if visible else self.hidden.add)(segment)
        self.events.mask.emit()

    def set_opacity(self, segment: int, opacity: float) -> None:
        """Segment ``segment``'s opacity over the image, 0–1 (display only)."""
        self.opacity[segment] = min(1.0, max(0.0, float(opacity)))
        self.events.mask.emit()

    def mask_rgba(self) -> np.ndarray | None:
        """The current mask in the project's colours, each segment at its opacity (hidden
        ones clear); None when there is nothing to show."""
        if self.edit is None or not (self.edit.labels.any() or self.edit.lasso):
            return None
        colours = [tuple(int(s.colour[i:i + 2], 16) for i in (1, 3, 5))
                   for s in self.labeller.project.segments]
        alphas = [0 if k in self.hidden else round(255 * self.opacity.get(k, self.OPACITY))
                  for k in range(1, len(colours) + 1)]
        return self.edit.rgba(colours, alphas)

    def _save_mask(self, image: ProjectImage | None = None) -> None:
        """Save the edited mask of ``image`` (default the current one) as DICOM SEG."""
        image = image or self.current
        self._pending[image.id] = (image, MASK, self._edits[image.id].labels.copy())
        if self.save_pending():
            self.events.message.emit(f"{image.path.name}: mask saved")
        self._progress = None
        self.events.labels.emit()
        self.events.mask.emit()

    def _mask_for(self, image: ProjectImage | None, shape) -> MaskEdit | None:
        """The mask of ``image`` being edited (with its undo history), else its saved (or
        pending) mask, else a new empty one of ``shape``; brush as chosen now."""
        if image is None or shape is None:
            return None
        edit = self._edits.get(image.id)
        if edit is None or edit.labels.shape != tuple(shape):
            edit = self._load_edit(image, shape)
            if edit is None:
                return None
            self._edits[image.id] = edit
        edit.segment, edit.radius = self.segment, self.radius
        return edit

    def _load_edit(self, image: ProjectImage, shape) -> MaskEdit | None:
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
