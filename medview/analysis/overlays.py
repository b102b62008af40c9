"""Analysis results as RGBA layers for the viewport: mask fills, contours, heat maps.

Pure numpy (no Qt, no OpenCV). Each function returns a ``(rows, cols, 4)`` uint8 RGBA
array at the frame's size for :meth:`medview.view.model.ViewModel.set_image_overlay`,
which paints it in image coordinates (so it follows zoom, pan, rotation and flips) and
applies the opacity slider as a global opacity: changing the opacity never recomputes
a layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

#: Segmentation class colours, in mask-value order. The first is the theme's
#: ``AI_OVERLAY`` magenta (model output is never mistaken for a measurement, which is
#: yellow, or an ROI, which is green); the others stay clear of those two as well.
CLASS_COLOURS = ("#ff4fd8", "#00e5ff", "#ff6b3d", "#b388ff", "#c6ff00", "#ffffff",
                 "#2979ff", "#ff1744")

FILL_ALPHA = 140     #: inside a segmented region (before the opacity slider)
LINE_ALPHA = 255     #: its outline


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` → ``(r, g, b)``."""
    c = colour.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"expected #rrggbb, got {colour!r}")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def class_colours(values: Iterable[int], palette: Sequence[str] = CLASS_COLOURS
                  ) -> dict[int, str]:
    """A colour per mask value (sorted values take the palette in order, cycling)."""
    return {v: palette[i % len(palette)] for i, v in enumerate(sorted(values))}


def default_thickness(shape: tuple[int, ...]) -> int:
    """Outline width in image pixels: 1 up to 768 px, wider on large images so that
    an outline still shows when a large radiograph is shown minified."""
    return max(1, int(round(max(shape[:2]) / 768)))


def _shifted_or(a: np.ndarray) -> np.ndarray:
    """``a`` or'ed with its 4-neighbour shifts (one step of a cross-shaped dilation)."""
    out = a.copy()
    out[1:] |= a[:-1]
    out[:-1] |= a[1:]
    out[:, 1:] |= a[:, :-1]
    out[:, :-1] |= a[:, 1:]
    return out


def boundary(mask: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Foreground pixels (mask != 0) next to a pixel of another value, or on the image edge.

    Parameters
    ----------
    mask : numpy.ndarray
        (rows, cols) integer labels; 0 is background.
    thickness : int
        Width of the outline in pixels, measured inwards.

    Returns
    -------
    numpy.ndarray
        bool (rows, cols).
    """
    m = np.asarray(mask)
    edge = np.zeros(m.shape, bool)
    np.not_equal(m[1:], m[:-1], out=edge[1:])
    edge[:-1] |= edge[1:]                      # both sides of a vertical step...
    horiz = m[:, 1:] != m[:, :-1]
    edge[:, 1:] |= horiz
    edge[:, :-1] |= horiz                      # ...and of a horizontal one
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] = edge[:, -1] = True
    for _ in range(max(1, int(thickness)) - 1):
        edge = _shifted_or(edge)
    return edge & (m != 0)


def mask_rgba(mask: np.ndarray, colours: dict[int, str], contour_only: bool = False,
              thickness: int | None = None, fill_alpha: int = FILL_ALPHA,
              line_alpha: int = LINE_ALPHA) -> np.ndarray:
    """A label mask as an RGBA layer: each class in its colour, outlined.

    Parameters
    ----------
    mask : numpy.ndarray
        (rows, cols) uint8 labels, 0 = background (transparent).
    colours : dict of int to str
        Mask value → ``"#rrggbb"``; values without a colour stay transparent.
    contour_only : bool
        Outlines only (the image inside stays visible).
    thickness : int, optional
        Outline width; default :func:`default_thickness`.

    Returns
    -------
    numpy.ndarray
        uint8 (rows, cols, 4), not premultiplied.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"expected a (rows, cols) mask, got shape {m.shape}")
    m = m.astype(np.uint8, copy=False)
    fill = np.zeros((256, 4), np.uint8)
    line = np.zeros((256, 4), np.uint8)
    for value, colour in colours.items():
        if 0 < int(value) < 256:
            fill[int(value)] = (*hex_rgb(colour), 0 if contour_only else fill_alpha)
            line[int(value)] = (*hex_rgb(colour), line_alpha)
    # One 32-bit lookup per pixel (4 bytes at once), then the outline pixels only.
    out = np.take(fill.view(np.uint32).ravel(), m)
    edge = boundary(m, thickness or default_thickness(m.shape))
    values = m[edge]
    out[edge] = np.take(line.view(np.uint32).ravel(), values)
    return out.view(np.uint8).reshape(*m.shape, 4)


