"""The shared preprocessing function: shapes, windows, geometry, filters, determinism."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from medview.core.io.folder import load_paths
from medview.core.pixels import Window
from medview.inference.manifest import ClaheSpec, DiffusionSpec, parse_manifest
from medview.inference.preprocess import (ImageContext, PreprocessError, anisotropic_diffusion,
                                          apply_clahe, frame_input, preprocess)
from tests.helpers.datafiles import find
from tests.helpers.builders import CLASSIFIER, manifest_data
from tests.helpers.diffusion_reference import ct_slice, reference_diffusion

RNG = np.random.default_rng(0)


def _manifest(channels: int = 1, size=(64, 64), normalise: bool = False, **pre):
    data = manifest_data(CLASSIFIER, input={"size": list(size), "channels": channels},
                         preprocessing={"window": "minmax", **pre})
    if not normalise:
        del data["normalisation"]
    return parse_manifest(data)


# ----------------------------------------------------------------------- shapes and colour

@pytest.mark.parametrize("shape", [(37, 91), (512, 300), (64, 64), (20, 20, 1)])
def test_grey_of_any_size_becomes_the_input_shape(shape):
    out = preprocess(RNG.normal(size=shape) * 1000, _manifest())
    assert out.image.shape == (1, 64, 64) and out.image.dtype == np.float32
    assert out.image.flags["C_CONTIGUOUS"]


def test_rgb_to_grey_model_uses_luma_and_grey_to_rgb_model_repeats():
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 1] = 200  # pure green
    grey = preprocess(rgb, _manifest(channels=1, size=(40, 40), window="auto"),
                      ImageContext(max_value=255))
    assert grey.image.shape == (1, 40, 40)
    assert np.allclose(grey.image, 0.587 * 200 / 255, atol=2e-3)  # BT.601 green weight
    rgba = np.concatenate([rgb, np.full((40, 40, 1), 7, np.uint8)], axis=2)
    colour = preprocess(rgba, _manifest(channels=3, size=(40, 40)), ImageContext(max_value=255))
    assert np.allclose(colour.image[1], 200 / 255) and np.allclose(colour.image[[0, 2]], 0)
    ramp = np.tile(np.arange(50.0), (30, 1))
    repeated = preprocess(ramp, _manifest(channels=3)).image
    assert repeated.shape == (3, 64, 64)
    assert np.array_equal(repeated[0], repeated[1]) and np.array_equal(repeated[0], repeated[2])


def test_normalisation_is_per_channel():
    data = manifest_data(CLASSIFIER, input={"size": [32, 32], "channels": 3},
                         normalisation={"mean": [0.5, 0.0, 1.0], "std": [0.5, 1.0, 2.0]},
                         preprocessing={"window": "minmax", "resize": "stretch"})
    img = preprocess(np.tile(np.linspace(0, 1, 32), (32, 1)), parse_manifest(data)).image
    unit = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    assert np.allclose(img[0], (unit - 0.5) / 0.5, atol=1e-5)
    assert np.allclose(img[2], (unit - 1.0) / 2.0, atol=1e-5)


@pytest.mark.parametrize("bad", [np.zeros((5, 5, 2)), np.zeros(10), np.zeros((1, 40)),
                                 np.array([["a", "b"], ["c", "d"]])])
def test_unusable_arrays_say_why(bad):
    with pytest.raises(PreprocessError):
        preprocess(bad, _manifest())


def test_identical_input_gives_identical_output_and_input_is_untouched():
    values = RNG.normal(size=(123, 77)) * 300
    before = values.copy()
    manifest = _manifest(crop={"kind": "center", "fraction": 0.9},
                         clahe={"clip_limit": 3.0}, diffusion={"iterations": 5})
    a, b = preprocess(values, manifest), preprocess(values.copy(), manifest)
    assert np.array_equal(a.image, b.image) and a.transform == b.transform
    assert np.array_equal(values, before)


# ----------------------------------------------------------------------- windows

def test_windows_follow_the_display_formula():
    hu = np.kron(np.array([[-1000.0, -600.0], [-150.0, 400.0]]), np.ones((8, 8)))  # 16x16
    ct = ImageContext(units="HU", modality="CT")
    size = {"size": (16, 16)}

    def corners(window, context=None):
        img = preprocess(hu, _manifest(window=window, **size), context).image[0]
        return img[::8, ::8]

    lung = corners("Lung", ct)
    assert lung[0, 1] == pytest.approx(0.5, abs=1e-3)  # centre -600 HU
    assert lung[0, 0] == pytest.approx((-1000 + 600.5) / 1499 + 0.5, abs=1e-6)
    assert corners({"center": 0, "width": 100}).tolist() == [[0.0, 0.0], [0.0, 1.0]]
    stored = ImageContext(windows=(Window(400, 101, name="W"),))
    # LINEAR (PS3.3 C.11.2.1.2.1): (x - (c - 0.5)) / (w - 1) + 0.5
    assert corners("stored", stored)[1, 1] == pytest.approx(0.505, abs=1e-6)
    assert corners("W", stored)[1, 1] == pytest.approx(0.505, abs=1e-6)  # stored, by name


def test_monochrome1_is_inverted_so_dense_is_bright():
    values = np.tile(np.arange(64.0), (64, 1))
    normal = preprocess(values, _manifest()).image
    inverted = preprocess(values, _manifest(), ImageContext(invert=True)).image
    assert np.allclose(inverted, 1.0 - normal)


def test_preset_missing_for_the_image_is_a_clear_error():
    with pytest.raises(PreprocessError, match="window preset 'Lung' is not available for this "
                                              "image \\(modality 'MR'"):
        preprocess(np.ones((8, 8)), _manifest(window="Lung"), ImageContext(modality="MR"))


def test_auto_window_ignores_outliers_and_flat_images_become_zero():
    values = np.tile(np.linspace(0, 100, 100), (100, 1))
    values[0, 0] = 1e6  # one hot pixel must not squash the contrast
    img = preprocess(values, _manifest(window="auto", resize="stretch", size=(100, 100))).image
    assert img[0, 50, 50] == pytest.approx(0.5, abs=0.02)
    flat = preprocess(np.full((30, 30), 42.0), _manifest(window="auto")).image
    assert not flat.any()


# ----------------------------------------------------------------------- geometry

def test_letterbox_keeps_aspect_and_pads_symmetrically():
    out = preprocess(np.ones((100, 50)), _manifest(window={"center": 0, "width": 1}))
    t = out.transform
    assert (t.resized, t.pad, t.crop) == ((64, 32), (0, 16), (0, 0, 100, 50))
    assert not out.image[0, :, :16].any() and out.image[0, :, 16:48].all()


@pytest.mark.parametrize("shape, crop", [((300, 200), None), ((90, 250), None),
                                         ((300, 200), {"kind": "center", "fraction": 0.8}),
                                         ((64, 64), None)])
def test_mask_round_trip_to_the_original_size(shape, crop):
    mask = np.zeros(shape, bool)
    r, c = shape
    mask[r // 4: 3 * r // 4, c // 3: 2 * c // 3] = True
    out = preprocess(mask.astype(float), _manifest(crop=crop, size=(128, 128)))
    on_input = out.image[0] > 0.5
    back = out.transform.to_original(on_input.astype(np.float32)) > 0.5
    assert back.shape == shape
    iou = (back & mask).sum() / (back | mask).sum()
    assert iou > 0.93, iou
    # No shift: the centroid comes back within a pixel.
    assert np.allclose(np.argwhere(back).mean(0), np.argwhere(mask).mean(0), atol=1.0)


@pytest.mark.parametrize("crop", [None, {"kind": "center", "fraction": 0.7}])
def test_target_masks_follow_the_image_geometry(crop):
    # A label mask mapped with to_input lands exactly where preprocess put the image.
    labels = np.zeros((150, 90), np.uint8)
    labels[30:100, 20:60] = 2
    labels[60:80, 30:50] = 1
    out = preprocess((labels > 0).astype(float), _manifest(crop=crop))
    target = out.transform.to_input(labels)
    assert target.shape == (64, 64) and target.dtype == np.uint8
    assert set(np.unique(target)) == {0, 1, 2}  # nearest neighbour: no blended classes
    image_fg = out.image[0] > 0.5
    assert ((target > 0) == image_fg).mean() > 0.97
    assert not target[:, :out.transform.pad[1]].any()  # letterbox bars are background
    with pytest.raises(ValueError, match="expected the image's"):
        out.transform.to_input(labels[:-1])


def test_to_original_fills_outside_the_crop_per_channel():
    out = preprocess(np.ones((100, 100)), _manifest(crop={"kind": "center", "fraction": 0.5}))
    maps = np.stack([np.zeros((64, 64)), np.ones((64, 64))])
    back = out.transform.to_original(maps, fill=[1.0, 0.0])
    assert back.shape == (2, 100, 100)
    assert back[0, 0, 0] == 1.0 and back[1, 0, 0] == 0.0  # outside: the fill
    assert back[0, 50, 50] == 0.0 and back[1, 50, 50] == 1.0  # inside: the maps
    with pytest.raises(ValueError, match="input size"):
        out.transform.to_original(np.zeros((32, 32)))


def test_foreground_crop_finds_the_content_box():
    img = np.zeros((200, 300))
    img[40:160, 100:220] = RNG.uniform(0.3, 1.0, size=(120, 120))
    out = preprocess(img, _manifest(crop={"kind": "foreground", "threshold": 0.1}))
    assert out.transform.crop == (40, 100, 120, 120)
    grown = preprocess(img, _manifest(crop={"kind": "foreground", "threshold": 0.1,
                                            "margin": 0.1}))
    assert grown.transform.crop == (28, 88, 144, 144)
    dark = preprocess(np.zeros((50, 60)), _manifest(crop={"kind": "foreground"}))
    assert dark.transform.crop == (0, 0, 50, 60)


# ----------------------------------------------------------------------- filters

def test_clahe_raises_local_contrast():
    low = np.tile(np.linspace(0.45, 0.55, 128, dtype=np.float32), (128, 1))
    low += RNG.normal(0, 0.01, size=low.shape).astype(np.float32)
    out = apply_clahe(np.clip(low, 0, 1), ClaheSpec(clip_limit=4.0, tile_grid=(4, 4)))
    assert out.shape == low.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.std() > 1.5 * low.std()
    # Through preprocess: the same manifest plus CLAHE gives a higher-contrast input.
    window = {"center": 500, "width": 1000}  # maps 450..550 to 0.45..0.55
    plain = preprocess(low * 1000, _manifest(window=window)).image
    equalised = preprocess(low * 1000, _manifest(window=window, clahe={"clip_limit": 4.0}))
    assert equalised.image.std() > 1.2 * plain.std()


def test_diffusion_smooths_noise_but_keeps_the_edge():
    clean = np.zeros((64, 64), np.float32)
    clean[:, 32:] = 1.0
    noisy = clean + RNG.normal(0, 0.05, size=clean.shape).astype(np.float32)
    for conduction in ("exponential", "quadratic"):
        out = anisotropic_diffusion(noisy, DiffusionSpec(20, kappa=0.2, gamma=0.2,
                                                         conduction=conduction))
        assert out[:, 4:28].std() < noisy[:, 4:28].std() / 2  # flat region: noise gone
        step = out[:, 33:].mean() - out[:, :31].mean()
        assert step > 0.9  # edge height kept
        blurred = cv2.GaussianBlur(noisy, (0, 0), 2.0)
        edge = lambda a: np.abs(a[:, 32] - a[:, 31]).mean()  # noqa: E731
        assert edge(out) > 2 * edge(blurred)  # sharper than a Gaussian of similar smoothing


def test_diffusion_conserves_mean_intensity():
    # Zero flux across the border: diffusion only moves intensity around.
    img = RNG.uniform(size=(40, 50)).astype(np.float32)
    out = anisotropic_diffusion(img, DiffusionSpec(10, 0.3, 0.25, "quadratic"))
    assert out.mean() == pytest.approx(img.mean(), abs=1e-5)


@pytest.mark.parametrize("conduction", ["exponential", "quadratic"])
def test_diffusion_equals_the_two_sided_reference_on_a_real_ct(conduction):
    # Each flux is computed once per pair of pixels; the result is the textbook scheme's.
    img = ct_slice()
    spec = DiffusionSpec(10, kappa=0.05, gamma=0.2, conduction=conduction)
    out = anisotropic_diffusion(img, spec)
    want = reference_diffusion(img, spec.iterations, spec.kappa, spec.gamma, conduction)
    assert np.abs(out - img).max() > 0.05  # the test image is really changed
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-6)
    for shape in ((1, 7), (7, 1), (2, 2)):  # pairs in one direction only, or none
        tiny = img[:shape[0], 200:200 + shape[1]]
        np.testing.assert_allclose(anisotropic_diffusion(tiny, spec), reference_diffusion(
            tiny, spec.iterations, spec.kappa, spec.gamma, conduction), rtol=0, atol=1e-6)


# ----------------------------------------------------------------------- frames and layering

def test_frame_input_starts_from_modality_values():
    ct = load_paths([find("CT_small.dcm")]).frames()[0]
    values, context = frame_input(ct)
    assert np.array_equal(values, ct.modality_values())
    assert context.units == "HU" and context.modality == "CT"
    rgb = load_paths([find("SC_rgb_small_odd.dcm")]).frames()[0]
    values, context = frame_input(rgb)
    assert values.ndim == 3 and values.shape[2] == 3 and context.max_value == 255


def test_preprocessing_and_listing_load_no_torch():
    code = ("import sys, medview.inference.preprocess, medview.inference.registry, "
            "medview.inference.audit, medview.inference.results, medview.commands.models, "
            "medview.commands.analyze\n"
            "print(','.join(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'torchvision', 'segmentation_models_pytorch', 'PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
