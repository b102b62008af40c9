"""The training run: data → split → model → epochs → best checkpoint → test report → model folder.

:func:`run_job` is what ``python -m trainer JOB.json`` and ``medview train JOB.json`` call.
It reports every step as events (:mod:`trainer.events`) on stdout and appends them to
``events.jsonl`` in the run folder, keeps ``state.json`` there up to date, and returns
an exit status:

=====  ==================================================================
0      finished: ``model/`` holds the trained model, ready to register
1      failed: the ``failed`` event says why (bad data, disk full, …)
2      the job file is invalid (a ``failed`` event names the field)
3      cancelled: a checkpoint was saved, ``--resume`` continues
4      finished, but ``--register`` could not install the model
=====  ==================================================================

Run folder layout::

    job.resolved.json        the job with every default filled in, and the recipe's choices
    split.json               which files (and patients) are train / val / test
    state.json               queued | running | finished | failed | cancelled, pid, times
    events.jsonl             every event of every attempt, appended
    checkpoints/last.pt      resume state (torch.load(weights_only=True) opens it)
    checkpoints/best.safetensors   weights of the best validation epoch so far (with
                             final_weights 'last': of the last epoch)
    model/                   model.json + weights.safetensors + card.md +
                             evaluation.json + charts (*.png), written at the end

The steps live in their own modules: :mod:`trainer.device`, :mod:`trainer.data.discovery`,
:mod:`trainer.run_split`, :mod:`trainer.trainings` (the recipe of :mod:`trainer.recipe`
from the fingerprint of :mod:`trainer.data.fingerprint`, :mod:`trainer.network`, the time
budget of :mod:`trainer.budget`), :mod:`trainer.preparation`, then
:class:`trainer.epochs.Training` (with :mod:`trainer.optim`, :mod:`trainer.monitor`,
:mod:`trainer.steps`, :mod:`trainer.aux_mask` and :mod:`trainer.resume`), and
:mod:`trainer.finish` (with :mod:`trainer.model_card` and :mod:`trainer.model_folder`). Each raises
:class:`trainer.errors.JobFailed` or :class:`~trainer.errors.JobCancelled`, which
:func:`run_job` turns into events and an exit status.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import IO

from medview.core.errors import MedviewError, one_line
from trainer import events as ev
from trainer.cancel import CANCEL_FILE, CancelToken
from trainer.checkpoints import describe_os_error, write_json
from trainer.config import Job
from trainer.errors import JobCancelled, JobFailed, write_or_fail
from trainer.job_common import CHECKPOINT_DIR, EVENTS_NAME, MODEL_DIR, RESOLVED_NAME, SPLIT_NAME
from trainer.sink import EventSink

__all__ = ["EXIT_FINISHED", "EXIT_FAILED", "EXIT_INVALID", "EXIT_CANCELLED", "EXIT_REGISTER_FAILED",
           "run_job"]

EXIT_FINISHED, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELLED, EXIT_REGISTER_FAILED = 0, 1, 2, 3, 4


def run_job(job: Job, run_dir: str | Path, *, resume: bool = False, register: bool = False,
            force: bool = False, stream: IO[str] | None = None, job_id: str | None = None,
            split: dict[str, list[int]] | None = None, cancel: CancelToken | None = None) -> int:
    """Run a training job to its end (see the module docstring for exit statuses).

    Parameters
    ----------
    job : Job
        From :func:`trainer.config.load_job`.
    run_dir : str or Path
        The run folder (created if needed).
    resume : bool
        Continue from ``checkpoints/last.pt`` when there is one (also ``"resume": true``
        in the job).
    register : bool
        Install the trained model in the user registry at the end.
    force : bool
        Register it even when its validation score is at or below chance.
    stream : text stream, optional
        Where events go besides ``events.jsonl`` (default ``sys.stdout``).
    job_id : str, optional
        Default: the job's ``id``, else the run folder's name.
    split : dict, optional
        Explicit parts ``{"train": [...], "val": [...], "test": [...]}`` (indices into the
        discovered samples) instead of the job's ``split`` fractions; used by k-fold
        search (``trainer/search/run.py``). A resumed run still reads its saved ``split.json``.
    cancel : CancelToken, optional
        A token owned by the caller (k-fold search: one token for every fold run, watching
        the search's own cancel file and signals); default: a token on this run folder's
        cancel file, with signal handlers installed for the run.
    """
    from trainer import jobs

    run_dir = Path(run_dir).resolve()
    job_id = job_id or job.id or run_dir.name
    sink = EventSink(job_id, None, stream)
    token = cancel if cancel is not None else CancelToken(run_dir / CANCEL_FILE)
    owned = token if cancel is None else None  # a caller's token is the caller's to install and clear
    dist = None
    try:
        import torch

        from trainer import distributed
        from trainer.device import select_device

        device = select_device(job.device)
        dist = distributed.setup(device.type == "cuda")
        if dist.enabled and device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
        sink.enabled = dist.main
        if dist.main:
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                sink.events_file = run_dir / EVENTS_NAME
                jobs.write_state(run_dir, "running", pid=os.getpid(), reason=None)
            except OSError as err:
                raise JobFailed(describe_os_error(err, run_dir)) from None
        dist.barrier()
        if owned:
            owned.install()
        if dist.main and owned:
            owned.clear_file()
        dist.barrier()
        _execute(job, run_dir, job_id, dist, sink, token, device, split, resume or job.resume)
    except JobCancelled:
        _end(sink, dist, run_dir, "cancelled", reason=f"cancelled ({token.reason})")
        sink.emit(ev.Cancelled(job=job_id))
        return _close(dist, owned, EXIT_CANCELLED)
    except KeyboardInterrupt:
        sink.log("warning", "stopped at once (second interrupt); the last saved checkpoint is kept")
        _end(sink, dist, run_dir, "cancelled", reason="interrupted")
        sink.emit(ev.Cancelled(job=job_id))
        return _close(dist, owned, EXIT_CANCELLED)
    except JobFailed as err:
        return _close(dist, owned, _fail(sink, dist, run_dir, job_id, err.reason, err.detail))
    except MedviewError as err:  # expected: a write that failed, a data set that cannot be used, ...
        return _close(dist, owned, _fail(sink, dist, run_dir, job_id, err.message, None))
    except OSError as err:
        where = getattr(err, "filename", None) or run_dir
        return _close(dist, owned, _fail(sink, dist, run_dir, job_id, describe_os_error(err, where),
                                         traceback.format_exc()))
    except MemoryError:
        return _close(dist, owned, _fail(
            sink, dist, run_dir, job_id, "out of memory: lower batch_size or input size, or set "
            "\"cache\": false", traceback.format_exc()))
    except Exception as err:  # a bug or an unforeseen library error: still a clean event
        reason = f"internal error: {type(err).__name__}: {one_line(err, 300)}"
        return _close(dist, owned, _fail(sink, dist, run_dir, job_id, reason, traceback.format_exc()))
    code = EXIT_FINISHED
    if register and dist.main:
        code = (_register_backbone(run_dir, sink) if job.task == "pretrain"
                else _register(run_dir, sink, force, job.int8))
    return _close(dist, owned, code)


def _execute(job: Job, run_dir: Path, job_id: str, dist, sink: EventSink, token: CancelToken, device,
             split: dict[str, list[int]] | None, resume: bool) -> None:
    """data → split → recipe + network → prepared images → epochs → (main process) model folder."""
    import torch

    if job.task == "pretrain":
        _pretrain(job, run_dir, job_id, dist, sink, token, device, resume)
        return

    from trainer.budget import Budget
    from trainer.data.discovery import discover_dataset
    from trainer.finish import finish
    from trainer.preparation import prepare_sources
    from trainer.resume import find_checkpoint
    from trainer.run_split import decide_split
    from trainer.trainings import apply_recipe, fit_trainings, plan_training

    torch.manual_seed(job.seed)
    if dist.main:  # as parsed; written again below with the recipe's choices
        write_or_fail(run_dir / RESOLVED_NAME, lambda p: write_json(p, job.to_dict()))
    ckpt_dir, split_path = run_dir / CHECKPOINT_DIR, run_dir / SPLIT_NAME
    checkpoint = find_checkpoint(run_dir, ckpt_dir, split_path, resume, dist, sink)
    budget = Budget(job.time_budget_minutes, float(checkpoint.get("spent_s", 0.0)) if checkpoint else 0.0)
    dataset = discover_dataset(job, sink)
    parts = decide_split(dataset, job, split_path, from_file=checkpoint is not None, given=split,
                         dist=dist, sink=sink)
    parsed = job
    job, recipe, net = apply_recipe(job, dataset, parts, device, budget, dist, sink)
    data = prepare_sources(dataset, parts, net.manifest, net.binary_seg, job, dist, sink, token)
    job, pace = plan_training(parsed, job, recipe, data.sizes, budget)

    def record(second=None) -> None:
        if dist.main:
            resolved = dict(job.to_dict(), recipe=recipe.to_dict())
            if second is not None:
                resolved["random_start"] = second.to_dict()
            write_or_fail(run_dir / RESOLVED_NAME, lambda p: write_json(p, resolved))

    record()
    sink.log("info", recipe.describe())
    sink.emit(ev.JobStarted(job=job_id, task=dataset.task, model=job.model.label,
                            dataset=dataset.summary.to_dict(), split=data.sizes,
                            device=str(device) + (f" ×{dist.world}" if dist.enabled else ""),
                            recipe=recipe.to_dict()))
    run = {"job_id": job_id, "dataset": dataset, "dist": dist, "sink": sink, "token": token, "device": device}
    training = fit_trainings(parsed, job, pace, recipe, run, net, data, ckpt_dir, checkpoint, resume,
                             on_plan=record)
    dist.barrier()
    if dist.main:
        model_dir = finish(training, run_dir / MODEL_DIR, SPLIT_NAME)
        sink.emit(ev.Finished(job=job_id, model=str(model_dir), best_metric=training.best["metric"],
                              metric_name=training.monitor))
        _end(sink, dist, run_dir, "finished", reason=None)
        torch.set_grad_enabled(True)


def _pretrain(job, run_dir: Path, job_id: str, dist, sink: EventSink, token: CancelToken, device,
              resume: bool) -> None:
    """Self-supervised pre-training (:mod:`trainer.pretrain`) → ``backbone/``."""
    from trainer.pretrain.run import pretrain

    result = pretrain(job, run_dir, job_id, dist, sink, token, device, resume)
    if result is not None:
        sink.emit(ev.Finished(job=job_id, model=str(result.folder), best_metric=result.loss,
                              metric_name="loss"))
        _end(sink, dist, run_dir, "finished", reason=None)


def _register_backbone(run_dir: Path, sink: EventSink) -> int:
    from medview.inference.backbones import BackboneError
    from trainer.pretrain.register import register_run, usage

    try:
        info, path = register_run(run_dir)
    except BackboneError as err:
        sink.log("error", f"the backbone was trained but not registered: {err}")
        return EXIT_REGISTER_FAILED
    sink.log("info", f"registered backbone '{info.name}' version {info.version} in {path}; {usage(info)}")
    return EXIT_FINISHED


def _register(run_dir: Path, sink: EventSink, force: bool, int8: bool) -> int:
    from trainer.register import RegistrationError, register

    try:
        entry = register(run_dir, force=force, int8=int8, progress=lambda m: sink.log("info", m))
    except RegistrationError as err:
        sink.log("error", f"the model was trained but not registered: {err}")
        return EXIT_REGISTER_FAILED
    sink.log("info", f"registered as '{entry.name}' version {entry.version} in {entry.path}; "
                     f"use it with: medview analyze --model {entry.name} FILES")
    return EXIT_FINISHED


def _fail(sink: EventSink, dist, run_dir: Path, job_id: str, reason: str, detail: str | None) -> int:
    _end(sink, dist, run_dir, "failed", reason=reason)
    sink.emit(ev.Failed(job=job_id, reason=reason, detail=detail))
    return EXIT_FAILED


def _end(sink: EventSink, dist, run_dir: Path, state: str, reason: str | None) -> None:
    from trainer import jobs

    if dist is not None and not dist.main:
        return
    try:
        jobs.write_state(run_dir, state, reason=reason, ended=True)
    except OSError as err:
        sink.log("error", describe_os_error(err, run_dir / "state.json"))


def _close(dist, token: CancelToken | None, code: int) -> int:
    if token is not None:
        token.uninstall()
    if dist is not None:
        try:
            dist.close()
        except Exception:
            pass
    return code
