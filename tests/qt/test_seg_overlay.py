"""A study opened with a DICOM SEG made by medview's writer: the SEG is drawn over the frame
it references (segment colours, names, toggles, opacity), not over the others."""

from __future__ import annotations

import numpy as np
import pydicom

from tests.helpers.pacs import make_study
from tests.helpers.qt import grab_array, wait_loaded, wait_shown
from tests.helpers.seg_files import write_test_seg


def _pixel(vp, rc) -> np.ndarray:
    """The rendered colour at image point ``rc`` (row, col), as int RGB."""
    vp.repaint()
    p = vp.model.rc_to_widget(rc)
    return grab_array(vp)[int(p[1]), int(p[0])].astype(int)


def test_a_seg_in_the_study_folder_is_shown_over_its_frame(window, qtbot, tmp_path):
    images = make_study(tmp_path / "study", n=4)  # two series: ct0, ct2 | ct1, ct3
    mask = write_test_seg(images[2], tmp_path / "study" / "ai_seg.dcm")
    window.open_paths([tmp_path / "study"])
    wait_loaded(qtbot, window, n_series=2)
    assert len(window.library.series()) == 2 and not window.library.skipped
    qtbot.waitUntil(lambda: window.segs_dock.isVisible())
    vp = window.grid.active
    target = pydicom.dcmread(images[2]).SOPInstanceUID
    series = next(s for s in window.library.series()
                  if any(f.header.SOPInstanceUID == target for f in s.frames))
    index = next(i for i, f in enumerate(series.frames) if f.header.SOPInstanceUID == target)
    window.grid.show_series(series, vp, index=1 - index)  # the other frame first
    wait_shown(qtbot, vp)
    assert "seg" not in vp.model.layers
    lesion = (int(np.argwhere(mask == 1).mean(0)[0]), int(np.argwhere(mask == 1).mean(0)[1]))
    plain = _pixel(vp, lesion)

    vp.model.set_index(index)
    wait_shown(qtbot, vp)
    (layer,) = vp.model.layers_shown()
    assert np.array_equal(layer.rgba[..., 3] > 0, mask > 0) and layer.opacity == 0.6
    assert layer.caption == "SEG: AI lesion-demo 0.1"
    shown = _pixel(vp, lesion)
    # CT_small is grey: the lesion's magenta (#ff4fd8) lifts red and blue above green
    assert shown[0] - shown[1] > 40 and shown[2] - shown[1] > 30 and plain[0] == plain[1]

    panel = window.segs
    names = [panel.segments.item(i).text() for i in range(panel.segments.count())]
    assert names == ["AI lesion-demo 0.1", "lesion", "organ"]  # the SEG, then its segments
    panel.segments.item(1).setCheckState(panel.segments.item(1).checkState().Unchecked)
    (layer,) = vp.model.layers_shown()
    assert np.array_equal(layer.rgba[..., 3] > 0, mask == 2)
    assert np.array_equal(_pixel(vp, lesion), plain)
    panel.opacity.setValue(25)
    assert vp.model.layers["seg"].opacity == 0.25
    panel.show_check.setChecked(False)
    assert vp.model.layers_shown() == []
    panel.show_check.setChecked(True)
    vp.model.set_index(1 - index)
    assert vp.model.layers_shown() == []
