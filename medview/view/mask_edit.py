"""Painting a label mask without Qt: brush and eraser strokes, undo and redo.

A :class:`MaskEdit` is the mask of one image while it is edited: a label map (0
background, k segment k of the project). A stroke is a press, drags and a release, in
image coordinates (row, col; pixel centres on integers, as
:meth:`~medview.view.model.ViewModel.widget_to_rc` gives them): every pixel whose centre
lies within the brush radius of the path is set to the segment (brush) or to 0 (eraser).
Each finished stroke that changed something is one undo step.

A lasso is drawn with the same press, drags and release: a press-drag-release traces a
freehand outline that is filled (or erased) on release; clicks without dragging place
the corners of a polygon that :meth:`MaskEdit.close_lasso` fills (a double click or
Enter in the viewer). Whole-mask operations (threshold, islands, holes, a mask copied
from another slice, an AI mask) go through :meth:`MaskEdit.apply`, one undo step each.
While :attr:`MaskEdit.limit` is set (a value range, see :mod:`medview.view.mask_tools`)
the brush and the lasso fill only paint pixels inside it.
"""

from __future__ import annotations

import numpy as np

from medview.core.imports import load
from medview.view import mask_tools

__all__ = ["MaskEdit", "BRUSH", "ERASER", "LASSO", "LASSO_ERASER", "ISLAND", "PAINT_TOOLS"]

BRUSH, ERASER = "brush", "eraser"
LASSO, LASSO_ERASER = "lasso", "lasso-eraser"
ISLAND = "island"  # a click removes the island under it
#: The viewer tools whose clicks and drags go to the painter.
PAINT_TOOLS = (BRUSH, ERASER, LASSO, LASSO_ERASER, ISLAND)
_LASSO_STEP = 0.5  # a traced outline takes a point every this many image pixels
#: Undo steps kept; each holds the changed pixels' old values only.
MAX_UNDO = 50


