"""MPR on synthetic CT series with known geometry (tests/helpers/volumes.py writes real DICOM).

Every voxel's value is a function of its patient position, so a plane's pixels can be
checked against a plain numpy reslice of the written array and against the function at
``plane.to_patient(row, col)``.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from medview.core import mpr
from medview.core.io.folder import load_paths
from medview.core.volume import NotAVolume, Volume, refusal
from tests.helpers.volumes import (INTERCEPT, SPHERE_CENTRE, SPHERE_RADIUS, ct_value, resample_rows,
                           write_ct)

# A non-identity orientation: the slices turned 25° about an oblique axis.
TURN = mpr.rotation_about((1.0, 0.3, 0.2), 25.0)
ORIENTATIONS = {"straight": ((1, 0, 0), (0, 1, 0)), "turned": (TURN[:, 0], TURN[:, 1])}


def build(folder) -> Volume:
    (series,) = load_paths([folder]).series()
    return Volume.from_series(series)


@pytest.fixture(scope="module", params=sorted(ORIENTATIONS))
def case(request, tmp_path_factory):
    row, col = ORIENTATIONS[request.param]
    written = write_ct(tmp_path_factory.mktemp(request.param), row=row, col=col)
    return request.param, written, build(written.folder)


def plane_points(plane: mpr.PlaneImage) -> np.ndarray:
    """Patient position of every pixel, (rows, cols, 3), from the plane's geometry."""
    rows, cols = np.mgrid[0:plane.pixels.shape[0], 0:plane.pixels.shape[1]]
    s, p = plane.spacing_mm, plane.plane
    return p.origin + cols[..., None] * s * p.row_cosine + rows[..., None] * s * p.col_cosine


def numpy_reslice(written, points: np.ndarray) -> np.ndarray:
    """Trilinear samples of the written slices at patient points (nan outside), computed
    from the files' own geometry, not from the Volume."""
    normal = np.cross(written.row, written.col)
    rel = points - written.positions[0]
    span = float((written.positions[-1] - written.positions[0]) @ normal)
    step = span / (len(written.stored) - 1)
    coords = [rel @ normal / step, rel @ written.col / written.spacing[0],
              rel @ written.row / written.spacing[1]]
    data = written.stored.astype(float)
    inside = np.ones(points.shape[:-1], bool)
    lo, w = [], []
    for c, n in zip(coords, data.shape):
        inside &= (c > -1e-3) & (c < n - 1 + 1e-3)  # headers hold 6 decimals
        c = np.clip(c, 0, n - 1)
        base = np.minimum(np.floor(c).astype(int), n - 2)
        lo.append(base)
        w.append(c - base)
    out = np.zeros(points.shape[:-1])
    for dk in (0, 1):
        for di in (0, 1):
            for dj in (0, 1):
                weight = ((w[0] if dk else 1 - w[0]) * (w[1] if di else 1 - w[1])
                          * (w[2] if dj else 1 - w[2]))
                out += weight * data[lo[0] + dk, lo[1] + di, lo[2] + dj]
    return np.where(inside, out, np.nan)


def away_from_sphere(points: np.ndarray, margin: float = 2.0) -> np.ndarray:
    d = np.linalg.norm(points - SPHERE_CENTRE, axis=-1)
    return np.abs(d - SPHERE_RADIUS) > margin


# ----------------------------------------------------------------------------- building


def test_volume_takes_spacing_and_orientation_from_headers(case):
    name, written, vol = case
    assert refusal(load_paths([written.folder]).series()[0]) is None
    assert vol.shape == (40, 64, 64) and vol.notes == ()
    np.testing.assert_allclose(vol.spacing, (2.5, 0.7, 0.7), atol=1e-6)
    np.testing.assert_allclose(vol.axes, [np.cross(written.row, written.col), written.col,
                                          written.row], atol=1e-6)
    np.testing.assert_allclose(vol.origin, written.positions[0], atol=1e-5)
    np.testing.assert_array_equal(vol.data, written.stored)
    kij = np.array([[3, 10, 50], [39.5, 0.25, 7]])
    np.testing.assert_allclose(vol.patient_to_voxel(vol.voxel_to_patient(kij)), kij, atol=1e-9)


# ----------------------------------------------------------------------------- planes


def test_straight_coronal_and_sagittal_equal_a_numpy_reslice(tmp_path):
    written = write_ct(tmp_path / "ct")
    vol = build(written.folder)
    # coronal: array rows (y) across, head up (slices reversed), slices 2.5 -> 0.7 mm
    coronal = vol.plane("coronal", vol.positions("coronal")[20])
    expected = resample_rows(written.stored[::-1, 20, :], 2.5, 0.7)
    assert coronal.pixels.shape == expected.shape == (140, 64)
    assert np.abs(coronal.pixels - expected).max() <= 1
    sagittal = vol.plane("sagittal", vol.positions("sagittal")[40])
    # sagittal: normal -x, so the 41st ascending position is column 63 - 40
    expected = resample_rows(written.stored[::-1, :, 63 - 40], 2.5, 0.7)
    assert np.abs(sagittal.pixels - expected).max() <= 1
    assert coronal.spacing_mm == sagittal.spacing_mm == pytest.approx(0.7)


