"""Samples → network inputs: the shared preprocessing, then augmentation, then batches.

Every image goes through :func:`medview.inference.preprocess.preprocess` with the
manifest of the model being trained, from the same values and context
(:func:`~medview.inference.preprocess.frame_input`) that ``medview analyze`` uses, so
training and inference cannot prepare an image differently. A mask follows its image's
geometry (crop, resize with nearest neighbour, letterbox padding = background), so
class numbers are never blended. Augmentations come after preprocessing and are applied
identically to an image and its mask (numpy/OpenCV).

Preprocessing is deterministic, so its output is computed once per image and kept in
memory (``cache``); an epoch then costs only the augmentation, and the machine's cores
stay on the network. The one-off preparation runs in DataLoader worker processes.
Data sets too large for memory are read lazily, every epoch, by DataLoader workers.
Randomness derives from ``(seed, epoch, sample)``, so a run is the same whatever the
number of workers, and a resumed epoch repeats the same batches.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from medview.core.errors import MedviewError, one_line
from medview.inference.manifest import Manifest
from medview.inference.preprocess import Transform

__all__ = ["SampleError", "read_sample", "map_mask", "augment", "foreground_patch", "FOREGROUND_SHARE",
           "CachedSource", "LazySource",
           "prepare", "cache_bytes", "memory_budget", "epoch_batches", "TrainItems", "EvalItems",
           "collate", "make_loader", "UNKNOWN_MASK"]

#: Lesion-mask value of a classification image without a mask (no auxiliary target).
UNKNOWN_MASK = 255
#: Share of training patches placed over a finding (the rest anywhere), as nnU-Net
#: oversamples foreground: on the lesion bench data (lesions 0.8 % of the pixels) a half
#: learnt faster than the whole images did.
FOREGROUND_SHARE = 0.5


class SampleError(MedviewError):
    """One sample cannot be used; ``path`` and ``reason`` say which and why."""

    def __init__(self, path, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


# ----------------------------------------------------------------------- one sample

def read_sample(sample, task: str, manifest: Manifest, binary_mask: bool = False, aux: bool = False):
    """Decode and preprocess one sample.

    Parameters
    ----------
    sample : ClassificationSample or SegmentationSample
        From :mod:`trainer.data.datasets`.
    task : {"classification", "segmentation"}
    manifest : Manifest
        The model being trained (input size, channels, preprocessing, normalisation).
    binary_mask : bool
        Segmentation with one foreground class: any non-zero mask value is foreground.
    aux : bool
        Classification: also return the sample's lesion mask (see :mod:`trainer.aux_mask`).

    Returns
    -------
    image : numpy.ndarray
        float32 (channels, height, width): exactly what inference would feed the network.
    target : int or numpy.ndarray
        The class index, or a uint8 (height, width) label map on the input grid.
    mask : numpy.ndarray or None
        Only with ``aux``: the lesion mask (uint8 0/1 on the input grid), None without one.

    Raises
    ------
    SampleError
        If the image or mask cannot be read or prepared.
    """
    from medview.inference.preprocess import frame_input, preprocess
    from trainer.data.images import load_mask

    path = sample.path if task == "classification" else sample.image
    frame_index = getattr(sample, "frame", 0)
    try:
        frame = _frame(path, frame_index)
        values, context = frame_input(frame)
        pre = preprocess(values, manifest, context)
    except (MedviewError, OSError, ValueError) as err:
        raise SampleError(path, getattr(err, "reason", None) or one_line(err, None)) from None
    if task == "classification":
        if aux:
            return pre.image, int(sample.label), _lesion_mask(sample, pre.transform)
        return pre.image, int(sample.label)
    try:
        labels = load_mask(sample.mask)
    except MedviewError as err:
        raise SampleError(sample.mask, getattr(err, "reason", str(err))) from None
    if labels.shape != pre.transform.original_shape:
        raise SampleError(sample.mask, f"mask is {labels.shape[0]}×{labels.shape[1]} but its image is "
                                       f"{pre.transform.original_shape[0]}×{pre.transform.original_shape[1]}")
    if binary_mask:
        labels = (labels > 0).astype(np.uint8)
    return pre.image, map_mask(labels, pre.transform)


def _lesion_mask(sample, transform: Transform) -> np.ndarray | None:
    """A classification sample's lesion mask (0/1) on the input grid; None without one.

    Discovery has checked the mask; one that fails now only loses its auxiliary target.
    """
    from trainer.data.images import load_mask

    if getattr(sample, "mask", None) is None:
        return None
    try:
        labels = load_mask(sample.mask)
    except MedviewError:
        return None
    if labels.shape != transform.original_shape:
        return None
    return map_mask((labels > 0).astype(np.uint8), transform)


def _frame(path, index: int):
    from medview.core.io.folder import load_paths

    library = load_paths([path])
    if library.skipped:
        bad_path, reason = library.skipped[0]
        raise SampleError(bad_path, reason)
    frames = [f for f in library.frames() if f.index == index]
    if not frames:
        raise SampleError(path, f"no frame {index + 1} in this file")
    return frames[0]


def map_mask(labels: np.ndarray, transform: Transform) -> np.ndarray:
    """Put a label map through an image's preprocessing geometry (nearest neighbour).

    Parameters
    ----------
    labels : numpy.ndarray
        uint8 (rows, cols) on the original image.
    transform : Transform
        From :func:`~medview.inference.preprocess.preprocess` of that image.

    Returns
    -------
    numpy.ndarray
        uint8 label map of the network input size; the letterbox bars are background.
    """
    top, left, ch, cw = transform.crop
    (rh, rw), (pt, pl) = transform.resized, transform.pad
    crop = np.ascontiguousarray(labels[top:top + ch, left:left + cw], dtype=np.uint8)
    resized = cv2.resize(crop, (rw, rh), interpolation=cv2.INTER_NEAREST) if (rh, rw) != crop.shape else crop
    out = np.zeros(transform.input_size, np.uint8)
    out[pt:pt + rh, pl:pl + rw] = resized
    return out


def augment(image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, spec,
            mean: Sequence[float], std: Sequence[float]) -> tuple[np.ndarray, np.ndarray | None]:
    """Random flip, rotation, scale, brightness and contrast; the mask moves with the image.

    Parameters
    ----------
    image : numpy.ndarray
        float32 (C, H, W), normalised as the manifest says.
    mask : numpy.ndarray or None
        uint8 (H, W) label map (segmentation), transformed with nearest neighbour.
    rng : numpy.random.Generator
    spec : trainer.config.AugmentSpec
    mean, std : sequence of float
        The manifest's normalisation: brightness and contrast act on the [0, 1]
        intensities, and the area uncovered by a rotation is black (as letterbox bars).

    Returns
    -------
    image, mask
        New arrays (the inputs are never modified: they may be the cache).
    """
    c, h, w = image.shape
    img = image
    if spec.flip and rng.random() < 0.5:
        img = img[:, :, ::-1]
        mask = mask[:, ::-1] if mask is not None else None
    if spec.vflip and rng.random() < 0.5:
        img = img[:, ::-1, :]
        mask = mask[::-1, :] if mask is not None else None
    angle = float(rng.uniform(-spec.rotate, spec.rotate)) if spec.rotate else 0.0
    scale = float(rng.uniform(1.0 - spec.scale, 1.0 + spec.scale)) if spec.scale else 1.0
    mean_a = np.asarray(mean, np.float32)
    std_a = np.asarray(std, np.float32)
    if angle or scale != 1.0:
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, scale)
        fill = tuple(float(v) for v in (-mean_a / std_a))
        hwc = np.ascontiguousarray(img.transpose(1, 2, 0))
        out = cv2.warpAffine(hwc, m, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=fill + (0.0,) * (4 - c))
        img = (out[:, :, None] if out.ndim == 2 else out).transpose(2, 0, 1)
        if mask is not None:
            mask = cv2.warpAffine(np.ascontiguousarray(mask), m, (w, h), flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if spec.brightness or spec.contrast:
        b = float(rng.uniform(-spec.brightness, spec.brightness)) if spec.brightness else 0.0
        k = float(rng.uniform(1.0 - spec.contrast, 1.0 + spec.contrast)) if spec.contrast else 1.0
        # u = x·std + mean in [0, 1]; u' = (u − ½)·k + ½ + b; x' = (u' − mean) / std
        offset = ((mean_a - 0.5) * k + 0.5 + b - mean_a) / std_a
        img = img * np.float32(k) + offset[:, None, None]
    img = np.ascontiguousarray(img, dtype=np.float32)
    if img is image:
        img = img.copy()
    return img, (np.ascontiguousarray(mask) if mask is not None else None)


def foreground_patch(image: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator,
                     share: float = FOREGROUND_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """A ``size``×``size`` crop of an image and its label map: with probability ``share``
    one holding a foreground pixel drawn at random (when the map has any), else anywhere.

    Parameters
    ----------
    image : numpy.ndarray
        (C, H, W).
    mask : numpy.ndarray
        (H, W) label map, 0 = background.
    size : int
        At most H and W.
    rng : numpy.random.Generator

    Returns
    -------
    image, mask
        New contiguous arrays.
    """
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if len(ys) and rng.random() < share:
        k = int(rng.integers(len(ys)))
        # the finding's pixel anywhere in the patch, the patch inside the image
        y0 = int(np.clip(ys[k] - rng.integers(size), 0, h - size))
        x0 = int(np.clip(xs[k] - rng.integers(size), 0, w - size))
    else:
        y0, x0 = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
    return (np.ascontiguousarray(image[:, y0:y0 + size, x0:x0 + size]),
            np.ascontiguousarray(mask[y0:y0 + size, x0:x0 + size]))


# ----------------------------------------------------------------------- sources

class CachedSource:
    """Preprocessed samples held in memory.

    Attributes
    ----------
    images : numpy.ndarray
        float32 (N, C, H, W).
    targets : numpy.ndarray
        int64 (N,) class indices, or uint8 (N, H, W) label maps.
    indices : numpy.ndarray
        Index of each row in the data set's sample list.
    masks : numpy.ndarray or None
        Classification with masks: uint8 (N, H, W) lesion masks (0/1), and
    has_mask : numpy.ndarray or None
        bool (N,): which rows have one.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, indices: np.ndarray,
                 masks: np.ndarray | None = None, has_mask: np.ndarray | None = None) -> None:
        self.images, self.targets, self.indices = images, targets, np.asarray(indices, np.int64)
        self.masks, self.has_mask = masks, has_mask

    def __len__(self) -> int:
        return len(self.indices)

    def get(self, i: int):
        return self.images[i], self.targets[i]

    def get_with_mask(self, i: int):
        """``(image, target, lesion mask or None)``."""
        mask = self.masks[i] if self.masks is not None and self.has_mask[i] else None
        return self.images[i], self.targets[i], mask

    def subset(self, rows: np.ndarray, indices: np.ndarray) -> CachedSource:
        """The rows ``rows`` as a new source whose data-set indices are ``indices``."""
        rows = np.asarray(rows, np.int64)
        masks = self.masks[rows] if self.masks is not None else None
        has = self.has_mask[rows] if self.has_mask is not None else None
        return CachedSource(self.images[rows], self.targets[rows], indices, masks, has)


