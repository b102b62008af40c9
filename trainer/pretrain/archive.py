"""The unlabelled images of a pretrain job: found in folders, sampled, decoded once, cached.

A clinic's archive may hold hundreds of thousands of images. Finding them reads headers
only (medview's folder loader, recursively; each unreadable file is skipped with one
plain line). Every single-frame file is one image; a multi-frame file gives its middle
frame (its neighbours add little a crop or a window change would not). When there are
more images than ``max_images``, or than fit a quarter of the memory, a random sample
(by the job's seed) is taken.

Each chosen image is decoded once, in worker processes, and cached at a modest size
(longest side 1.25 × the input, ``float16``): about 50 KB per image at 128 px, so
2,000 images take 100 MB. The cache keeps *modality values*, affinely rescaled so the
image's auto window (0.5-99.5 percentiles, as :mod:`medview.inference.preprocess`
computes it) spans 0..:data:`~trainer.pretrain.views.WINDOW_SPAN`: views are then made
through the shared preprocessing with a jittered window (:mod:`trainer.pretrain.views`).
Colour images are turned to grey (ITU-R BT.601) before that.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from trainer.errors import JobCancelled, JobFailed

__all__ = ["Found", "Archive", "CACHE_FACTOR", "find_images", "read_archive", "decode_one",
           "SKIPPED_LINES"]

#: Cached images keep their longest side at this multiple of the input's.
CACHE_FACTOR = 1.25
#: Skipped files named one per line; more are counted in one last line.
SKIPPED_LINES = 20


@dataclass
class Found:
    """Images found in the job's folders (headers read, pixels not yet).

    Attributes
    ----------
    images : list of (str, int)
        (file, frame index) of each image, in folder order.
    studies : list of str
        The study of each image (patient and study UID; for plain images, their folder).
    skipped : list of (str, str)
        Files that could not be read, and why.
    """

    images: list[tuple[str, int]] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Archive:
    """The decoded, cached images a pretrain job learns from.

    Attributes
    ----------
    values : list of numpy.ndarray
        float16 (rows, cols) per image; 0..WINDOW_SPAN is its auto window.
    invert : numpy.ndarray
        bool per image: MONOCHROME1 (minimum shows white).
    files : list of (str, int)
        (file, frame) of each cached image.
    summary : dict
        For ``job_started`` and the backbone card: ``task``, ``source`` (the folders),
        ``n_found``, ``n_images``, ``n_studies``, ``sampled``, ``skipped`` (count), ``size_min``,
        ``size_max``, ``cache_mib``, ``prepare_s``.
    """

    values: list[np.ndarray]
    invert: np.ndarray
    files: list[tuple[str, int]]
    summary: dict[str, Any]

    def __len__(self) -> int:
        return len(self.values)


# ----------------------------------------------------------------------- finding

def find_images(folders: tuple[str, ...] | list[str], cancelled: Callable[[], bool] | None = None) -> Found:
    """Every image under ``folders`` (recursively), with its study; unreadable files skipped.

    Raises
    ------
    JobFailed
        If a folder does not exist.
    """
    from medview.core.io.folder import load_paths

    for folder in folders:
        if not Path(folder).exists():
            raise JobFailed(f"job field 'dataset': {folder} does not exist")
    library = load_paths(folders, cancelled=cancelled)
    found = Found(skipped=[(str(p), r) for p, r in library.skipped])
    for patient in library.patients:
        for study in patient.studies:
            key = f"{patient.id}|{study.uid}"
            for series in study.series:
                for path, index in _one_frame_per_file(series.frames):
                    found.images.append((path, index))
                    found.studies.append(key)
    return found


def _one_frame_per_file(frames) -> list[tuple[str, int]]:
    by_file: dict[str, list[int]] = {}
    for frame in frames:
        by_file.setdefault(str(frame.path), []).append(frame.index)
    return [(path, sorted(idx)[len(idx) // 2]) for path, idx in by_file.items()]


# ----------------------------------------------------------------------- decoding

def decode_one(path: str, index: int, side: int) -> tuple[np.ndarray, bool]:
    """Decode one frame to rescaled modality values at most ``side`` pixels long.

    Returns
    -------
    values : numpy.ndarray
        float16 (rows, cols): the auto window maps to 0..WINDOW_SPAN.
    invert : bool

    Raises
    ------
    medview.core.errors.MedviewError, ValueError, OSError
        If the pixels cannot be read (the caller skips the image).
    """
    from medview.core.errors import ReadError
    from medview.core.io.folder import load_paths
    from medview.inference.preprocess import AUTO_PERCENTILES, frame_input
    from trainer.pretrain.views import WINDOW_SPAN

    library = load_paths([path])
    if library.skipped:
        raise ReadError(*library.skipped[0])
    frame = next((f for f in library.frames() if f.index == index), None)
    if frame is None:
        raise ReadError(path, f"no frame {index + 1} in this file")
    values, context = frame_input(frame)
    arr = np.nan_to_num(np.asarray(values, np.float32))
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2GRAY)
    if arr.ndim != 2 or min(arr.shape) < 8:
        raise ValueError(f"image of shape {arr.shape} is too small to learn from")
    scale = side / max(arr.shape)
    if scale < 1.0:
        size = (max(2, round(arr.shape[1] * scale)), max(2, round(arr.shape[0] * scale)))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    lo, hi = np.percentile(arr, AUTO_PERCENTILES)
    if hi <= lo:
        lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        raise ValueError("the image is flat (one value): nothing to learn from")
    rescaled = (arr - lo) * (WINDOW_SPAN / (hi - lo))
    return np.clip(rescaled, -60 * WINDOW_SPAN, 60 * WINDOW_SPAN).astype(np.float16), bool(context.invert)


class _DecodeItems:
    """Dataset of (position, values, invert, error) for the one-off decoding."""

    def __init__(self, images: list[tuple[str, int]], side: int) -> None:
        self.images, self.side = images, side

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, pos: int):
        from medview.core.errors import MedviewError, plain_reason

        path, index = self.images[pos]
        try:
            values, invert = decode_one(path, index, self.side)
        except (MedviewError, ValueError, OSError) as err:
            return pos, None, False, (path, getattr(err, "reason", None) or plain_reason(err))
        return pos, values, invert, None


def _first(batch):
    return batch[0]


# ----------------------------------------------------------------------- the archive

def read_archive(job, sink, token, dist) -> Archive:
    """Find, sample, decode and cache the job's images, logging what happens.

    Parameters
    ----------
    job : PretrainJob
    sink : EventSink
    token : CancelToken
        Looked at while reading (a large archive takes minutes).
    dist : trainer.distributed.Dist
        Every process reads the same images (the sample follows the seed).

    Raises
    ------
    JobCancelled
        If a cancel was asked while reading.
    JobFailed
        If no readable image is found.
    """
    from torch.utils.data import DataLoader

    from trainer.data.inputs import memory_budget

    t0 = time.monotonic()
    sink.log("info", f"looking for images in {', '.join(job.dataset)}")
    found = find_images(job.dataset, cancelled=token.requested)
    if token.requested():
        raise JobCancelled
    _log_skipped(sink, found.skipped, "could not be read")
    side = max(32, round(max(job.input_size) * CACHE_FACTOR))
    cap = min(job.max_images or 10**9, max(1, memory_budget() // (side * side * 2)))
    chosen = _sample(len(found.images), cap, job.seed)
    if not len(chosen):
        raise JobFailed(f"no readable image in {', '.join(job.dataset)}"
                        + (f" ({len(found.skipped)} file(s) skipped)" if found.skipped else ""))
    images = [found.images[i] for i in chosen]
    if len(chosen) < len(found.images):
        sink.log("info", f"{len(found.images)} images found; learning from a random sample of "
                         f"{len(chosen)} (max_images or a quarter of the memory)")
    cores = os.cpu_count() or 1
    workers = job.workers if job.workers is not None else (min(2, cores) if len(images) >= 32 else 0)
    sink.log("info", f"reading {len(images)} images once (cached at up to {side} px, "
                     f"{workers or 'no'} worker processes)")
    loader = DataLoader(_DecodeItems(images, side), batch_size=1, num_workers=workers, collate_fn=_first)
    values: list[np.ndarray | None] = [None] * len(images)
    invert = np.zeros(len(images), bool)
    bad: list[tuple[str, str]] = []
    marks = {max(1, len(images) * k // 4) for k in (1, 2, 3)}
    for done, (pos, arr, inv, error) in enumerate(loader, 1):
        if error is not None:
            bad.append(error)
        else:
            values[pos], invert[pos] = arr, inv
        if done in marks:
            sink.log("info", f"read {done}/{len(images)} images")
        if token.requested():
            raise JobCancelled
    _log_skipped(sink, bad, "could not be decoded")
    keep = [i for i, v in enumerate(values) if v is not None]
    if not keep:
        raise JobFailed(f"none of the {len(images)} images in {', '.join(job.dataset)} could be decoded")
    kept_values = [values[i] for i in keep]
    studies = {found.studies[chosen[i]] for i in keep}
    shapes = np.array([v.shape for v in kept_values])
    summary = {
        "task": "pretrain", "source": list(job.dataset), "n_found": len(found.images),
        "n_images": len(keep), "n_studies": len(studies), "sampled": len(chosen) < len(found.images),
        "skipped": len(found.skipped) + len(bad), "size_min": shapes.min(0).tolist(),
        "size_max": shapes.max(0).tolist(),
        "cache_mib": round(sum(v.nbytes for v in kept_values) / 2**20, 1),
        "prepare_s": round(time.monotonic() - t0, 1),
    }
    sink.log("info", f"{len(keep)} images of {len(studies)} studies ready in {summary['prepare_s']:.0f} s "
                     f"({summary['cache_mib']:.0f} MiB)")
    return Archive(kept_values, invert[keep], [images[i] for i in keep], summary)


def _sample(n: int, cap: int, seed: int) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 7]).choice(n, size=cap, replace=False))


def _log_skipped(sink, skipped: list[tuple[str, str]], what: str) -> None:
    for path, reason in skipped[:SKIPPED_LINES]:
        sink.log("warning", f"{path}: {reason}; skipped")
    if len(skipped) > SKIPPED_LINES:
        sink.log("warning", f"{len(skipped) - SKIPPED_LINES} more file(s) {what}; skipped")
