"""The viewport's corners as drawn: a long AI caption never overprints the zoom text."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter

from medview.qt.viewer.overlay import draw_corners
from medview.view.corners import CornerText

CAPTION = "AI demo-lesion-classifier 2.0.0 · onnxruntime fp32 · inside intended input · UNLIKE its training images"
MARGIN = 6  # of the corners, in draw_corners
RIGHT = ["W 3743  L 1917 DEFAULT", "Zoom 205%", "Imager (detector) 1.53 mm, mag-corrected"]


class Recorder:
    """A real painter that also keeps each block drawn (position, image), so the left
    corner's ink and the right corner's can be told apart."""

    def __init__(self, painter: QPainter) -> None:
        self.painter, self.blocks = painter, []

    def __getattr__(self, name):
        return getattr(self.painter, name)

    def drawImage(self, at, image):  # noqa: N802 - QPainter's name
        self.blocks.append((at, image.copy()))
        self.painter.drawImage(at, image)


def inks(text: CornerText, width: int = 460, height: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Where the left corners and the right corners put pixels in a ``width``×``height`` view."""
    canvas = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(Qt.GlobalColor.transparent)
    p = Recorder(QPainter(canvas))
    draw_corners(p, QRectF(0, 0, width, height), text)
    p.end()
    sides = np.zeros((2, height, width), bool)
    for at, img in p.blocks:
        img = img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
        a = a[:, :img.width(), 3] > 0  # device pixel ratio 1 here
        x, y = int(round(at.x())), int(round(at.y()))
        h, w = min(a.shape[0], height - y), min(a.shape[1], width - x)
        right = abs(at.x() + img.width() - (width - MARGIN)) < 1  # right-aligned blocks
        sides[int(right), y:y + h, x:x + w] |= a[:h, :w]
    return sides[0], sides[1]


def test_a_long_left_line_wraps_clear_of_the_right_corner(qapp):
    left, right = inks(CornerText([], [], [CAPTION, "Im 1/1  (#1)"], RIGHT))
    assert left.any() and right.any()
    assert not (left & right).any()
    rows = np.flatnonzero(left.any(axis=1))
    assert rows.max() - rows.min() > 40  # wrapped onto more rows than its two lines


def test_top_corners_stay_apart_too(qapp):
    left, right = inks(CornerText(["A VERY LONG PATIENT NAME^WITH MANY PARTS AND TITLES AND MORE", "ID 1"],
                                  ["2024-06-01 medview demo data (synthetic)", "#1 DX Synthetic chest PA"], [], []))
    assert left.any() and right.any()
    assert not (left & right).any()
