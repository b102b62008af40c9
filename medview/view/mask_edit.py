"""Painting a label mask without Qt: brush and eraser strokes, undo and redo.

A :class:`MaskEdit` is the mask of one image while it is edited: a label map (0
background, k segment k of the project). A stroke is a press, drags and a release, in
image coordinates (row, col; pixel centres on integers, as
:meth:`~medview.view.model.ViewModel.widget_to_rc` gives them): every pixel whose centre
lies within the brush radius of the path is set to the segment (brush) or to 0 (eraser).
Each finished stroke that changed something is one undo step.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MaskEdit", "BRUSH", "ERASER"]

BRUSH, ERASER = "brush", "eraser"
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
        if not source or self.stroking:
            return False
        where, values = source.pop()
        flat = self.labels.ravel()  # a view: writes go to the mask
        target.append((where, flat[where].copy()))
        flat[where] = values
        return True

    # -- display

    def rgba(self, colours: list[tuple[int, int, int]], alpha: int = 255) -> np.ndarray:
        """The mask as an RGBA layer: segment k in ``colours[k - 1]``, background clear."""
        table = np.zeros((256, 4), np.uint8)
        for k, (r, g, b) in enumerate(colours[:255], 1):
            table[k] = (r, g, b, alpha)
        return table[self.labels]

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
        self.labels[r0:r1, c0:c1][dist2 <= r * r] = self._value
