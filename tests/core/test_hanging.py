"""Hanging protocols: the layout a study opens in, from the shipped rules and the user's.

Real studies from pydicom's DICOMDIR test set (a 3-view cervical-spine CR study, a CT
study with a scout and a 5-slice volume, a CT head whose slices are not a volume, MR
localisers), plus studies generated from real files (a prior radiograph study, an MR
study with T1/T2/FLAIR/DWI series) and a synthetic CT volume written as DICOM.
"""

from __future__ import annotations

import json

import pydicom
import pytest
from pydicom.uid import generate_uid

from medview.core.hanging import NO_PROTOCOL, choose_layout, prior_studies
from medview.core.hanging_protocols import (ProtocolError, default_protocols, load_protocols,
                                            read_protocols, user_protocols_path)
from medview.core.io.folder import load_paths
from tests.helpers.datafiles import PYDICOM_TEST_DIR
from tests.helpers.volumes import write_ct

DICOMDIR_TESTS = PYDICOM_TEST_DIR / "dicomdirtests"
CR_PATIENT = DICOMDIR_TESTS / "77654033"       # CR C-spine 2001 + CT head 1995
CT_MR_PATIENT = DICOMDIR_TESTS / "98892001"    # CT: scout + 5-slice volume
MR_PATIENT = DICOMDIR_TESTS / "98892003"       # MR: localisers, pilots, angio


def _studies(*folders):
    library = load_paths(folders)
    return [st for p in library.patients for st in p.studies]


def _study(studies, description):
    return next(s for s in studies if s.description == description)


def _cells(layout):
    return [(c.series.description, c.plane, c.study) if c else None for c in layout.cells]


def _copy(src, folder, name, **attributes):
    """A copy of a real file as a new instance with ``attributes`` changed."""
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / name)


def test_the_shipped_protocols_parse():
    names = [p.name for p in default_protocols()]
    assert names == ["Radiograph: current beside prior", "CT volume: axial, coronal, sagittal",
                     "MR: T1, T2, FLAIR, diffusion", "Series of the study"]


def test_a_radiograph_without_prior_shows_two_of_its_views():
    studies = _studies(CR_PATIENT)
    layout = choose_layout([_study(studies, "XR C Spine Comp Min 4 Views")] + studies)
    assert (layout.protocol, layout.rows, layout.cols) == ("Radiograph: current beside prior",
                                                           1, 2)
    assert _cells(layout) == [("Cervical LAT", None, "current"),
                              ("Cervical OBLI 1", None, "current")]


def test_a_radiograph_hangs_beside_the_same_view_of_the_patients_prior(tmp_path):
    cr = CR_PATIENT / "CR1" / "6154"      # Cervical LAT, ViewPosition LL, 2001-01-01
    oblique = CR_PATIENT / "CR2" / "6247"  # Cervical OBLI 1, ViewPosition AP
    prior_uid, later_uid = generate_uid(), generate_uid()
    # The prior (1999) has its AP first in display order; the LAT matches the current LAT.
    _copy(oblique, tmp_path / "prior", "ap", StudyInstanceUID=prior_uid, StudyDate="19990101",
          SeriesInstanceUID=generate_uid(), SeriesNumber=1, StudyDescription="prior C-spine")
    _copy(cr, tmp_path / "prior", "lat", StudyInstanceUID=prior_uid, StudyDate="19990101",
          SeriesInstanceUID=generate_uid(), SeriesNumber=2, SeriesDescription="C-spine lateral",
          StudyDescription="prior C-spine")
    # A later study is not a prior; another patient's study never is.
    _copy(cr, tmp_path / "later", "lat", StudyInstanceUID=later_uid, StudyDate="20050101",
          SeriesInstanceUID=generate_uid(), StudyDescription="later C-spine")
    _copy(cr, tmp_path / "stranger", "lat", StudyInstanceUID=generate_uid(),
          StudyDate="20000101", PatientID="OTHER", SeriesInstanceUID=generate_uid(),
          StudyDescription="someone else")
    studies = _studies(CR_PATIENT, tmp_path)
    current = _study(studies, "XR C Spine Comp Min 4 Views")
    assert [s.description for s in prior_studies(current, studies)] == [
        "prior C-spine", "CT, HEAD/BRAIN WO CONTRAST"]
    layout = choose_layout([current] + studies)
    assert (layout.rows, layout.cols) == (1, 2)
    assert _cells(layout) == [("Cervical LAT", None, "current"),
                              ("C-spine lateral", None, "prior")]
    assert layout.cells[1].series.study.uid == prior_uid


