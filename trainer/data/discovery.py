"""The job's labelled data set: found on disk, checked against the job, its warnings logged."""

from __future__ import annotations

from pathlib import Path

from trainer.errors import JobFailed

__all__ = ["read_dataset", "discover_dataset", "skipped_message"]


def read_dataset(spec):
    """Discover the data set named by a job's ``dataset`` field (a :class:`DatasetSpec`).

    Raises
    ------
    trainer.data.datasets.DatasetError
        If the data set cannot be used as given.
    """
    from trainer.data.datasets import discover, discover_segmentation

    if spec.class_names is not None:
        return discover_segmentation(spec.path, class_names=list(spec.class_names),
                                     check_pixels=spec.check_pixels)
    return discover(spec.path, check_pixels=spec.check_pixels)


def discover_dataset(job, sink):
    """The job's data set, with its warnings and skipped files logged to ``sink``.

    Returns
    -------
    trainer.data.datasets.LabelledDataset

    Raises
    ------
    JobFailed
        If the data set is unusable or does not fit the job (task, ``positive_class``).
    """
    from trainer.data.datasets import DatasetError

    spec = job.dataset
    try:
        if spec.class_names is not None:
            path = Path(spec.path)
            if not ((path / "images").is_dir() and (path / "masks").is_dir()):
                raise JobFailed(f"dataset.class_names is for segmentation, but {path} has no "
                                "images/ and masks/ folders")
        ds = read_dataset(spec)
    except DatasetError as err:
        raise JobFailed(str(err) + _empty_folders_hint(Path(spec.path))) from None
    if job.task and ds.task != job.task:
        raise JobFailed(f"the job's task is {job.task} but {spec.path} is laid out for "
                        f"{ds.task} (see trainer/JOBS.md for the layouts)")
    for warning in ds.summary.warnings:
        sink.log("warning", warning)
    if ds.summary.skipped:
        sink.log("warning", skipped_message(ds.summary.skipped, "not used"))
    if ds.task == "classification" and job.positive_class is not None \
            and job.positive_class not in ds.classes:
        raise JobFailed(f"positive_class '{job.positive_class}' is not one of the classes "
                        f"({', '.join(ds.classes)})")
    return ds


def skipped_message(skipped, what: str, limit: int = 10) -> str:
    """One line listing (up to ``limit``) skipped files and why: ``N file(s) WHAT: …``."""
    items = "; ".join(f"{p}: {r}" for p, r in list(skipped)[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"{len(skipped)} file(s) {what}: {items}{more}"


def _empty_folders_hint(root: Path) -> str:
    """For a data set that failed: name the class folders that hold no file at all."""
    try:
        if not root.is_dir() or (root / "images").is_dir():
            return ""
        empty = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                       and not any(p.is_file() for p in d.rglob("*")))
    except OSError:
        return ""
    return f" (empty class folder: {', '.join(empty)})" if empty else ""
