"""Copy-paste of findings between training images (trainer/data/paste.py)."""

from __future__ import annotations

import numpy as np

from trainer.config import AugmentSpec
from trainer.data.inputs import SampleError, TrainItems
from trainer.data.paste import FindingBank, cut_findings
from tests.helpers.trainer_jobs import manifest

MEAN, STD = [0.5], [0.25]


def _normalised(display: np.ndarray) -> np.ndarray:
    return ((display - 0.5) / 0.25).astype(np.float32)[None]


def _bump(shape, centre, radius, amplitude=0.3):
    """A soft round finding on a display-range image: its profile and its mask (profile > ½)."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    r = np.hypot(yy - centre[0], xx - centre[1])
    profile = 1.0 / (1.0 + np.exp((r - radius) / (0.15 * radius)))
    return amplitude * profile, (profile > 0.5).astype(np.uint8)


class Source:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def get(self, i):
        return self.images[i], self.labels[i]


def _lesion_source():
    """A finding on a tilted tissue background, and a finding-free image of flat tissue."""
    ramp = np.linspace(0.3, 0.6, 96, dtype=np.float32)[None, :].repeat(96, 0)
    bump, mask = _bump((96, 96), (40, 50), 8)
    return Source([_normalised(ramp + bump), _normalised(np.full((96, 96), 0.4, np.float32))],
                  [mask, np.zeros((96, 96), np.uint8)])


def test_a_finding_is_cut_as_its_difference_from_the_tissue_around_it():
    source = _lesion_source()
    (signal, finding), = cut_findings(*source.get(0))
    bump, mask = _bump((96, 96), (40, 50), 8)
    assert finding.sum() == mask.sum() and set(np.unique(finding)) == {0, 1}
    # the cut holds the bump (in normalised units), not the ramp under it: its centre
    # pixel is the bump's peak, its border nothing
    h, w = finding.shape
    assert abs(signal[0, h // 2, w // 2] - bump[40, 50] / 0.25) < 0.15
    assert signal[0, 0, 0] == signal[0, 0, -1] == signal[0, -1, 0] == signal[0, -1, -1] == 0  # round, not square
    assert signal.shape == (1, h, w) and h > 16 and w > 16  # the soft edge beyond the outline


def test_a_pasted_finding_adds_its_signal_and_its_label_on_tissue():
    source = _lesion_source()
    bank = FindingBank(source, MEAN, STD)
    assert len(bank) == 1
    host, empty = source.get(1)
    rng = np.random.default_rng(0)
    image, labels = bank.paste(host, empty, rng)
    assert labels.sum() == source.labels[0].sum()  # a quarter turn or a mirror keeps the area
    assert not empty.any() and np.all(host == _normalised(np.full((96, 96), 0.4, np.float32)))  # inputs kept
    brighter = image[0] - host[0]
    assert brighter[labels > 0].min() > 0.2 / 0.25 * 0.4  # over the finding: at least its half-height
    (cy, cx) = np.argwhere(labels > 0).mean(axis=0)
    yy, xx = np.mgrid[:96, :96]
    assert np.all(brighter[np.hypot(yy - cy, xx - cx) > 16] == 0)  # nothing beyond its soft edge


def test_a_finding_is_never_pasted_on_air_or_over_another_finding():
    source = _lesion_source()
    bank = FindingBank(source, MEAN, STD)
    rng = np.random.default_rng(1)
    air = _normalised(np.zeros((96, 96), np.float32))
    image, labels = bank.paste(air, np.zeros((96, 96), np.uint8), rng)
    assert not labels.any() and np.array_equal(image, air)
    full = np.ones((96, 96), np.uint8)  # a finding everywhere: no room
    image, labels = bank.paste(source.get(1)[0], full, rng)
    assert np.array_equal(labels, full)
    small = source.get(1)[0][:, :8, :8], np.zeros((8, 8), np.uint8)  # smaller than the finding
    assert bank.paste(*small, rng)[1].sum() == 0


def test_half_the_patches_hold_a_finding_and_pasting_shares_them():
    source = _lesion_source()
    m = manifest(task="segmentation", size=(96, 96))
    off = dict(flip=False, rotate=0.0, scale=0.0, brightness=0.0, contrast=0.0)
    plain = TrainItems(source, AugmentSpec(**off), m, seed=0, task="segmentation", patch=64)
    pasted = TrainItems(source, AugmentSpec(**off, paste=1.0), m, seed=0, task="segmentation", patch=64)
    assert plain.bank is None and len(pasted.bank) == 1

    def holding(items, row):  # share of 200 patches of one image that hold a finding
        seen = []
        for items.epoch in range(100):
            seen += [bool(items[i][1].any()) for i in range(row, len(items), 2)]
        return np.mean(seen)

    # the finding-free image: no finding without pasting; with every finding pasted, half
    # of its patches get one (the share drawn over a finding)
    assert holding(plain, 1) == 0.0
    assert 0.4 < holding(pasted, 1) < 0.6


def test_whole_images_get_a_pasted_finding_as_often_as_asked():
    source = _lesion_source()
    m = manifest(task="segmentation", size=(96, 96))
    spec = AugmentSpec(flip=False, rotate=0.0, scale=0.0, brightness=0.0, contrast=0.0, paste=1.0)
    items = TrainItems(source, spec, m, seed=0, task="segmentation")  # no patch: whole images
    image, labels = items[1]  # the finding-free image
    assert image.shape == (1, 96, 96) and labels.sum() == source.labels[0].sum()
    never = TrainItems(source, AugmentSpec(flip=False, rotate=0.0, scale=0.0, brightness=0.0, contrast=0.0),
                       m, seed=0, task="segmentation")
    assert never.bank is None and not never[1][1].any()


class MaskedSource:
    """A classification source with lesion masks: ``get_with_mask(i) -> (image, class, mask or None)``."""

    def __init__(self, images, targets, masks):
        self.images, self.targets, self.masks = images, targets, masks

    def __len__(self):
        return len(self.images)

    def get_with_mask(self, i):
        return self.images[i], self.targets[i], self.masks[i]


def test_a_classifier_image_given_a_pasted_finding_becomes_the_finding_class():
    lesion = _lesion_source()
    # classes (lesion, normal): a lesion image with its mask, a normal one (empty mask), and
    # a lesion image without a mask (unknown where its finding is: never a host)
    source = MaskedSource([lesion.images[0], lesion.images[1], lesion.images[1]], [np.int64(0), np.int64(1),
                          np.int64(0)], [lesion.labels[0], None, None])
    m = manifest(task="classification", size=(96, 96))
    off = dict(flip=False, rotate=0.0, scale=0.0, brightness=0.0, contrast=0.0)
    items = TrainItems(source, AugmentSpec(**off, paste=1.0), m, seed=0, task="classification",
                       empty_background=[False, True])
    assert len(items.bank) == 1 and items.positive == 0
    image, target, mask = items[1]  # the normal image, host of the cut finding
    assert target == 0 and mask.sum() == lesion.labels[0].sum()
    assert np.any(image != source.images[1])
    _, target, mask = items[2]  # no mask: left as it is, its mask unknown
    assert target == 0 and np.all(mask == 255)
    never = TrainItems(source, AugmentSpec(**off), m, seed=0, task="classification",
                       empty_background=[False, True])
    image, target, mask = never[1]
    assert never.bank is None and target == 1 and not mask.any()
    # three classes: which class a pasted finding makes is not known, so nothing is pasted
    assert TrainItems(source, AugmentSpec(**off, paste=1.0), m, seed=0, task="classification",
                      empty_background=[False, True, True]).bank is None


def test_an_image_that_cannot_be_read_gives_no_finding_and_the_rest_are_cut():
    class Damaged(Source):  # the first image broke after discovery (a lazy source reads it now)
        def get(self, i):
            if i == 0:
                raise SampleError("broken.dcm", "truncated pixel data")
            return super().get(i)

    lesion = _lesion_source()
    source = Damaged([lesion.images[1], *lesion.images], [lesion.labels[1], *lesion.labels])
    spec = AugmentSpec(flip=False, rotate=0.0, scale=0.0, brightness=0.0, contrast=0.0, paste=1.0)
    items = TrainItems(source, spec, manifest(task="segmentation", size=(96, 96)), seed=0, task="segmentation")
    assert len(items.bank) == 1
    assert items[0] is None  # training skips it too