def test_a_ct_volume_hangs_in_three_planes():
    studies = _studies(CT_MR_PATIENT)
    (ct,) = studies
    layout = choose_layout([ct])
    assert (layout.protocol, layout.rows, layout.cols) == (
        "CT volume: axial, coronal, sagittal", 1, 3)
    volume = "SmartScore - Gated 0.5 sec"   # the scout (2 images) is not a volume
    assert _cells(layout) == [(volume, "axial", "current"), (volume, "coronal", "current"),
                              (volume, "sagittal", "current")]


def test_a_ct_that_is_not_a_volume_shows_its_series():
    studies = _studies(CR_PATIENT)
    head = _study(studies, "CT, HEAD/BRAIN WO CONTRAST")  # 4 slices, 1.25 to 202.5 mm apart
    layout = choose_layout([head] + studies)
    assert (layout.protocol, layout.rows, layout.cols) == ("Series of the study", 1, 1)
    assert _cells(layout) == [("Routine Brain", None, "current")]


def test_the_ct_volume_with_most_images_is_chosen(tmp_path):
    write_ct(tmp_path / "thick", slices=4, size=16, step=5.0)
    write_ct(tmp_path / "thin", slices=12, size=16, step=1.25)
    write_ct(tmp_path / "tilted", slices=20, size=16, stack=(0.0, 0.3, 1.0))  # gantry tilt
    study_uid = generate_uid()
    for number, name in enumerate(("thick", "thin", "tilted"), 1):
        for path in (tmp_path / name).glob("*.dcm"):
            ds = pydicom.dcmread(path)
            ds.StudyInstanceUID, ds.SeriesNumber, ds.SeriesDescription = study_uid, number, name
            ds.save_as(path)
    (study,) = _studies(tmp_path)
    assert [s.description for s in study.series] == ["thick", "thin", "tilted"]
    layout = choose_layout([study])
    # the tilted stack is corrected by MPR, so it is a volume too, and the largest
    assert _cells(layout) == [("tilted", "axial", "current"), ("tilted", "coronal", "current"),
                              ("tilted", "sagittal", "current")]


def _mr_study(folder, descriptions):
    src = PYDICOM_TEST_DIR / "MR_small.dcm"
    study_uid = generate_uid()
    for number, description in descriptions:
        _copy(src, folder, f"{number}.dcm", StudyInstanceUID=study_uid,
              SeriesInstanceUID=generate_uid(), SeriesNumber=number,
              SeriesDescription=description, StudyDescription="MR brain")
    (study,) = _studies(folder)
    return study


def test_mr_series_hang_by_description(tmp_path):
    study = _mr_study(tmp_path, [(1, "3-plane LOCALIZER"), (2, "Ax DWI b1000"),
                                 (3, "AX T2 FLAIR"), (4, "ax t2 tse"), (5, "t2* gre"),
                                 (6, "Sag T1 SE"), (7, "AX T1 post")])
    layout = choose_layout([study])
    assert (layout.protocol, layout.rows, layout.cols) == ("MR: T1, T2, FLAIR, diffusion", 2, 2)
    assert _cells(layout) == [("Sag T1 SE", None, "current"), ("ax t2 tse", None, "current"),
                              ("AX T2 FLAIR", None, "current"), ("Ax DWI b1000", None, "current")]


