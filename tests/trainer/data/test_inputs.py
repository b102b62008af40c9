"""Samples become exactly what inference feeds the network; augmentation moves masks with images."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.io.folder import load_paths
from medview.inference.preprocess import frame_input, preprocess
from trainer.config import AugmentSpec
from trainer.data.inputs import TrainItems, augment, epoch_batches, foreground_patch, map_mask, read_sample
from trainer.data.datasets import discover, discover_segmentation
from tests.helpers.trainer_jobs import manifest


def test_training_input_is_the_inference_input(demo):
    ds = discover(demo / "labels.csv")
    m = manifest(clahe={"clip_limit": 2.0, "tile_grid": [4, 4]})
    for sample in ds.samples[:4]:  # DICOM and PNG
        image, label = read_sample(sample, "classification", m)
        frame = load_paths([sample.path]).frames()[0]
        values, context = frame_input(frame)
        np.testing.assert_array_equal(image, preprocess(values, m, context).image)
        assert label == sample.label and image.dtype == np.float32 and image.shape == (1, 64, 48)


def test_mask_follows_the_image_geometry(demo):
    ds = discover_segmentation(demo / "segmentation")
    m = manifest("segmentation", size=(32, 64), crop={"kind": "center", "fraction": 0.8})
    sample = next(s for s in ds.samples if 1 in s.classes_present)
    image, mask = read_sample(sample, "segmentation", m)
    assert mask.shape == (32, 64) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert mask.any()
    # letterbox bars (left and right here) are background in the mask as in the image
    bars = image[0] == image[0, 0, 0]
    assert not mask[bars].any()


def test_mask_lands_where_its_image_content_lands():
    from medview.inference.preprocess import preprocess as pre

    labels = np.zeros((90, 60), np.uint8)
    labels[30:60, 20:40] = 1
    m = manifest(size=(64, 64), crop={"kind": "center", "fraction": 0.9})
    p = pre(labels.astype(float) * 100 + 1, m)  # the image shows exactly the labelled area, bright
    mapped = map_mask(labels, p.transform)
    bright = p.image[0] > 0  # above mid-grey in the normalised input
    edges = np.abs(p.image[0]) < 1.99  # area-averaged boundary pixels (partly inside) may go either way
    agree = (bright == (mapped == 1)) | edges
    assert agree.all() and mapped.sum() > 100


def test_augment_moves_image_and_mask_together():
    spec = AugmentSpec(flip=True, vflip=True, rotate=30, scale=0.2, brightness=0.0, contrast=0.0)
    mean, std = [0.5], [0.25]
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 5:25] = 1
    image = ((mask.astype(np.float32) - mean[0]) / std[0])[None]  # bright where the mask is
    for seed in range(10):
        img, m = augment(image, mask, np.random.default_rng(seed), spec, mean, std)
        assert m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}  # nearest: no blended classes
        bright = img[0] > (0.5 - mean[0]) / std[0]
        assert np.mean(bright == (m == 1)) > 0.97
    assert image.max() == 2.0 and mask.sum() == 400  # inputs untouched (they may be the cache)


def test_augment_brightness_contrast_act_on_unit_intensities():
    spec = AugmentSpec(flip=False, vflip=False, rotate=0, scale=0, brightness=0.1, contrast=0.2)
    unit = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(1, 64, 64)
    mean, std = [0.3], [0.2]
    img, _ = augment((unit - 0.3) / 0.2, None, np.random.default_rng(1), spec, mean, std)
    back = img * 0.2 + 0.3
    k = (back[0, -1, -1] - back[0, 0, 0]) / (unit[0, -1, -1] - unit[0, 0, 0])
    b = back[0, 0, 0] - (0.5 - 0.5 * k)
    np.testing.assert_allclose(back, (unit - 0.5) * k + 0.5 + b, atol=1e-5)
    assert 0.8 <= k <= 1.2 and abs(b) <= 0.1 + 1e-6


def test_rotation_fills_with_black_not_zero():
    spec = AugmentSpec(flip=False, vflip=False, rotate=45, scale=0, brightness=0, contrast=0)
    image = np.full((1, 32, 32), 2.0, np.float32)  # white, normalised
    img, _ = augment(image, None, np.random.default_rng(3), spec, [0.5], [0.25])
    assert img[0, 0, 0] == pytest.approx(-2.0)  # (0 - 0.5) / 0.25: black, as letterbox bars


def test_epoch_batches_are_seeded_and_partition_the_data():
    a = epoch_batches(23, 4, seed=1, epoch=3)
    assert a == epoch_batches(23, 4, seed=1, epoch=3)
    assert a != epoch_batches(23, 4, seed=1, epoch=4)
    assert sorted(i for b in a for i in b) == list(range(23))
    assert all(len(b) > 1 for b in a)  # no batch of one (BatchNorm)
    ranks = [epoch_batches(23, 4, 1, 3, rank=r, world=2) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1])  # DDP: every process takes as many steps
    assert {i for r in ranks for b in r for i in b} == set(range(23))


def test_a_foreground_patch_holds_the_finding_as_often_as_asked():
    image = np.arange(64 * 64, dtype=np.float32).reshape(1, 64, 64)
    mask = np.zeros((64, 64), np.uint8)
    mask[50, 5] = 1  # one finding pixel, near a corner
    rng = np.random.default_rng(0)
    over = [foreground_patch(image, mask, 16, rng, share=1.0) for _ in range(50)]
    assert all(m.shape == (16, 16) and p.shape == (1, 16, 16) and m.sum() == 1 for p, m in over)
    for p, m in over:  # the crop of the image is the crop of the mask
        (y, x), = np.argwhere(m == 1)
        assert p[0, y, x] == image[0, 50, 5]
    anywhere = [foreground_patch(image, mask, 16, rng, share=0.0)[1].sum() for _ in range(200)]
    assert sum(anywhere) < 40  # 1 in 16 of uniform crops holds it
    empty = np.zeros_like(mask)  # no finding: anywhere, even when asked
    assert foreground_patch(image, empty, 16, rng, share=1.0)[1].shape == (16, 16)


def test_patches_cover_the_images_area_once_per_epoch():
    class Source:
        images = np.zeros((3, 1, 64, 64), np.float32)
        targets = np.zeros((3, 64, 64), np.uint8)

        def __len__(self):
            return 3

        def get(self, i):
            return self.images[i], self.targets[i]

    m = manifest(task="segmentation", size=(64, 64))
    items = TrainItems(Source(), AugmentSpec(), m, seed=0, task="segmentation", patch=32)
    assert len(items) == 12  # four 32-px squares per 64-px image
    image, target = items[7]
    assert image.shape == (1, 32, 32) and target.shape == (32, 32)
    whole = TrainItems(Source(), AugmentSpec(), m, seed=0, task="segmentation", patch=64)  # not smaller: off
    assert len(whole) == 3 and whole[0][0].shape == (1, 64, 64)


_FORK_AFTER_OPENCV = """
import sys
import cv2
import numpy as np
from trainer.config import AugmentSpec
from trainer.data.inputs import LazySource, TrainItems, epoch_batches, make_loader
from trainer.data.datasets import discover
from tests.helpers.trainer_jobs import manifest

# The parent's OpenCV thread pool is busy first (main-process augmentation does this), then
# the loader forks its workers: what the trainer does at its test evaluation.
a = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
for _ in range(5):
    cv2.resize(a, (3000, 3000))
    cv2.GaussianBlur(a, (15, 15), 3)
ds = discover(sys.argv[1])
m = manifest()
items = TrainItems(LazySource(ds.samples, range(8), "classification", m, False), AugmentSpec(), m,
                   seed=0, task="classification")
print(sum(len(b[0]) for b in make_loader(items, epoch_batches(8, 4, 0, 1), 2)))
"""


def test_loader_workers_start_after_opencv_threads_ran_in_the_parent(demo):
    """Forked DataLoader workers must not reconfigure OpenCV's thread pool: with the parent's
    pool already started, ``cv2.setNumThreads`` in the child waits forever (OpenCV 5,
    pthreads), and the trainer hung at its first loader after main-process augmentation."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run([sys.executable, "-c", _FORK_AFTER_OPENCV, str(demo / "labels.csv")],
                          capture_output=True, text=True, timeout=120, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1] == "8"
