"""Zoom after a layout change, and what "Smooth interpolation" does to rendered pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QMouseEvent

from tests.helpers.qt import grab_array
from tests.helpers.qt_input import mouse


def _whole_image_visible(vp) -> bool:
    cols, rows = vp.model.image_size()
    shown = vp.transform().mapRect(QRectF(0, 0, cols, rows))
    return (shown.left() >= -0.5 and shown.top() >= -0.5
            and shown.right() <= vp.width() + 0.5 and shown.bottom() <= vp.height() + 0.5)


def test_layout_change_refits_a_zoomed_view(qtbot, window, ct_view):
    vp = ct_view
    vp.model.zoom_by(1.6)
    assert not _whole_image_visible(vp)  # zoomed in: a crop
    window.viewer_actions.layouts["2x2"].trigger()
    qtbot.waitUntil(lambda: vp.width() < window.grid.width() * 0.6)
    assert vp.model.camera.fit and _whole_image_visible(vp)
    m = vp.model
    assert m.scale() == pytest.approx(m.camera.fit_scale(*m.image_size(), vp.width(), vp.height()))
    vp.model.zoom_by(2.0)
    window.viewer_actions.layouts["1x1"].trigger()
    qtbot.waitUntil(lambda: vp.width() > window.grid.width() * 0.9)
    assert vp.model.camera.fit and _whole_image_visible(vp)


def test_a_click_without_moving_keeps_the_view_fitted(qtbot, window, ct_view):
    vp = ct_view
    centre = QPointF(vp.width() / 2, vp.height() / 2)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, centre, Qt.MouseButton.LeftButton,
          Qt.MouseButton.LeftButton)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, centre, Qt.MouseButton.LeftButton,
          Qt.MouseButton.NoButton)
    assert vp.model.camera.fit  # so a resize still refits
    mouse(vp, QMouseEvent.Type.MouseButtonPress, centre, Qt.MouseButton.LeftButton,
          Qt.MouseButton.LeftButton)
    mouse(vp, QMouseEvent.Type.MouseMove, centre + QPointF(30, 0), Qt.MouseButton.NoButton,
          Qt.MouseButton.LeftButton)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, centre + QPointF(30, 0),
          Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    assert not vp.model.camera.fit and vp.model.camera.pan_x == 30


def _grey(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_Grayscale8)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, :w].copy()


def _centre_crop_and_source(vp, half: int = 40):
    """The grabbed centre of the viewport and the displayed values of the image pixels under it."""
    vp.repaint()
    shot = grab_array(vp)
    cy, cx = vp.height() // 2, vp.width() // 2
    rgb = shot[cy - half: cy + half, cx - half: cx + half]
    assert (rgb[..., 0] == rgb[..., 1]).all()  # greyscale CT, no overlay text here
    crop = rgb[..., 0]
    r0, c0 = vp.widget_to_rc(QPointF(cx - half, cy - half))
    r1, c1 = vp.widget_to_rc(QPointF(cx + half, cy + half))
    source = _grey(vp.render_image())
    region = source[int(r0) - 1: int(r1) + 3, int(c0) - 1: int(c1) + 3]
    return crop, set(np.unique(region).tolist())


@pytest.mark.parametrize("zoom", [1.5, 4.0, 8.0])
def test_smooth_interpolation_at_every_zoom(qtbot, window, ct_view, zoom):
    vp = ct_view
    vp.model.actual_size()
    vp.model.zoom_by(zoom)
    assert vp.model.zoom_percent() == pytest.approx(zoom)
    window.smooth_action.setChecked(False)
    crop, source = _centre_crop_and_source(vp)
    assert set(np.unique(crop).tolist()) <= source  # off: only the image's own values
    window.smooth_action.setChecked(True)
    crop, source = _centre_crop_and_source(vp)
    between = set(np.unique(crop).tolist()) - source
    assert len(between) >= 5  # on: values interpolated between neighbouring pixels