class LazySource:
    """Samples read and preprocessed on every access (data sets larger than memory)."""

    def __init__(self, samples: list, indices: Sequence[int], task: str, manifest: Manifest,
                 binary_mask: bool) -> None:
        self.samples, self.indices = samples, np.asarray(indices, np.int64)
        self.task, self.manifest, self.binary_mask = task, manifest, binary_mask

    def __len__(self) -> int:
        return len(self.indices)

    def get(self, i: int):
        return read_sample(self.samples[int(self.indices[i])], self.task, self.manifest, self.binary_mask)

    def get_with_mask(self, i: int):
        """``(image, target, lesion mask or None)`` (classification)."""
        return read_sample(self.samples[int(self.indices[i])], self.task, self.manifest, aux=True)


def cache_bytes(n: int, manifest: Manifest, task: str, masks: bool = False) -> int:
    """Memory a cache of ``n`` samples needs (``masks``: with lesion masks)."""
    c, h, w = manifest.input_shape
    return n * (c * h * w * 4 + (h * w if task == "segmentation" or masks else 0) + 8)


def memory_budget() -> int:
    """How much memory the cache may take: a quarter of the machine's RAM (2 GiB if unknown)."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        try:  # Windows
            import ctypes

            class _Status(ctypes.Structure):
                _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                            ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                            ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                            ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                            ("sullAvailExtendedVirtual", ctypes.c_ulonglong)]
            status = _Status()
            status.dwLength = ctypes.sizeof(_Status)
            if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
                total = int(status.ullTotalPhys)
        except Exception:
            total = None
    return (total // 4) if total else 2 * 1024**3


class _PrepareItems:
    """Dataset of (position, image, target, mask, error) for the one-off preparation."""

    def __init__(self, samples: list, indices: Sequence[int], task: str, manifest: Manifest,
                 binary_mask: bool, masks: bool) -> None:
        self.samples, self.indices = samples, list(indices)
        self.task, self.manifest, self.binary_mask, self.masks = task, manifest, binary_mask, masks

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, pos: int):
        sample = self.samples[self.indices[pos]]
        try:
            out = read_sample(sample, self.task, self.manifest, self.binary_mask, aux=self.masks)
        except SampleError as err:
            return pos, None, None, None, (err.path, err.reason)
        return pos, out[0], out[1], (out[2] if self.masks else None), None


def _first(batch):
    return batch[0]


def prepare(samples: list, indices: Sequence[int], task: str, manifest: Manifest, *,
            binary_mask: bool = False, workers: int = 0, masks: bool = False,
            progress: Callable[[int, int], None] | None = None
            ) -> tuple[CachedSource, list[tuple[str, str]]]:
    """Preprocess the samples at ``indices`` once, in ``workers`` processes (``masks``:
    classification lesion masks too).

    Returns
    -------
    source : CachedSource
        The samples that could be read, in the order given.
    skipped : list of (path, reason)
        Samples whose pixels could not be decoded or prepared.
    """
    from torch.utils.data import DataLoader

    indices = list(indices)
    items = _PrepareItems(samples, indices, task, manifest, binary_mask, masks)
    loader = DataLoader(items, batch_size=1, shuffle=False, num_workers=workers,
                        collate_fn=_first)
    c, h, w = manifest.input_shape
    images = np.empty((len(indices), c, h, w), np.float32)
    seg = task == "segmentation"
    targets = np.empty((len(indices), h, w), np.uint8) if seg else np.empty(len(indices), np.int64)
    lesions = np.zeros((len(indices), h, w), np.uint8) if masks else None
    has = np.zeros(len(indices), bool)
    good = np.zeros(len(indices), bool)
    skipped: list[tuple[str, str]] = []
    for done, (pos, image, target, mask, error) in enumerate(loader, 1):
        if error is not None:
            skipped.append(error)
        else:
            images[pos], targets[pos], good[pos] = image, target, True
            if mask is not None:
                lesions[pos], has[pos] = mask, True
        if progress is not None:
            progress(done, len(indices))
    source = CachedSource(images, targets, np.asarray(indices, np.int64), lesions, has if masks else None)
    keep = np.flatnonzero(good)
    if keep.size != len(indices):
        source = source.subset(keep, source.indices[keep])
    return source, skipped


# ----------------------------------------------------------------------- batches

def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  shuffle: bool = True) -> list[list[int]]:
    """The batches (positions in a source) of one epoch for one process.

    The order follows ``(seed, epoch)`` only. With ``world`` processes each takes every
    ``world``-th sample (the list is padded by wrapping so all get the same count) in
    batches of ``batch_size`` (per process). A last batch of one sample joins the one
    before it (BatchNorm cannot learn from a batch of one).
    """
    order = (np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n))
    if world > 1:
        total = math.ceil(n / world) * world
        order = np.resize(order, total)[rank::world]
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


class TrainItems:
    """Map-style dataset of augmented training samples for one epoch (set :attr:`epoch`).

    With ``empty_background`` (classification with lesion masks, one flag per class) an
    item is ``(image, label, mask)``: the mask moves with the image; an image without a
    mask gets an empty one if its class says so, else one of :data:`UNKNOWN_MASK`.

    With ``patch`` (segmentation; smaller than the input) an item is a ``patch``-pixel
    square of an augmented image (:func:`foreground_patch`), and an epoch holds as many
    patches as cover the images' area once (each image ``repeats`` times): the same work
    per epoch as whole images, spent more on the findings.

    With ``spec.paste`` findings cut from the training images are pasted
    (:class:`~trainer.data.paste.FindingBank`): on patches, that share of the patches that
    hold a finding get a pasted one on a patch drawn anywhere (so the share holding a
    finding stays :data:`FOREGROUND_SHARE`); on whole images, that share of the images get
    one. A classification image with a known mask (two classes, one of them meaning no
    finding) that gets one becomes the finding's class.
    """

    def __init__(self, source, spec, manifest: Manifest, seed: int, task: str,
                 empty_background: list[bool] | None = None, patch: int = 0) -> None:
        self.source, self.spec, self.seed, self.task = source, spec, seed, task
        self.mean, self.std = manifest.normalisation.mean, manifest.normalisation.std
        self.shape = tuple(manifest.input_shape[1:])
        self.empty_background = empty_background
        self.patch = patch if task == "segmentation" and 0 < patch < min(self.shape) else 0
        self.repeats = max(1, round(self.shape[0] * self.shape[1] / self.patch ** 2)) if self.patch else 1
        self.bank = None
        self.positive = _positive(empty_background)
        if spec.paste and (task == "segmentation" or self.positive is not None):
            from trainer.data.paste import FindingBank

            self.bank = FindingBank(_FindingSource(source, task), self.mean, self.std)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.source) * self.repeats

    def __getitem__(self, i: int):
        if self.empty_background is not None:
            return self._with_mask(i)
        try:
            image, target = self.source.get(i % len(self.source))
        except SampleError:
            return None
        if not self.spec.enabled and not self.patch and self.bank is None:
            return image, target
        rng = np.random.default_rng([self.seed, self.epoch, int(i), 1])
        if self.task == "classification":
            return augment(image, None, rng, self.spec, self.mean, self.std)[0], target
        if self.spec.enabled:
            image, target = augment(image, target, rng, self.spec, self.mean, self.std)
        if not self.patch:
            if self.bank is not None and rng.random() < self.spec.paste:
                image, target = self.bank.paste(image, target, rng)
            return image, target
        # Pasting more findings on top of the usual share tilted the network towards
        # foreground (held-out Dice best at threshold 0.9, not 0.5): keep the share.
        u = rng.random()
        pasting = self.bank is not None and u < FOREGROUND_SHARE * self.spec.paste
        image, target = foreground_patch(image, target, self.patch, rng,
                                         share=float(not pasting and u < FOREGROUND_SHARE))
        return self.bank.paste(image, target, rng) if pasting else (image, target)

    def _with_mask(self, i: int):
        try:
            image, target, mask = self.source.get_with_mask(i)
        except SampleError:
            return None
        if mask is None and self.empty_background[int(target)]:
            mask = np.zeros(self.shape, np.uint8)
        rng = np.random.default_rng([self.seed, self.epoch, int(i), 1])
        if self.spec.enabled:
            image, mask = augment(image, mask, rng, self.spec, self.mean, self.std)
        if mask is None:
            return image, target, np.full(self.shape, UNKNOWN_MASK, np.uint8)
        if self.bank is not None and rng.random() < self.spec.paste:
            image, pasted = self.bank.paste(image, mask, rng)
            if pasted is not mask:  # a finding was placed: the image now shows one
                mask, target = pasted, type(target)(self.positive)
        return image, target, mask


def _positive(empty_background: list[bool] | None) -> int | None:
    """The one class whose images show findings (two classes with lesion masks), else None."""
    if empty_background is None or len(empty_background) != 2 or sum(empty_background) != 1:
        return None
    return empty_background.index(False)


class _FindingSource:
    """The training images as (image, label map) pairs for a
    :class:`~trainer.data.paste.FindingBank`: a classification image's lesion mask (none
    without one); an image that cannot be read now gives no finding, as training skips it."""

    def __init__(self, source, task: str) -> None:
        self.source, self.task = source, task

    def __len__(self) -> int:
        return len(self.source)

    def get(self, i: int):
        try:
            if self.task == "segmentation":
                return self.source.get(i)
            image, _target, mask = self.source.get_with_mask(i)
        except SampleError:
            return np.zeros((1, 1, 1), np.float32), np.zeros((1, 1), np.uint8)
        return image, (mask if mask is not None else np.zeros(image.shape[1:], np.uint8))


class EvalItems:
    """Map-style dataset of unaugmented samples (validation, test)."""

    def __init__(self, source) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int):
        try:
            image, target = self.source.get(i)
        except SampleError:
            return None
        return image, target, int(i)


def collate(items):
    """Stack (image, target[, position or mask]) items into tensors; unreadable samples
    (None) are dropped.

    Returns ``(images, targets)``, ``(images, targets, positions)`` when the items carry
    their position, or ``(images, targets, masks)`` when they carry a lesion mask; None
    when the whole batch was unreadable.
    """
    import torch

    items = [it for it in items if it is not None]
    if not items:
        return None
    images = torch.from_numpy(np.stack([it[0] for it in items]))
    first = items[0][1]
    if isinstance(first, np.ndarray):
        targets = torch.from_numpy(np.stack([it[1] for it in items]))
    else:
        targets = torch.as_tensor([int(it[1]) for it in items], dtype=torch.int64)
    if len(items[0]) == 3 and isinstance(items[0][2], np.ndarray):
        return images, targets, torch.from_numpy(np.stack([it[2] for it in items]))
    if len(items[0]) == 3:
        return images, targets, torch.as_tensor([it[2] for it in items], dtype=torch.int64)
    return images, targets


def make_loader(dataset, batches: list[list[int]], workers: int):
    """A DataLoader over fixed batches (no workers for an in-memory source).

    Workers leave OpenCV's thread count alone: a forked worker that calls
    ``cv2.setNumThreads`` after the parent's OpenCV pool has run waits forever (OpenCV 5,
    pthreads backend), which hung the trainer at its first loader after main-process
    augmentation.
    """
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_sampler=batches, num_workers=workers, collate_fn=collate,
                      persistent_workers=False)
