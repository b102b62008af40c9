"""``medview demo-data``: write the synthetic chest-radiograph data set for trying the trainer."""

from __future__ import annotations

import sys
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError


def run_demo_data(out: Path, n: int, size: int, seed: int, masks: bool = False) -> int:
    """Write the demo data set into ``out`` (a new or empty folder) and say what was written.

    Raises
    ------
    CliError
        If ``out`` is a file or a folder that is not empty (mixing an old and a new set
        would silently change the data), or ``n``/``size`` is too small.
    """
    from medview.demo.demo_data import MIN_N, MIN_SIZE, write_demo_data

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out}: already exists and is not an empty folder; choose a new folder")
    if n < MIN_N:
        raise CliError(f"--n must be at least {MIN_N}, got {n}")
    if size < MIN_SIZE:
        raise CliError(f"--size must be at least {MIN_SIZE}, got {size}")
    print(f"writing {3 * n} synthetic images ({size}×{size}) to {out} …", file=sys.stderr, flush=True)
    result = write_demo_data(out, n=n, size=size, seed=seed, progress=_progress, masks=masks)
    patients = len({im.patient_id for im in result.classification})
    print(f"{out}: {len(result.classification)} classification images ({n} normal, {n} lesion, "
          f"{patients} patients) in classification/ and labels.csv"
          + (" (lesion masks in classification/masks/)" if masks else "") + "; "
          f"{len(result.segmentation)} segmentation images with masks in segmentation/")
    return EXIT_OK


def _progress(done: int, total: int) -> None:
    # a line every tenth, so a slow clinic PC shows it is working without flooding a log
    if done == total or done % max(1, total // 10) == 0:
        print(f"  {done}/{total}", file=sys.stderr, flush=True)