def jet(n: int = 256) -> np.ndarray:
    """The classic "jet" colour map (blue → cyan → yellow → red), (n, 3) uint8."""
    x = np.linspace(0.0, 1.0, n)
    r = np.clip(1.5 - np.abs(4.0 * x - 3.0), 0.0, 1.0)
    g = np.clip(1.5 - np.abs(4.0 * x - 2.0), 0.0, 1.0)
    b = np.clip(1.5 - np.abs(4.0 * x - 1.0), 0.0, 1.0)
    return np.round(np.stack([r, g, b], axis=1) * 255).astype(np.uint8)


_JET = jet()


HEATMAP_MAX_SIDE = 1024


def heatmap_rgba(cam: np.ndarray, floor: float = 0.15, max_alpha: int = 200,
                 max_side: int = HEATMAP_MAX_SIDE) -> np.ndarray:
    """A classifier's heat map in [0, 1] as an RGBA layer: jet colours, weak evidence transparent.

    Parameters
    ----------
    cam : numpy.ndarray
        float (rows, cols) in [0, 1].
    floor : float
        Values at or below it are fully transparent; above it the alpha rises
        linearly to ``max_alpha`` at 1, so the anatomy under weak evidence shows.
    max_side : int
        A larger map is subsampled to at most this many pixels a side (a heat map
        is upsampled from a few feature cells, so nothing is lost; the viewport
        stretches the layer over the image).
    """
    c = np.asarray(cam)
    if c.ndim != 2:
        raise ValueError(f"expected a (rows, cols) map, got shape {c.shape}")
    step = max(1, -(-max(c.shape) // max_side))
    c = np.array(c[::step, ::step], dtype=np.float32)  # a copy: changed in place below
    np.nan_to_num(c, copy=False, nan=0.0)
    np.clip(c, 0.0, 1.0, out=c)
    c *= 255.0
    c += 0.5
    index = c.astype(np.uint8)
    level = np.arange(256, dtype=np.float32) / 255.0
    lut = np.empty((256, 4), np.uint8)
    lut[:, :3] = _JET
    lut[:, 3] = np.round(np.clip((level - floor) / max(1e-6, 1.0 - floor), 0.0, 1.0)
                         * max_alpha).astype(np.uint8)
    out = np.take(lut.view(np.uint32).ravel(), index)
    return out.view(np.uint8).reshape(*index.shape, 4)


FILL, CONTOUR, HEAT = "fill", "contour", "heat"


def layer_for(analysis, mode: str | None) -> np.ndarray | None:
    """The overlay layer of an analysis (see :class:`medview.analysis.pool_jobs.Analysis`).

    ``mode`` is :data:`FILL` or :data:`CONTOUR` for a segmentation mask, :data:`HEAT`
    for a classifier's heat map; None (or a mode the result has no data for) gives None.
    """
    r = analysis.result
    if mode in (FILL, CONTOUR) and getattr(r, "mask", None) is not None:
        return mask_rgba(r.mask, class_colours(r.mask_values), contour_only=mode == CONTOUR)
    if mode == HEAT and analysis.heatmap is not None:
        return heatmap_rgba(analysis.heatmap)
    return None


def legend_gradient(width: int = 256) -> np.ndarray:
    """A (1, width, 3) strip of the heat-map colours, low to high (for the legend)."""
    return jet(width)[None]
