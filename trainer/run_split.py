"""The run's train / validation / test parts, and ``split.json`` that records them.

A resumed run reads its saved ``split.json`` (matched by file and frame, so the order in
which samples are discovered does not matter); k-fold search gives explicit parts;
otherwise the data set is split afresh, stratified and by patient.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from medview.core.errors import one_line
from trainer.checkpoints import write_json
from trainer.errors import JobFailed, write_or_fail

__all__ = ["sample_path", "decide_split", "split_json", "saved_split"]

PART_NAMES = ("train", "val", "test")


def sample_path(sample) -> Path:
    """The image file of a classification or segmentation sample."""
    return getattr(sample, "path", None) or sample.image


def _sample_key(sample) -> tuple[str, int]:
    return (str(Path(sample_path(sample)).resolve()), int(getattr(sample, "frame", 0)))


def decide_split(ds, job, split_path: Path, *, from_file: bool, given: dict[str, list[int]] | None,
                 dist, sink) -> dict[str, np.ndarray]:
    """The parts of this run as sample indices, ``{"train": …, "val": …, "test": …}``.

    Parameters
    ----------
    ds : LabelledDataset
    job : Job
        Its ``split`` (fractions, seed) is used for a fresh split.
    split_path : Path
        ``split.json`` of the run folder: read when ``from_file`` (a resumed run), else
        written by the main process.
    from_file : bool
        Reuse the saved split when there is one.
    given : dict, optional
        Explicit parts (k-fold search) instead of a fresh split.
    dist : trainer.distributed.Dist
        Every process gets the main process's split.
    sink : EventSink

    Raises
    ------
    JobFailed
        If the saved split is unreadable or names files that are gone, or the data set
        cannot be split.
    """
    from trainer.data.splits import SplitError, stratified_split

    keys = [_sample_key(s) for s in ds.samples]
    parts = None
    if from_file and split_path.exists():
        parts = _read_split(split_path, keys, sink)
    if parts is None and given is not None:
        parts = {k: [int(i) for i in given.get(k, [])] for k in PART_NAMES}
        if dist.main:
            write_or_fail(split_path, lambda p: write_json(p, split_json(ds, job.split, parts)))
    if parts is None:
        try:
            s = stratified_split(ds.strata(), ds.groups(), val_fraction=job.split.val,
                                 test_fraction=job.split.test, seed=job.split.seed)
        except SplitError as err:
            raise JobFailed(f"cannot split {ds.summary.source}: {err}") from None
        parts = {"train": s.train.tolist(), "val": s.val.tolist(), "test": s.test.tolist()}
        parts = dist.broadcast(parts)
        if dist.main:
            write_or_fail(split_path, lambda p: write_json(p, split_json(ds, job.split, parts)))
    return {k: np.asarray(v, np.int64) for k, v in parts.items()}


def split_json(ds, split, parts: dict[str, list[int]]) -> dict:
    """The content of ``split.json``: every part's files, frames, patients and strata."""
    return {"format": 1, "dataset": ds.summary.source, "task": ds.task, "classes": ds.classes,
            "seed": split.seed, "fractions": {"val": split.val, "test": split.test},
            "parts": {name: [{"file": str(sample_path(ds.samples[i])), "frame": getattr(ds.samples[i], "frame", 0),
                              "group": ds.samples[i].group, "stratum": int(ds.samples[i].stratum)}
                             for i in idx] for name, idx in parts.items()}}


def saved_split(path: str | Path):
    """A finished run's data set and parts, from its ``split.json`` alone.

    The data set is discovered again where ``split.json`` says it was (for segmentation,
    with the classes it records) and the parts are matched by file and frame.

    Returns
    -------
    dataset : trainer.data.datasets.LabelledDataset
    parts : dict
        ``{"train": …, "val": …, "test": …}`` sample indices.

    Raises
    ------
    JobFailed
        If ``split.json`` is unreadable or names files that are gone.
    trainer.data.datasets.DatasetError
        If the data set cannot be discovered any more.
    """
    from trainer.data.datasets import discover, discover_segmentation

    path = Path(path)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        source, task = saved["dataset"], saved["task"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise JobFailed(f"{path} is unreadable ({one_line(err, 200)})") from None
    ds = (discover_segmentation(source, class_names=list(saved.get("classes") or []))
          if task == "segmentation" else discover(source))
    parts = _read_split(path, [_sample_key(s) for s in ds.samples], None,
                        "cannot use the saved split")
    return ds, {k: np.asarray(v, np.int64) for k, v in parts.items()}


def _read_split(path: Path, keys: list[tuple[str, int]], sink,
                what: str = "cannot resume") -> dict[str, list[int]]:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        where = {k: i for i, k in enumerate(keys)}
        parts, missing = {}, []
        for name in PART_NAMES:
            parts[name] = []
            for item in saved["parts"][name]:
                key = (str(Path(item["file"]).resolve()), int(item.get("frame", 0)))
                if key in where:
                    parts[name].append(where[key])
                else:
                    missing.append(item["file"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise JobFailed(f"{what}: {path} is unreadable ({one_line(err, 200)})") from None
    if missing:
        raise JobFailed(f"{what}: the data set changed since the job started; {len(missing)} "
                        f"file(s) of the saved split are gone (e.g. {missing[0]}); start a new job")
    new = len(keys) - sum(len(v) for v in parts.values())
    if new and sink is not None:
        sink.log("warning", f"{new} image(s) added to the data set since the job started are "
                            "not used by this resumed run")
    return parts
