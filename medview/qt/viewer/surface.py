"""Display buffers: the core's 8-bit rendering wrapped in a QImage without copying."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

# Qt paints 32-bit images several times faster than Grayscale8 (which it converts
# per output pixel). Expanding the 8-bit buffer costs one lookup pass, which pays
# off up to about a megapixel; larger images stay Grayscale8.
RGB32_MAX_PIXELS = 1 << 20
_GREY_TO_RGB32 = (np.arange(256, dtype=np.uint32) * 0x010101) | np.uint32(0xFF000000)


class Surface:
    """One reusable display buffer, re-rendered only when its key changes.

    ``update(renderer, window, invert, key)`` renders through the core's
    ``FrameRenderer.render(..., out=buffer)`` into memory the QImage wraps, so
    a new window costs one table lookup pass and no allocation.
    """

    def __init__(self) -> None:
        self.buf: np.ndarray | None = None     # 8-bit display values from the core
        self.rgb32: np.ndarray | None = None   # the same as 0xFFgggggg, for fast painting
        self.qimage: QImage | None = None
        self.key = None

    def clear(self) -> None:
        self.key = None

    def update(self, renderer, window, invert: bool, key) -> tuple[QImage, bool]:
        """The QImage for ``key`` and whether it had to be rendered now."""
        if self.key == key and self.qimage is not None:
            return self.qimage, False
        shape = tuple(renderer.shape)
        if self.buf is None or self.buf.shape != shape:
            self._allocate(shape)
        renderer.render(window, invert=invert, out=self.buf)
        if self.rgb32 is not None:
            np.take(_GREY_TO_RGB32, self.buf, out=self.rgb32)
        self.key = key
        return self.qimage, True

    def _allocate(self, shape: tuple[int, ...]) -> None:
        self.buf = np.empty(shape, np.uint8)
        self.rgb32 = None
        h, w = shape[:2]
        if len(shape) == 3:
            self.qimage = QImage(self.buf.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        elif h * w <= RGB32_MAX_PIXELS:
            self.rgb32 = np.empty((h, w), np.uint32)
            self.qimage = QImage(self.rgb32.data, w, h, 4 * w, QImage.Format.Format_RGB32)
        else:
            self.qimage = QImage(self.buf.data, w, h, w, QImage.Format.Format_Grayscale8)
