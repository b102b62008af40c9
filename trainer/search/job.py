"""A hyper-parameter search run as a job: ``python -m trainer.search.job`` and ``medview search``.

What :func:`run` adds to :func:`trainer.search.run.run_search` is what the job queue
(:mod:`trainer.jobs`) and the trainer tab expect of any job, exactly as a training run
does it (``trainer/JOBS.md``):

* every event goes to stdout **and** is appended to ``OUT/events.jsonl``, ending with
  one ``finished`` (its ``model`` is the path of ``best_job.json``), ``failed`` or
  ``cancelled`` event;
* ``OUT/state.json`` says ``running``, then ``finished`` / ``failed`` / ``cancelled``;
* a cancel file in ``OUT`` or SIGTERM / SIGINT / CTRL_BREAK stops it after the current
  batch; the trials finished by then are kept (``best_job.json`` too);
* exit status 0 finished, 1 failed, 2 invalid job, 3 cancelled; ``--start-next`` starts
  the next queued job when it ends.

Settings come from the command line, else the job's ``search`` block
(:mod:`trainer.search_spec`), else :class:`~trainer.search_spec.SearchSpec`'s defaults.

The command line lives here, not in :mod:`trainer.search.run`, which this module calls:
the search itself never imports the job that runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from medview.core.errors import one_line
from trainer import events as ev
from trainer.cancel import CANCEL_FILE, CancelToken
from trainer.search.results import BEST_JOB_NAME
from trainer.search_spec import SearchSpec
from trainer.sink import EventSink

__all__ = ["EXIT_FINISHED", "EXIT_FAILED", "EXIT_INVALID", "EXIT_CANCELLED", "configure", "run",
           "main"]

EXIT_FINISHED, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELLED = 0, 1, 2, 3


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the search's arguments to ``parser``."""
    d = SearchSpec()
    parser.add_argument("job", help="training job JSON (trainer/JOBS.md), optionally with a 'search' block")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (events.jsonl, state.json, trials.json, best.json, best_job.json, runs/)")
    parser.add_argument("--trials", type=int, help=f"Optuna trials (default: the job's search block, else {d.trials})")
    parser.add_argument("--folds", type=int, help=f"k of the patient k-fold (default: the block, else {d.folds})")
    parser.add_argument("--epochs", type=int, help=f"epochs per fold run (default: the block, else {d.epochs})")
    parser.add_argument("--seed", type=int, help="seeds the sampler and the folds (default: the block, else 0)")
    parser.add_argument("--start-next", action="store_true",
                        help="(job queue) when this search ends, start the next queued job")


def _spec(args: argparse.Namespace, block: SearchSpec | None) -> SearchSpec:
    base = block or SearchSpec()
    return SearchSpec(*(getattr(args, k) if getattr(args, k) is not None else getattr(base, k)
                        for k in ("trials", "folds", "epochs", "seed")))


def run(args: argparse.Namespace) -> int:
    """Run the search ``args`` describe as a job (see the module docstring); returns the exit status."""
    from trainer.cli import quiet_threads
    from trainer.config import JobError
    from trainer.search.run import load_search_job, search_job_id

    quiet_threads()
    job_path, out = Path(args.job), Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"trainer.search.job: cannot create {out}: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        job, _data, block = load_search_job(job_path)
    except JobError as err:
        sink = EventSink(out.name or "search", out / "events.jsonl")
        return _end(sink, out, EXIT_INVALID, reason=f"{job_path}: {err}")
    sink = EventSink(search_job_id(job), out / "events.jsonl")
    token = CancelToken(out / CANCEL_FILE).install()
    token.clear_file()
    try:
        _write_state(sink, out, "running", pid=os.getpid(), reason=None)
        code = _search(job_path, out, _spec(args, block), sink, token)
    finally:
        token.uninstall()
    if args.start_next:
        _start_next(out)
    return code


def _search(job_path: Path, out: Path, spec: SearchSpec, sink: EventSink, token: CancelToken) -> int:
    from trainer.search.run import SearchCancelled, SearchError, run_search

    try:
        result = run_search(job_path, trials=spec.trials, folds=spec.folds, epochs=spec.epochs, seed=spec.seed,
                            out_dir=out, emit=sink.emit, cancel=token)
    except SearchCancelled:
        return _end(sink, out, EXIT_CANCELLED, reason=f"cancelled ({token.reason}) before a trial finished")
    except SearchError as err:
        return _end(sink, out, EXIT_FAILED, reason=str(err))
    except ImportError as err:
        return _end(sink, out, EXIT_FAILED, reason=f"{err} (pip install optuna)")
    except Exception as err:  # a bug or an unforeseen library error: still a clean ending
        reason = f"internal error: {type(err).__name__}: {one_line(err, 300)}"
        return _end(sink, out, EXIT_FAILED, reason=reason, detail=traceback.format_exc())
    if result["cancelled"]:
        return _end(sink, out, EXIT_CANCELLED, reason=(
            f"cancelled ({token.reason}) after {result['finished']} of {result['planned']} trials; the best "
            f"so far is in {BEST_JOB_NAME}"))
    best = result["best"]
    _write_state(sink, out, "finished", reason=None, ended=True)
    sink.emit(ev.Finished(job=sink.job_id, model=str(out / BEST_JOB_NAME), best_metric=best["mean"],
                          metric_name=result["metric"]))
    return EXIT_FINISHED


def _end(sink: EventSink, out: Path, code: int, reason: str, detail: str | None = None) -> int:
    """state.json, then the terminal event (a reader seeing the event finds the state written)."""
    cancelled = code == EXIT_CANCELLED
    _write_state(sink, out, "cancelled" if cancelled else "failed", reason=reason, ended=True)
    sink.emit(ev.Cancelled(job=sink.job_id) if cancelled else ev.Failed(job=sink.job_id, reason=reason,
                                                                        detail=detail))
    if not cancelled:
        print(f"trainer.search.job: {reason}", file=sys.stderr)
    return code


def _write_state(sink: EventSink, out: Path, state: str, **fields) -> None:
    from trainer.checkpoints import describe_os_error
    from trainer.jobs import write_state

    try:
        write_state(out, state, **fields)
    except OSError as err:
        sink.log("error", describe_os_error(err, out / "state.json"))


def _start_next(out: Path) -> None:
    from trainer import jobs

    try:
        jobs.start_next(out.parent)
    except Exception as err:  # the search itself is done; a queue problem must not change its status
        print(f"trainer.search.job: could not start the next queued job: {err}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainer.search.job JOB.json --out DIR [--trials N] [--folds K] [--epochs E] [--seed S]``."""
    parser = argparse.ArgumentParser(prog="python -m trainer.search.job",
                                     description="Hyper-parameter search of a training job "
                                                 "(trainer/JOBS.md)")
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