@pytest.mark.parametrize("kind", mpr.KINDS)
def test_every_plane_equals_a_numpy_reslice_at_its_patient_points(case, kind):
    name, written, vol = case
    plane = vol.plane(kind, vol.positions(kind)[len(vol.positions(kind)) // 3])
    points = plane_points(plane)
    expected = numpy_reslice(written, points)
    assert not np.isnan(expected).any()  # orthogonal planes lie inside the block
    assert np.abs(plane.pixels - expected).max() <= 1
    # the linear ramp interpolates exactly: the values are the function at to_patient
    hu = plane.pixels.astype(float) + INTERCEPT
    keep = away_from_sphere(points)
    assert np.abs(hu - ct_value(points))[keep].max() <= 1
    # square pixels at the finest spacing; the screen axes follow the radiological view
    assert plane.spacing_mm == pytest.approx(0.7)
    right, down = (np.array(v) for v in mpr._SCREEN[kind])
    assert plane.plane.row_cosine @ right > 0.8 and plane.plane.col_cosine @ down > 0.8


def test_a_patient_point_lands_on_the_same_voxel_in_every_plane(case):
    name, written, vol = case
    voxel = vol.patient_to_voxel(SPHERE_CENTRE)
    layer = np.array([2.5, 0.7, 0.7]) / 2 + 1e-6
    for kind in mpr.KINDS:
        plane = vol.plane(kind, vol.position_of(kind, SPHERE_CENTRE))
        row, col, distance = plane.from_patient(SPHERE_CENTRE)
        back = plane.to_patient(row, col) + distance * plane.normal
        np.testing.assert_allclose(back, SPHERE_CENTRE, atol=1e-9)
        # the plane is the voxel layer nearest the point
        assert abs(distance) <= layer.max()
        np.testing.assert_allclose(vol.patient_to_voxel(plane.to_patient(row, col)), voxel,
                                   atol=0.5 + 1e-6)
        # the sphere is drawn around that pixel (its edge is placed to within half a
        # slice gap where the 2.5 mm slices are interpolated)
        hu = plane.pixels.astype(float) + INTERCEPT
        blob = np.argwhere(hu - plane_points(plane) @ np.array([20.0, -12.0, 8.0]) > 400)
        np.testing.assert_allclose(blob.mean(axis=0), (row, col), atol=1.25 / 0.7)


def test_oblique_plane_samples_the_volume_where_it_says(case):
    name, written, vol = case
    turn = mpr.rotation_about((0, 0, 1), 30) @ mpr.rotation_about((1, 0, 0), 20)
    plane = vol.plane("coronal", vol.position_of("coronal", SPHERE_CENTRE, turn), rotation=turn)
    np.testing.assert_allclose(plane.normal, turn @ vol.plane("coronal").normal, atol=1e-9)
    row, col, distance = plane.from_patient(SPHERE_CENTRE)
    assert abs(distance) < 1e-9
    points = plane_points(plane)
    expected = numpy_reslice(written, points)
    inside = ~np.isnan(expected)
    assert inside.mean() > 0.4
    # OpenCV's bilinear weights are 1/32 steps: a fraction of a stored unit on this ramp,
    # a few units across the sphere's edge
    voxels = vol.patient_to_voxel(points)
    within = np.all((voxels > 0.01) & (voxels < np.array(vol.shape) - 1.01), axis=-1)
    diff = np.abs(plane.pixels - expected)[within & away_from_sphere(points)]
    assert diff.max() <= 2
    assert plane.pixels[round(row), round(col)] + INTERCEPT > ct_value(SPHERE_CENTRE) - 50
    far = np.any((voxels < -1.01) | (voxels > np.array(vol.shape) + 0.01), axis=-1)
    assert far.any() and np.all(plane.pixels[far] == vol.fill)


@pytest.mark.parametrize("turn", [mpr.rotation_about((0, 0, 1), 40),     # k constant on rows
                                  mpr.rotation_about((1, 1, 0), 3),      # nearly a slice
                                  mpr.rotation_about((0, 1, 1), 70)])
def test_oblique_sampling_in_runs_of_slices(case, turn, monkeypatch):
    name, written, vol = case
    whole = vol.plane("axial", 1.0, rotation=turn)
    monkeypatch.setattr(mpr, "_REMAP_LIMIT", 64 * 6)   # runs of 5 slice pairs, not 1
    runs = vol.plane("axial", 1.0, rotation=turn)
    assert np.abs(runs.pixels.astype(int) - whole.pixels).max() <= 1
    points = plane_points(whole)
    expected = numpy_reslice(written, points)
    voxels = vol.patient_to_voxel(points)
    within = np.all((voxels > 0.01) & (voxels < np.array(vol.shape) - 1.01), axis=-1)
    assert within.mean() > 0.2
    assert np.abs(runs.pixels - expected)[within & away_from_sphere(points)].max() <= 2


def test_identity_rotation_gives_the_orthogonal_plane(case):
    name, written, vol = case
    flat = vol.plane("sagittal", vol.position_of("sagittal", SPHERE_CENTRE))
    turned = vol.plane("sagittal", flat.position_mm, rotation=np.eye(3))
    np.testing.assert_allclose(turned.plane.row_cosine, flat.plane.row_cosine, atol=1e-12)
    np.testing.assert_allclose(turned.plane.col_cosine, flat.plane.col_cosine, atol=1e-12)
    np.testing.assert_allclose(turned.plane.origin, flat.plane.origin, atol=1e-9)
    assert turned.pixels.shape == flat.pixels.shape
    assert np.abs(turned.pixels.astype(int) - flat.pixels).max() <= 1


@pytest.mark.parametrize("mode,reduce", [("mip", np.max), ("minip", np.min),
                                         ("avg", np.mean)])
def test_thick_slab(tmp_path_factory, mode, reduce):
    written = write_ct(tmp_path_factory.mktemp("slab"))
    vol = build(written.folder)
    k = int(np.argmin(np.abs((written.positions - SPHERE_CENTRE)[:, 2])))
    slab = vol.plane("axial", vol.position_of("axial", SPHERE_CENTRE), slab_mm=10, mode=mode)
    expected = reduce(written.stored[k - 2:k + 3].astype(float), axis=0)  # ±5 mm = ±2 layers
    assert np.abs(slab.pixels - expected).max() <= 0.5 + 1e-9
    thin = vol.plane("axial", slab.position_mm)
    np.testing.assert_array_equal(thin.pixels, written.stored[k])
    assert slab.plane.origin == pytest.approx(thin.plane.origin)


def test_oblique_slab_is_the_max_of_parallel_planes(case):
    name, written, vol = case
    turn = mpr.rotation_about((0, 1, 0), 35)
    thin = [vol.plane("axial", d, rotation=turn) for d in (-0.7, 0.0, 0.7)]
    slab = vol.plane("axial", 0.0, slab_mm=1.4, mode="mip", rotation=turn)
    assert np.abs(slab.pixels - np.max([t.pixels for t in thin], axis=0)).max() <= 1


def test_positions_and_plane_snap_to_layers(case):
    name, written, vol = case
    for kind in mpr.KINDS:
        positions = vol.positions(kind)
        assert np.all(np.diff(positions) > 0)
        assert vol.plane(kind, positions[7] + 0.2).position_mm == pytest.approx(positions[7])
        assert vol.plane(kind, positions[-1] + 99).position_mm == pytest.approx(positions[-1])
        middle = vol.plane(kind)
        assert middle.position_mm == pytest.approx(positions[len(positions) // 2])
    with pytest.raises(ValueError, match="choose from"):
        vol.plane("oblique")
    with pytest.raises(ValueError, match="rotation"):
        vol.plane("axial", rotation=np.diag([1.0, 1.0, -1.0]))


# ----------------------------------------------------------------------------- departures


def test_the_volume_and_the_pixel_cache_hold_one_copy_of_the_slices(tmp_path):
    written = write_ct(tmp_path / "ct", slices=8)
    (series,) = load_paths([written.folder]).series()
    cache = series.frames[0].cache
    vol = Volume.from_series(series)
    held = cache.nbytes
    for frame in series.frames:
        stored = frame.stored()  # from the cache: a slice of the volume, no decode
        assert np.shares_memory(stored, vol.data) and not stored.flags.writeable
        np.testing.assert_array_equal(stored, pydicom.dcmread(frame.path).pixel_array)
    assert cache.nbytes == held


def test_gantry_tilt_is_corrected_by_resampling(tmp_path):
    tilt = np.radians(15)
    written = write_ct(tmp_path / "tilt", row=(1, 0, 0), col=(0, np.cos(tilt), -np.sin(tilt)),
                       stack=(0, 0, 1))
    (series,) = load_paths([written.folder]).series()
    vol = Volume.from_series(series)
    # the volume's slices were shifted: the decoded frames stay as they are
    assert not any(np.shares_memory(f.stored(), vol.data) for f in series.frames)
    assert vol.notes == ("gantry tilt 15.0°: slices shifted into line (resampled)",)
    assert vol.spacing[0] == pytest.approx(2.5 * np.cos(tilt))
    for kind in ("coronal", "sagittal"):
        plane = vol.plane(kind, vol.position_of(kind, SPHERE_CENTRE))
        points = plane_points(plane)
        covered = scanned(written, points) & away_from_sphere(points)
        # the corrected block keeps the middle slice's frame: the ends lose a margin
        voxels = vol.patient_to_voxel(points)
        covered &= np.all((voxels[..., 1:] >= 1) & (voxels[..., 1:] <= 62), axis=-1)
        assert covered.mean() > 0.5
        hu = plane.pixels.astype(float) + INTERCEPT
        assert np.abs(hu - ct_value(points))[covered].max() <= 1.5
        row, col, _ = plane.from_patient(SPHERE_CENTRE)
        assert hu[round(row), round(col)] > ct_value(SPHERE_CENTRE) - 50


def scanned(written, points: np.ndarray) -> np.ndarray:
    """Points a pixel or more inside the written slices' own frames (slices whose
    positions advance linearly, along any direction)."""
    normal = np.cross(written.row, written.col)
    advance = written.positions[1] - written.positions[0]
    k = (points - written.positions[0]) @ normal / (advance @ normal)
    rel = points - (written.positions[0] + k[..., None] * advance)
    i, j = rel @ written.col / written.spacing[0], rel @ written.row / written.spacing[1]
    n = written.stored.shape
    return (k >= 0) & (k <= n[0] - 1) & (i >= 1) & (i <= n[1] - 2) & (j >= 1) & (j <= n[2] - 2)


def test_uneven_spacing_is_resampled_and_reported(tmp_path):
    written = write_ct(tmp_path / "gap", skip={17})
    vol = build(written.folder)
    assert vol.notes == ("uneven slice spacing 2.50–5.00 mm: resampled to 2.50 mm",)
    assert vol.shape == (40, 64, 64)
    axial = vol.plane("axial", vol.positions("axial")[17])
    points = plane_points(axial)
    hu = axial.pixels.astype(float) + INTERCEPT
    keep = away_from_sphere(points)
    assert np.abs(hu - ct_value(points))[keep].max() <= 1  # interpolated in place


def test_slices_with_their_own_rescale_become_modality_values(tmp_path):
    written = write_ct(tmp_path / "rescale", slices=6)
    for n, path in enumerate(sorted(written.folder.iterdir())):
        if n % 2:
            ds = pydicom.dcmread(path)
            ds.RescaleIntercept = -1000
            ds.PixelData = (ds.pixel_array - 24).astype(np.int16).tobytes()
            ds.save_as(path)
    vol = build(written.folder)
    assert (vol.params.slope, vol.params.intercept) == (1.0, 0.0)
    np.testing.assert_array_equal(vol.data, written.stored.astype(int) + INTERCEPT)


def _refusal(folder) -> str:
    """The reason from_series gives, which the header-only check gives too."""
    (series,) = load_paths([folder]).series()
    with pytest.raises(NotAVolume) as info:
        Volume.from_series(series)
    assert refusal(series) == info.value.reason
    return info.value.reason


def test_refuses_too_few_slices(tmp_path):
    written = write_ct(tmp_path / "two", slices=2)
    assert _refusal(written.folder) == ("not a volume: 2 image(s); MPR needs at least 3 "
                                        "parallel slices")


def test_refuses_mixed_orientation(tmp_path):
    written = write_ct(tmp_path / "mixed", slices=8)
    write_ct(written.folder, slices=1, row=(0, 1, 0), col=(0, 0, -1), start=50,
             join=written.folder / "IM0000.dcm")
    reason = _refusal(written.folder)
    assert reason.startswith("not a volume: the images have different orientations")


def test_refuses_images_at_the_same_position(tmp_path):
    written = write_ct(tmp_path / "phases", slices=5)
    write_ct(written.folder, slices=5, start=50, join=written.folder / "IM0000.dcm")
    assert "images at the same position" in _refusal(written.folder)


def test_refuses_mixed_sizes(tmp_path):
    written = write_ct(tmp_path / "sizes", slices=5)
    write_ct(written.folder, slices=1, size=32, start=50, join=written.folder / "IM0000.dcm")
    assert _refusal(written.folder).startswith("not a volume: images of different sizes")


def test_refuses_images_without_position(tmp_path):
    written = write_ct(tmp_path / "nopos", slices=4)
    path = sorted(written.folder.iterdir())[2]
    ds = pydicom.dcmread(path)
    del ds.ImagePositionPatient
    ds.save_as(path)
    assert "has no position in the patient" in _refusal(written.folder)


def test_refuses_spacing_too_uneven_to_resample(tmp_path):
    written = write_ct(tmp_path / "uneven", slices=4, gaps=[0.5, 30.0, 30.0])
    assert _refusal(written.folder) == "not a volume: slice spacing varies from 0.50 to 30.00 mm"
