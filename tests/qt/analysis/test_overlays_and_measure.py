"""Overlay layers and volumes: pure numpy, checked pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.geometry import Measurement
from medview.analysis import overlays
from medview.analysis.pool_jobs import Analysis, ResultCache, failure_text
from medview.analysis.measure import (format_area, format_volume, series_volume,
                                         slice_spacing)


def test_first_class_colour_is_the_theme_ai_colour():
    from medview.qt import theme

    assert overlays.CLASS_COLOURS[0] == theme.AI_OVERLAY
    assert overlays.class_colours([2, 1]) == {1: theme.AI_OVERLAY, 2: overlays.CLASS_COLOURS[1]}
    assert theme.MEASURE not in overlays.CLASS_COLOURS and theme.ROI not in overlays.CLASS_COLOURS


def test_mask_fill_and_outline():
    mask = np.zeros((10, 12), np.uint8)
    mask[2:8, 3:9] = 1
    mask[0:2, 0:2] = 2
    rgba = overlays.mask_rgba(mask, {1: "#ff0000", 2: "#00ff00"}, thickness=1)
    assert rgba.shape == (10, 12, 4) and rgba.dtype == np.uint8
    assert tuple(rgba[5, 5]) == (255, 0, 0, overlays.FILL_ALPHA)     # inside
    assert tuple(rgba[2, 5]) == (255, 0, 0, overlays.LINE_ALPHA)     # top edge
    assert rgba[9, 11, 3] == 0                                        # background
    assert tuple(rgba[0, 0, :3]) == (0, 255, 0)
    contour = overlays.mask_rgba(mask, {1: "#ff0000"}, contour_only=True, thickness=1)
    assert contour[5, 5, 3] == 0 and contour[2, 5, 3] == 255 and contour[7, 8, 3] == 255
    assert contour[0, 0, 3] == 0   # a class without a colour stays transparent
    inner = overlays.boundary(mask == 1, thickness=2)
    assert inner[3, 5] and not inner[4, 5]


def test_heatmap_is_transparent_where_evidence_is_weak():
    cam = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    rgba = overlays.heatmap_rgba(cam, floor=0.2, max_alpha=200)
    assert rgba[0, 0, 3] == 0 and rgba[9, 9, 3] == 200
    assert rgba[9, 9, 0] > 100 and rgba[9, 9, 2] < 50   # strong: red end of jet
    assert rgba[1, 0, 2] > 100                          # weak: blue end
    with pytest.raises(ValueError):
        overlays.heatmap_rgba(np.zeros((2, 2, 2)))


class _Frame:
    def __init__(self, z, key, header=None):
        from medview.core.geometry import ImagePlane, Spacing

        self.plane = None if z is None else ImagePlane(
            np.array([0.0, 0.0, z]), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]),
            Spacing(0.5, 0.5, "PixelSpacing"))
        self.key = key
        self._header = header or {}

    def get(self, keyword, default=None):
        return self._header.get(keyword, default)


def test_slice_spacing_from_positions_then_header():
    frames = [_Frame(z, i) for i, z in enumerate((10.0, 7.5, 5.0, 2.5))]
    sp = slice_spacing(frames)
    assert sp.mm == pytest.approx(2.5) and sp.source == "ImagePositionPatient"
    flat = [_Frame(None, i, {"SliceThickness": "3"}) for i in range(3)]
    assert slice_spacing(flat).source == "SliceThickness"
    assert slice_spacing([_Frame(None, 0)] * 2) is None


def test_series_volume_is_sum_of_areas_times_spacing():
    frames = [_Frame(z, i) for i, z in enumerate((0.0, 2.0, 4.0))]
    areas = {0: {"lesion": Measurement(100.0, "mm²", "PixelSpacing")},
             1: {"lesion": Measurement(300.0, "mm²", "PixelSpacing")}}
    vol = series_volume(frames, areas)
    assert not vol.complete and vol.slices_used == 2
    assert vol.mm3["lesion"] == pytest.approx(800.0)
    areas[2] = {"lesion": Measurement(600.0, "mm²", "PixelSpacing")}
    vol = series_volume(frames, areas)
    assert vol.complete and vol.mm3["lesion"] == pytest.approx(2000.0)
    assert format_volume(vol.mm3["lesion"]) == "2.0 mL" and format_volume(850) == "850 mm³"
    px = {0: {"lesion": Measurement(10.0, "px²", "uncalibrated")}}
    assert "not calibrated" in series_volume(frames, px).reason
    assert format_area(Measurement(1234.56, "mm²", "")) == "1,234.6 mm²"


def test_cache_is_bounded_and_lru():
    cache = ResultCache(max_bytes=3 * 1024 + 100)

    class R:
        mask = None

    for i in range(5):
        cache.put((i,), Analysis(R()))
    assert len(cache) == 3 and cache.get((0,)) is None and cache.get((4,)) is not None


def test_messages_are_one_line():
    from medview.core.errors import ReadError
    from medview.inference.manifest import ManifestError

    assert failure_text(ManifestError("m", "input.size", "bad\nvalue")) == \
        "model 'm' field 'input.size': bad value"
    assert failure_text(ReadError("/x/y.dcm", "truncated")) == "y.dcm: truncated"
    assert failure_text(RuntimeError("boom")) == "RuntimeError: boom"
    # expected errors are recognised by their base class, never by a class name
    from medview.inference.engines.base import EngineError
    from medview.inference.preprocess import PreprocessError

    assert failure_text(PreprocessError("no pixel data")) == "no pixel data"
    assert failure_text(EngineError("onnxruntime:\ncannot load")) == "onnxruntime: cannot load"
