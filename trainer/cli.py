"""The trainer's command line (``python -m trainer JOB.json``): run a training job;
JSON-line events on stdout.

``medview train JOB.json`` runs exactly this (:func:`configure` and :func:`run` are shared),
and so does ``torchrun --nproc_per_node N -m trainer JOB.json`` (see
:mod:`trainer.distributed`). Exit statuses: see :mod:`trainer.loop`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the trainer's arguments to ``parser``."""
    parser.add_argument("job", help="the job file (JSON; see trainer/JOBS.md)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the run folder's last checkpoint")
    parser.add_argument("--register", action="store_true",
                        help="when finished, install the model so 'medview analyze --model NAME' uses it")
    parser.add_argument("--force", action="store_true",
                        help="with --register: register even a model whose best validation score is at "
                             "or below chance (refused otherwise)")
    parser.add_argument("--output", metavar="DIR",
                        help="run folder (default: the job's 'output', else next to the job file)")
    parser.add_argument("--start-next", action="store_true",
                        help="(job queue) when this job ends, start the next queued job")


def run(args: argparse.Namespace) -> int:
    """Validate the job and run it; an invalid job is reported as a ``failed`` event (exit 2)."""
    from trainer import events as ev
    from trainer.config import JobError, load_job, run_dir_for
    from trainer.loop import EXIT_INVALID, run_job

    job_path = Path(args.job)
    try:
        job = load_job(job_path)
    except JobError as err:
        job_id = job_path.parent.name if job_path.name == "job.json" else (job_path.stem or "job")
        ev.emit(ev.Failed(job=job_id, reason=f"{job_path}: {err}", detail=None))
        _mark_failed(job_path, str(err))
        return EXIT_INVALID
    run_dir = Path(args.output) if args.output else run_dir_for(job_path, job)
    code = run_job(job, run_dir, resume=args.resume, register=args.register, force=args.force)
    if args.start_next and os.environ.get("RANK", "0") == "0":
        _start_next(run_dir)
    return code


def _mark_failed(job_path: Path, reason: str) -> None:
    """An invalid job in the queue is marked failed (so the queue does not wait on it)."""
    if job_path.name != "job.json" or not (job_path.parent / "state.json").exists():
        return
    from trainer.jobs import write_state

    try:
        write_state(job_path.parent, "failed", reason=reason, ended=True)
    except OSError:
        pass


def _start_next(run_dir: Path) -> None:
    from trainer import jobs

    try:
        jobs.start_next(run_dir.parent)
    except Exception as err:  # the job itself is done; a queue problem must not change its status
        print(f"trainer: could not start the next queued job: {err}", file=sys.stderr)


def quiet_threads() -> None:
    """Make idle compute threads sleep instead of spin (before torch is imported).

    The trainer shares the clinic PC's few cores with the viewer (and DataLoader
    workers); OpenMP threads that spin while waiting turn every moment another process
    holds a core into a stall (measured here: a 2-core machine with one busy neighbour
    ran a training step 10–40× slower with spinning threads than with sleeping ones).
    An ``OMP_WAIT_POLICY`` set by the user wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: Sequence[str] | None = None) -> int:
    quiet_threads()
    multiprocessing.freeze_support()  # DataLoader workers in a frozen (PyInstaller) build
    parser = argparse.ArgumentParser(prog="python -m trainer",
                                     description="Fine-tune a model on labelled images (headless).")
    configure(parser)
    args = parser.parse_args(argv)
    return run(args)