class MaskEdit:
    """The mask of one image being painted.

    Parameters
    ----------
    labels : numpy.ndarray
        The current mask (copied), uint8 ``(rows, cols)``.
    segment : int
        The segment the brush paints (from 1).
    radius : float
        Brush radius in image pixels.
    """

    def __init__(self, labels: np.ndarray, segment: int = 1, radius: float = 5.0) -> None:
        self.labels = np.array(labels, dtype=np.uint8, copy=True)
        self.segment = segment
        self.radius = float(radius)
        self._undo: list[tuple[np.ndarray, np.ndarray]] = []  # (changed flat indices, old values)
        self._redo: list[tuple[np.ndarray, np.ndarray]] = []
        self._before: np.ndarray | None = None
        self._last: tuple[float, float] | None = None
        self._value = 0
        #: Pixels the brush and lasso fill may paint (None: all), e.g. a HU range.
        self.limit: np.ndarray | None = None
        #: The lasso being drawn: its points (row, col), None when there is none.
        self.lasso: list[tuple[float, float]] | None = None
        self._lasso_erase = False
        self._traced = False

    # -- strokes

    def press(self, rc: tuple[float, float], erase: bool = False) -> None:
        """Start a stroke at ``rc``: paints (or erases) a disc there."""
        self._before = self.labels.copy()
        self._value = 0 if erase else self.segment
        self._last = rc
        self._paint(rc, rc)

    def drag(self, rc: tuple[float, float]) -> None:
        """Continue the stroke to ``rc`` (the whole segment from the last point is painted)."""
        if self._last is None:
            return
        self._paint(self._last, rc)
        self._last = rc

    def release(self) -> bool:
        """End the stroke; True when it changed the mask (then it is one undo step)."""
        if self._before is None:
            return False
        changed = np.flatnonzero(self._before != self.labels)
        if changed.size:
            self._undo.append((changed, self._before.ravel()[changed]))
            del self._undo[:-MAX_UNDO]
            self._redo.clear()
        self._before = self._last = None
        return bool(changed.size)

    @property
    def stroking(self) -> bool:
        return self._before is not None

    # -- whole-mask edits

    def apply(self, labels: np.ndarray) -> bool:
        """Make ``labels`` the mask, as one undo step; False when nothing changed."""
        if labels.shape != self.labels.shape:
            raise ValueError(f"a {labels.shape} mask cannot replace a {self.labels.shape} one")
        self._before = self.labels.copy()
        self.labels[...] = labels
        return self.release()

    def fill(self, where: np.ndarray, erase: bool = False) -> bool:
        """Paint the segment at ``where`` (or erase: set 0, as the eraser does), one undo
        step; painting keeps to :attr:`limit`."""
        labels = self.labels.copy()
        if erase:
            labels[where] = 0
        else:
            labels[where if self.limit is None else where & self.limit] = self.segment
        return self.apply(labels)

    # -- lasso

    def lasso_press(self, rc: tuple[float, float], erase: bool = False) -> None:
        """A press with a lasso tool: starts an outline, or adds a polygon corner."""
        if self.lasso is None:
            self.lasso, self._lasso_erase = [], erase
        self.lasso.append(rc)
        self._traced = False

    def lasso_drag(self, rc: tuple[float, float]) -> None:
        """The button is held and moved: the outline is traced freehand."""
        if self.lasso is None:
            return
        last = self.lasso[-1]
        if np.hypot(rc[0] - last[0], rc[1] - last[1]) >= _LASSO_STEP:
            self.lasso.append(rc)
            self._traced = True

    def lasso_release(self) -> bool:
        """The button is up: a traced outline is closed and filled (True when that changed
        the mask); after a click the polygon waits for more corners."""
        return self.close_lasso() if self._traced else False

    def close_lasso(self) -> bool:
        """Close the lasso and fill (or erase) inside it; True when the mask changed."""
        points, self.lasso, self._traced = self.lasso, None, False
        if not points or len(points) < 3:
            return False
        return self.fill(mask_tools.polygon(self.labels.shape, points), self._lasso_erase)

    def cancel_lasso(self) -> bool:
        """Drop the lasso being drawn; False when there was none."""
        had, self.lasso, self._traced = self.lasso is not None, None, False
        return had

    # -- undo

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Take back the last stroke; False when there is none."""
        return self._swap(self._undo, self._redo)

    def redo(self) -> bool:
        """Do the last undone stroke again; False when there is none."""
        return self._swap(self._redo, self._undo)

    def _swap(self, source: list, target: list) -> bool:
        if not source or self.stroking or self.lasso is not None:
            return False
        where, values = source.pop()
        flat = self.labels.ravel()  # a view: writes go to the mask
        target.append((where, flat[where].copy()))
        flat[where] = values
        return True

    # -- display

    def rgba(self, colours: list[tuple[int, int, int]], alpha: int | list[int] = 255
             ) -> np.ndarray:
        """The mask as an RGBA layer: segment k in ``colours[k - 1]`` with ``alpha`` (one
        for all, or one per segment; 0 hides it), background clear; the lasso being drawn
        as a one-pixel outline in the segment's colour."""
        alphas = alpha if isinstance(alpha, list) else [alpha] * len(colours)
        table = np.zeros((256, 4), np.uint8)
        for k, ((r, g, b), a) in enumerate(zip(colours[:255], alphas), 1):
            table[k] = (r, g, b, a)
        out = table[self.labels]
        if self.lasso and len(self.lasso) > 1:
            cv2 = load("cv2")
            xy = np.round(np.asarray(self.lasso)[:, ::-1]).astype(np.int32).reshape(-1, 1, 2)
            colour = colours[self.segment - 1] if self.segment <= len(colours) else (255,) * 3
            cv2.polylines(out, [xy], False, (*colour, 255), 1)
        return out

    # -- painting

    def _paint(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        """Set every pixel whose centre is within :attr:`radius` of segment ``a``–``b``."""
        rows, cols = self.labels.shape
        r = self.radius
        r0 = max(0, int(np.floor(min(a[0], b[0]) - r)))
        r1 = min(rows, int(np.ceil(max(a[0], b[0]) + r)) + 1)
        c0 = max(0, int(np.floor(min(a[1], b[1]) - r)))
        c1 = min(cols, int(np.ceil(max(a[1], b[1]) + r)) + 1)
        if r0 >= r1 or c0 >= c1:
            return
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
        dy, dx = b[0] - a[0], b[1] - a[1]
        length2 = dy * dy + dx * dx
        t = 0.0 if length2 == 0 else np.clip(((yy - a[0]) * dy + (xx - a[1]) * dx) / length2,
                                              0.0, 1.0)
        dist2 = (yy - (a[0] + t * dy)) ** 2 + (xx - (a[1] + t * dx)) ** 2
        inside = dist2 <= r * r
        if self._value and self.limit is not None:
            inside &= self.limit[r0:r1, c0:c1]
        self.labels[r0:r1, c0:c1][inside] = self._value
