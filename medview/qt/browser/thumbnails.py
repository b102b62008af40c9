"""Series thumbnails, rendered in a pool thread (QImage is thread-safe, QPixmap is not)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage


def render_thumbnail(frame, size: int = 96) -> QImage | None:
    """The frame in its default window, scaled to fit ``size``×``size`` (pool thread)."""
    from medview.core import pixels

    stored = frame.stored()
    buf = pixels.FrameRenderer(stored, frame.params).render()
    h, w = buf.shape[:2]
    if buf.ndim == 3:
        img = QImage(buf.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    else:
        img = QImage(buf.data, w, h, w, QImage.Format.Format_Grayscale8)
    # scaled() returns an image owning its pixels, so `buf` may be freed after
    return img.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                      Qt.TransformationMode.SmoothTransformation).convertToFormat(
        QImage.Format.Format_RGB32)
