"""The run's images made ready to train on, and the parts checked for being usable.

Decoding and preprocessing happen once, into memory, when the images fit (``cache``);
otherwise loader workers read them every epoch. Images that cannot be decoded are left
out of their part.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer.data.discovery import skipped_message
from trainer.errors import JobCancelled, JobFailed

__all__ = ["Prepared", "prepare_sources", "part_labels"]


@dataclass
class Prepared:
    """The run's data, ready for training.

    Attributes
    ----------
    parts : dict of str to numpy.ndarray
        Sample indices per part (``train``, ``val``, ``test``), undecodable images removed.
    sources : dict
        Per part, a :class:`trainer.data.inputs.CachedSource` or :class:`trainer.data.inputs.LazySource`.
    sizes : dict of str to int
        Images per part.
    loader_workers : int
        Worker processes of the data loaders (0 when the images are in memory).
    """

    parts: dict[str, np.ndarray]
    sources: dict[str, Any]
    sizes: dict[str, int]
    loader_workers: int


def part_labels(ds, indices: np.ndarray) -> np.ndarray:
    """Class labels of the classification samples at ``indices``."""
    return np.array([ds.samples[i].label for i in indices], np.int64)


def prepare_sources(ds, parts: dict[str, np.ndarray], manifest, binary_seg: bool, job, dist, sink,
                    token) -> Prepared:
    """Decode and preprocess the parts' images (or plan to read them lazily), then check them.

    Parameters
    ----------
    ds : LabelledDataset
    parts : dict
        From :func:`trainer.run_split.decide_split`.
    manifest : Manifest
        Input size and preprocessing of the network being trained.
    binary_seg : bool
        A two-class segmentation (one sigmoid output): masks become 0/1.
    job : Job
        Its ``cache`` and ``workers``.
    dist : trainer.distributed.Dist
    sink : EventSink
    token : CancelToken
        Looked at while preparing (it can take minutes).

    Raises
    ------
    JobCancelled
        If a cancel was asked while preparing.
    JobFailed
        If no image is left for training or validation, or training sees one class only.
    """
    from trainer.aux_mask import uses_masks
    from trainer.data.inputs import LazySource, cache_bytes, memory_budget, prepare

    task = ds.task
    masks = uses_masks(job, ds)
    order = np.concatenate([parts["train"], parts["val"], parts["test"]])
    need = cache_bytes(len(order), manifest, task, masks)
    cache = job.cache if job.cache is not None else need <= memory_budget()
    cores = os.cpu_count() or 1
    loader_workers = 0
    if cache:
        workers = job.workers if job.workers is not None else (
            min(2, cores) if len(order) >= 32 and not dist.enabled else 0)
        sink.log("info", f"preparing {len(order)} images once (decode + preprocessing, "
                         f"{need / 2**20:.0f} MiB in memory, {workers or 'no'} worker processes)")
        marks = {max(1, len(order) * k // 4) for k in (1, 2, 3)}

        def progress(done: int, total: int) -> None:
            if done in marks:
                sink.log("info", f"prepared {done}/{total} images")
            if token.requested():
                raise JobCancelled

        t0 = time.perf_counter()
        source, skipped = prepare(ds.samples, order, task, manifest, binary_mask=binary_seg,
                                  workers=workers, masks=masks, progress=progress)
        sink.log("info", f"prepared {len(source)} images in {time.perf_counter() - t0:.1f} s")
        if skipped:
            sink.log("warning", skipped_message(skipped, "could not be decoded; left out"))
        kept = set(source.indices.tolist())
        parts = {k: np.array([i for i in v if i in kept], np.int64) for k, v in parts.items()}
        row = {int(i): r for r, i in enumerate(source.indices.tolist())}
        sources = {k: source.subset(np.array([row[i] for i in v.tolist()], np.int64), v)
                   for k, v in parts.items()}
        del source
    else:
        loader_workers = job.workers if job.workers is not None else min(2, cores)
        sink.log("info", f"{len(order)} images would need {need / 2**30:.1f} GiB in memory; "
                         f"reading them every epoch with {loader_workers} worker processes")
        sources = {k: LazySource(ds.samples, v, task, manifest, binary_seg) for k, v in parts.items()}
    sizes = {k: int(len(v)) for k, v in parts.items()}
    _check_parts(ds, parts, sizes, sink)
    return Prepared(parts, sources, sizes, loader_workers)


def _check_parts(ds, parts: dict[str, np.ndarray], sizes: dict[str, int], sink) -> None:
    if sizes["train"] == 0:
        raise JobFailed("no readable images are left for training")
    if sizes["val"] == 0:
        raise JobFailed("the validation set is empty (too few patients or readable images); add "
                        "images or raise split.val")
    if ds.task == "classification":
        labels = {k: part_labels(ds, v) for k, v in parts.items()}
        present = np.unique(labels["train"])
        if len(present) < 2:
            only = ds.classes[int(present[0])] if len(present) else "none"
            raise JobFailed(f"the training set holds only one class ('{only}'); classification "
                            "needs images of at least two classes")
        for part in ("val", "test"):
            missing = [c for i, c in enumerate(ds.classes) if sizes[part] and i not in labels[part]]
            if missing:
                sink.log("warning", f"the {part} set has no '{missing[0]}' images"
                         + ("; its AUC and the threshold cannot be judged" if part == "val" else
                            "; the test report cannot measure it"))
    if sizes["test"] == 0:
        sink.log("warning", "the test set is empty (split.test is 0 or too few patients): the "
                            "model will not be evaluated on held-out data")
