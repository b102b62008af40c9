"""Make the int8 graphs of the shipped demo models, on the data they were trained on.

Recipe (seeded; no network): the demo data of :mod:`scripts.train_demo_models`
(``medview demo-data WORK/data --n 150 --size 256 --seed 0 --masks``), each demo job's split made
again by the trainer's own code (the same seed gives the same patients; the test images are
checked against the shipped ``evaluation.json``), then :func:`trainer.int8.quantize_entry`:
calibration on the validation images, the check on the test images, the outcome written
into ``models/<name>/model.json`` (and ``model.int8.onnx`` where it is kept).

Usage::

    python scripts/quantize_demo_models.py [--work /tmp/medview-demo-models]

About a minute per model on a 2-core CPU (the data takes another two minutes once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.train_demo_models import JOBS, MODELS, demo_data_command  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/medview-demo-models"),
                        help="folder for the demo data and the splits (default /tmp/medview-demo-models)")
    parser.add_argument("--only", choices=sorted(JOBS), help="quantize one of the two")
    args = parser.parse_args(argv)
    from medview.inference.quantize import describe
    from medview.inference.registry import SHIPPED, Registry
    from trainer.int8 import quantize_entry

    work = args.work.resolve()
    data = work / "data"
    if not (data / "labels.csv").exists():
        subprocess.run(demo_data_command(data), check=True, cwd=ROOT)
    registry = Registry([(MODELS, SHIPPED)])
    for job in ([JOBS[args.only]] if args.only else JOBS.values()):
        split = make_split(job, work)
        entry, spec = quantize_entry(registry.find(job["name"]), split, progress=print)
        print(f"{entry.name}: {describe(spec)}")
    return 0


def make_split(job_data: dict, work: Path) -> Path:
    """The job's split, made by the trainer as the training run made it; its test images
    must be those of the shipped ``evaluation.json``."""
    from trainer.config import parse_job
    from trainer.data.discovery import read_dataset
    from trainer.distributed import Dist
    from trainer.run_split import decide_split
    from trainer.sink import EventSink

    job = parse_job(job_data, base_dir=work)
    ds = read_dataset(job.dataset)
    folder = work / f"{job.name}-split"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "split.json"
    decide_split(ds, job, path, from_file=False, given=None, dist=Dist(), sink=EventSink(job.name, None))
    made = json.loads(path.read_text(encoding="utf-8"))["parts"]["test"]
    shipped = json.loads((MODELS / job.name / "evaluation.json").read_text(encoding="utf-8"))["predictions"]
    if sorted(_tail(p["file"]) for p in made) != sorted(_tail(p["file"]) for p in shipped):
        raise SystemExit(f"{job.name}: the split made again differs from the shipped model's test set")
    return path


def _tail(path: str) -> str:
    """A file name with its class folder, the same whichever root the report names."""
    return "/".join(Path(path).parts[-2:])


if __name__ == "__main__":
    sys.exit(main())
