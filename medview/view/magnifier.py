"""The magnifying glass, without Qt: where the loupe is and how the image maps into it.

The loupe is a disc centred on the pointer showing the view ``factor`` times larger
about that point, with the view's rotation and flips. Its transform maps image
coordinates into the widget like the view's own, so the widget draws the full
resolution rendered image through it (not the minified copy on screen), and a pixel
seen in the loupe is the pixel under the pointer.
"""

from __future__ import annotations

from dataclasses import dataclass

from medview.view.camera import Affine, Point

FACTORS = (2.0, 4.0, 8.0)   #: a click steps through these
RADIUS = 90.0               #: logical pixels


@dataclass(frozen=True)
class Loupe:
    """Attributes: ``centre`` (widget point), ``radius`` (logical px), ``factor``
    (relative to the view), ``transform`` (image → widget inside the loupe) and
    ``screen_scale`` (physical screen pixels per image pixel in the loupe)."""

    centre: Point
    radius: float
    factor: float
    transform: Affine
    screen_scale: float


def next_factor(factor: float) -> float:
    """The factor after ``factor`` in :data:`FACTORS` (wrapping round)."""
    bigger = [f for f in FACTORS if f > factor + 1e-9]
    return bigger[0] if bigger else FACTORS[0]


def loupe(model, pos: Point | None, radius: float = RADIUS) -> Loupe | None:
    """The loupe of ``model`` (a :class:`~medview.view.model.ViewModel`) at widget
    point ``pos``, or None when there is no pointer or no image under it."""
    if pos is None or model.frame is None:
        return None
    cols, rows = model.image_size()
    x, y = model.widget_to_image(pos)
    if not (0 <= x <= cols and 0 <= y <= rows):
        return None
    f = model.magnifier_factor
    about = Affine.translate(-pos[0], -pos[1]).then(Affine.scale(f, f)).then(
        Affine.translate(pos[0], pos[1]))
    return Loupe(pos, radius, f, model.transform().then(about),
                 model.scale() * f * model.canvas.dpr)