def test_mr_with_three_of_four_leaves_a_cell_empty_and_one_falls_through(tmp_path):
    three = _mr_study(tmp_path / "a", [(1, "T1 SE"), (2, "T2 TSE"), (3, "FLAIR")])
    layout = choose_layout([three])
    assert (layout.rows, layout.cols) == (2, 2) and layout.cells[3] is None
    one = _mr_study(tmp_path / "b", [(1, "LOCALIZER"), (2, "T1 SE"), (3, "spectroscopy")])
    layout = choose_layout([one])
    assert layout.protocol == "Series of the study"
    assert _cells(layout) == [("T1 SE", None, "current"), ("spectroscopy", None, "current")]
    localisers = _studies(MR_PATIENT)
    layout = choose_layout([_study(localisers, "Carotids")])
    assert _cells(layout) == [("FAST LOCALIZER", None, "current")]  # nothing else to show


def test_a_user_protocol_comes_first_and_replaces_a_default_by_name(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    mine = {"format": "medview-hanging-protocols", "version": 1, "protocols": [
        {"name": "C-spine: lateral alone", "match": {"modality": ["CR"], "body_part": "SPINE"},
         "layout": [1, 1], "viewports": [{"series": {"description": "LAT"}}]},
        {"name": "CT volume: axial, coronal, sagittal", "match": {"modality": ["CT"]},
         "layout": [2, 2], "viewports": [
             {"series": {"volume": True}, "plane": "sagittal", "required": True},
             {"series": {"same_as": 1}, "plane": "axial"}]}]}
    user_protocols_path(user).write_text(json.dumps(mine))
    protocols, notes = load_protocols(user)
    assert notes == []
    assert [p.name for p in protocols] == [
        "C-spine: lateral alone", "CT volume: axial, coronal, sagittal",
        "Radiograph: current beside prior", "MR: T1, T2, FLAIR, diffusion", "Series of the study"]
    cr_studies = _studies(CR_PATIENT)
    cr = _study(cr_studies, "XR C Spine Comp Min 4 Views")
    assert _cells(choose_layout([cr], protocols)) == [("Cervical LAT", None, "current")]
    (ct,) = _studies(CT_MR_PATIENT)
    layout = choose_layout([ct], protocols)
    assert (layout.rows, layout.cols) == (1, 2)
    assert [c.plane for c in layout.cells] == ["sagittal", "axial"]


@pytest.mark.parametrize("content, message", [
    ("{\"format\": \"medview-hanging-protocols\", \"version\": 1, \"protocols\": [",
     "not valid JSON at line 1, column 69"),
    (json.dumps({"format": "medview-hanging-protocols", "version": 1, "protocols": [
        {"name": "x", "layout": [1, 2], "viewports": [{}, {"series": {"like": 2}}]}]}),
     "protocols[0].viewports[1].series.like: must name an earlier viewport (1 to 1)"),
    (json.dumps({"format": "medview-hanging-protocols", "version": 1, "protocols": [
        {"name": "x", "layout": [1, 1], "viewports": [{"plane": "coronl"}]}]}),
     "protocols[0].viewports[0].plane: must be one of axial, coronal, sagittal (got "
     "'coronl'; did you mean 'coronal'?)"),
    (json.dumps({"format": "medview-hanging-protocols", "version": 1, "protocols": [
        {"name": "x", "layout": [1, 1], "viewports": [{"series": {"descripton": "T1"}}]}]}),
     "protocols[0].viewports[0].series.descripton: unknown field; did you mean 'description'?"),
    (json.dumps({"format": "medview-hanging-protocols", "version": 1, "protocols": [
        {"name": "x", "layout": [1, 1], "viewports": [{"series": {"description": "T1("}}]}]}),
     "protocols[0].viewports[0].series.description: not a regular expression"),
    (json.dumps({"format": "medview-hanging-protocols", "version": 1, "protocols": [
        {"name": "x", "layout": [1, 1], "viewports": [{}, {}]}]}),
     "protocols[0].viewports: must be a list of 1 to 1 viewports"),
    (json.dumps({"format": "medview-hanging-protocols", "version": 2, "protocols": []}),
     "version: 2 is newer than this medview reads (1)"),
])
def test_a_bad_user_file_is_one_line_and_the_defaults_apply(tmp_path, content, message):
    path = user_protocols_path(tmp_path)
    path.write_text(content)
    with pytest.raises(ProtocolError) as err:
        read_protocols(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)
    assert "\n" not in str(err.value)
    protocols, notes = load_protocols(tmp_path)
    assert [p.name for p in protocols] == [p.name for p in default_protocols()]
    assert notes == [f"{err.value}; using the default hanging protocols"]


def test_no_protocol_and_no_series(tmp_path):
    studies = _studies(CR_PATIENT)
    cr = _study(studies, "XR C Spine Comp Min 4 Views")
    assert choose_layout([cr], protocols=[]) == choose_layout([cr], protocols=[])
    layout = choose_layout([cr], protocols=[])
    assert layout.protocol == NO_PROTOCOL and _cells(layout) == [("Cervical LAT", None,
                                                                  "current")]


GRID = {"1x1": (1, 1), "1x2": (1, 2), "1x3": (1, 3), "2x2": (2, 2)}


def test_the_grid_plan_without_and_with_mpr_views():
    from medview.app.hanging import grid_plan

    (ct,) = _studies(CT_MR_PATIENT)
    layout = choose_layout([ct])
    volume = "SmartScore - Gated 0.5 sec"
    name, cells = grid_plan(layout, GRID)           # no MPR planes: the series' own images
    assert name == "1x1" and [(c.series.description, c.plane) for c in cells] == [(volume, None)]
    name, cells = grid_plan(layout, GRID, mpr=True)
    assert name == "1x3" and [(c.series.description, c.plane) for c in cells] == [
        (volume, "axial"), (volume, "coronal"), (volume, "sagittal")]
    name, _ = grid_plan(layout, {"1x1": (1, 1), "2x2": (2, 2)}, mpr=True)
    assert name == "2x2"  # no 1 × 3 grid: the smallest that holds three


def test_the_grid_plan_shows_planes_of_one_volume():
    from medview.app.hanging import grid_plan
    from medview.core.hanging import Cell, Layout

    (ct,) = _studies(CT_MR_PATIENT)
    scout, volume = sorted(ct.series, key=len)
    layout = Layout(2, 2, (Cell(volume, "sagittal"), Cell(scout, "coronal"), Cell(scout, "axial"),
                           Cell(volume, "axial")), "two volumes")
    name, cells = grid_plan(layout, GRID, mpr=True)
    # the first series with a plane is reformatted; the other shows its own images
    assert name == "2x2" and [(c.series, c.plane) for c in cells] == [
        (volume, "sagittal"), (scout, None), (volume, "axial")]


def test_opening_the_prior_after_the_current_still_hangs_the_current_first(tmp_path):
    from medview.app.hanging import hang

    _copy(CR_PATIENT / "CR1" / "6154", tmp_path / "prior", "lat", StudyInstanceUID=generate_uid(),
          StudyDate="19990101", SeriesInstanceUID=generate_uid(), StudyDescription="prior")
    studies = _studies(CR_PATIENT, tmp_path)
    prior = _study(studies, "prior")
    name, cells, protocol = hang(prior, studies, GRID)
    assert (name, protocol) == ("1x2", "Radiograph: current beside prior")
    assert [(c.series.study.description, c.series.description) for c in cells] == [
        ("XR C Spine Comp Min 4 Views", "Cervical LAT"), ("prior", "Cervical LAT")]
