"""``medview train``, ``search``, ``register-model`` and ``jobs``: the trainer from the command line.

``medview train JOB.json`` runs the same code as ``python -m trainer JOB.json``
(:mod:`trainer.cli`): JSON-line events on stdout, exit status 0 finished, 1 failed,
2 invalid job, 3 cancelled, 4 finished but not registered. ``--queue`` instead adds the
job to the on-disk queue (:mod:`trainer.jobs`) and starts it in the background.
``medview search JOB.json --out DIR`` is ``python -m trainer.search.job``;
the frozen app's job queue runs searches through it. Nothing here imports torch; the
trainer does when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError, print_json


# ----------------------------------------------------------------------- train

def configure_train(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``medview train`` (those of ``python -m trainer``, plus ``--queue``)."""
    from trainer.cli import configure

    configure(parser)
    parser.add_argument("--queue", action="store_true",
                        help="add the job to the job queue and start it in the background "
                             "(see 'medview jobs'); prints the job id and returns")


def run_train(args: argparse.Namespace) -> int:
    if args.queue:
        return _queue_job(Path(args.job), register=args.register)
    from trainer.cli import quiet_threads, run

    quiet_threads()
    return run(args)


def _queue_job(path: Path, register: bool) -> int:
    from trainer import jobs
    from trainer.config import JobError

    try:
        info = jobs.enqueue(path)
    except JobError as err:
        raise CliError(f"{path}: {err}") from None
    started = jobs.start_next(register=register)
    where = "started" if started is not None and started.id == info.id else "queued (another job is running)"
    print(f"{info.id}: {where}; follow it with 'medview jobs show {info.id}' "
          f"or read {info.events_file}")
    return EXIT_OK


# ----------------------------------------------------------------------- search

def configure_search(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``medview search`` (those of ``python -m trainer.search.job``)."""
    from trainer.search.job import configure

    configure(parser)


def run_search(args: argparse.Namespace) -> int:
    from trainer.search.job import run

    return run(args)


# ----------------------------------------------------------------------- register-model

def configure_register(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``medview register-model`` (and ``medview models register``)."""
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="a finished training job's folder (or its model/ folder), or a "
                             "pretrain job's (its backbone/ is installed as a backbone)")
    parser.add_argument("--name", help="register under another name than the job gave")
    parser.add_argument("--version", help="register under another version than the job gave")
    parser.add_argument("--replace", action="store_true",
                        help="overwrite an installed model with the same name and version")
    parser.add_argument("--force", action="store_true",
                        help="register even a model whose best validation score is at or below chance")
    parser.add_argument("--no-int8", action="store_true",
                        help="do not make the int8 graph (by default it is made from the run's "
                             "validation images and kept only if it keeps the test AUC / Dice)")


def run_register(args: argparse.Namespace) -> int:
    from trainer.pretrain.register import is_pretrain_run
    from trainer.register import RegistrationError, register

    if is_pretrain_run(args.run_dir):
        return _register_backbone(args)
    try:
        entry = register(Path(args.run_dir), name=args.name, version=args.version,
                         replace_existing=args.replace, force=args.force,
                         int8=not args.no_int8, progress=print)
    except RegistrationError as err:
        raise CliError(str(err)) from None
    print(f"registered {entry.name} {entry.version} in {entry.path}; use it with "
          f"'medview analyze --model {entry.name} FILES'")
    return EXIT_OK


def _register_backbone(args: argparse.Namespace) -> int:
    """A pretrain run's folder: install its backbone (``--force`` does not apply)."""
    from medview.inference.backbones import BackboneError
    from trainer.pretrain.register import register_run, usage

    try:
        info, path = register_run(args.run_dir, name=args.name, version=args.version,
                                  replace_existing=args.replace)
    except BackboneError as err:
        raise CliError(str(err)) from None
    print(f"registered backbone {info.name} {info.version} in {path}; {usage(info)}")
    return EXIT_OK


# ----------------------------------------------------------------------- jobs

def configure_jobs(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``medview jobs``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="queued, running and past jobs")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add = actions.add_parser("add", help="add a job file to the queue")
    add.add_argument("job", help="the job file (JSON)")
    add.add_argument("--start", action="store_true", help="start it now if nothing else runs")
    show = actions.add_parser("show", help="a job's state and its latest events")
    show.add_argument("id", help="job id (see 'medview jobs list')")
    show.add_argument("--json", action="store_true", help="print JSON")
    start = actions.add_parser("start", help="start (or resume) a job in the background")
    start.add_argument("id")
    start.add_argument("--resume", action="store_true", help="continue from its last checkpoint")
    start.add_argument("--register", action="store_true", help="register the model when it finishes")
    cancel = actions.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("id")
    cancel.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for a graceful stop before killing (default 30)")
    remove = actions.add_parser("remove", help="delete a job that is not running")
    remove.add_argument("id")


def run_jobs(args: argparse.Namespace) -> int:
    from trainer import jobs
    from trainer.config import JobError

    try:
        if args.action == "list":
            found = jobs.list_jobs()
            if args.json:
                print_json([j.to_dict() for j in found])
            elif not found:
                print(f"no jobs in {jobs.queue_dir()}")
            for j in ([] if args.json else found):
                reason = f"  ({j.reason})" if j.reason and j.state in ("failed", "cancelled") else ""
                where = f" on {j.host}" if j.state == "running" and j.elsewhere else ""
                print(f"{j.id}  {j.state}{where}{reason}")
        elif args.action == "add":
            info = jobs.enqueue(Path(args.job))
            print(f"{info.id}: queued")
            if args.start and jobs.start_next() is not None:
                print(f"{info.id}: started")
        elif args.action == "show":
            info = jobs.get(args.id)
            events = jobs.read_events(args.id)
            if args.json:
                print_json({**info.to_dict(), "events": [e.to_dict() for e in events[-20:]]})
            else:
                print(f"{info.id}: {info.state}" + (f" ({info.reason})" if info.reason else ""))
                for e in events[-10:]:
                    shown = {k: v for k, v in e.to_dict().items() if k not in ("v", "job", "dataset")}
                    print("  " + json.dumps(shown)[:200])
        elif args.action == "start":
            info = jobs.start(args.id, resume=args.resume, register=args.register)
            print(f"{info.id}: started (pid {info.pid})")
        elif args.action == "cancel":
            info = jobs.cancel(args.id, timeout=args.timeout)
            print(f"{info.id}: {info.state}" + (f" ({info.reason})" if info.reason else ""))
        elif args.action == "remove":
            jobs.remove(args.id)
            print(f"{args.id}: removed")
    except (jobs.QueueError, JobError) as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"job queue {jobs.queue_dir()}: {err}") from None
    sys.stdout.flush()
    return EXIT_OK
