"""Links between view models: who follows whom, and synchronised scrolling."""

from __future__ import annotations

import pytest

from medview.view.links import ScrollSync, ViewLink, same_frame_of_reference, same_study
from medview.view.model import ViewModel
from tests.helpers.series import CORONAL, load_series, write_series


def _view(series, index: int = 0) -> ViewModel:
    m = ViewModel()
    m.set_series(series, index)
    return m


@pytest.fixture
def thin_and_thick(tmp_path):
    """One frame of reference: 9 slices 1 mm apart from z = 0, 3 slices 3 mm apart from z = 1."""
    write_series(tmp_path / "thin", n=9, step_mm=1.0, study_uid="1.2.9")
    write_series(tmp_path / "thick", n=3, step_mm=3.0, origin=(0, 0, 1.0), study_uid="1.2.9")
    return load_series(tmp_path / "thin"), load_series(tmp_path / "thick")


def test_position_sync_shows_the_nearest_slice_in_each_peer(thin_and_thick):
    thin, thick = _view(thin_and_thick[0]), _view(thin_and_thick[1])
    link = ViewLink([thin, thick], rule=same_frame_of_reference)
    sync = ScrollSync(link, by="position")
    thin.set_index(4)                      # z = 4 mm
    assert thick.index == 1                # z = 4 mm
    thin.set_index(8)                      # z = 8 mm: nearest is z = 7
    assert thick.index == 2
    thick.set_index(0)                     # z = 1 mm, and back the other way
    assert thin.index == 1
    sync.enabled = False
    thin.set_index(6)
    assert thick.index == 0


def test_index_sync_keeps_the_offset_between_views(thin_and_thick):
    a, b = _view(thin_and_thick[0], 2), _view(thin_and_thick[0], 5)
    ScrollSync(ViewLink([a, b]), by="index")
    a.step(2)
    assert (a.index, b.index) == (4, 7)
    b.step(-6)
    assert (a.index, b.index) == (0, 1)


def test_views_outside_the_rule_or_stacked_otherwise_stay(tmp_path, thin_and_thick):
    write_series(tmp_path / "other_for", n=9, step_mm=1.0, frame_of_reference="9.9.9")
    write_series(tmp_path / "coronal", n=9, step_mm=1.0, orientation=CORONAL)
    thin = _view(thin_and_thick[0])
    other = _view(load_series(tmp_path / "other_for"), 3)
    coronal = _view(load_series(tmp_path / "coronal"), 3)
    link = ViewLink([thin, other], rule=same_frame_of_reference)
    ScrollSync(link)
    link.add(coronal)                      # joins later; same frame of reference, other normal
    thin.set_index(6)
    assert other.index == 3 and coronal.index == 3
    assert link.peers(thin) == [coronal]


def test_showing_another_series_scrolls_nobody(thin_and_thick):
    thin, thick = _view(thin_and_thick[0]), _view(thin_and_thick[1], 2)
    ScrollSync(ViewLink([thin, thick]))
    thin.set_series(thin_and_thick[0], index=0)
    assert thick.index == 2


def test_same_study(thin_and_thick, tmp_path):
    write_series(tmp_path / "elsewhere", n=2)
    a, b = _view(thin_and_thick[0]), _view(thin_and_thick[1])
    c = _view(load_series(tmp_path / "elsewhere"))
    assert same_study(a, b) and not same_study(a, c) and not same_study(a, ViewModel())
    with pytest.raises(ValueError, match="index, position"):
        ScrollSync(ViewLink(), by="time")
