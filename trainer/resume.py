"""Checkpointing a run: the best weights so far, the resume state ``last.pt``, and
continuing from it (``--resume``).

``last.pt`` is written after every epoch and when a cancel stops an epoch midway (then
with the batch reached and the partial loss), so a resumed run goes on from the same
batch when the process layout is the same.

Each function takes ``t``, the :class:`trainer.epochs.Training` being saved or restored;
it is not imported here (not even for type checking), because ``trainer.epochs`` calls
this module.
"""

from __future__ import annotations

import json
from pathlib import Path

from medview.core.errors import one_line
from trainer import events as ev
from trainer.checkpoints import (BEST_NAME, CHECKPOINT_FORMAT, LAST_NAME, load_checkpoint,
                                 save_checkpoint)
from trainer.errors import JobFailed, write_or_fail

__all__ = ["find_checkpoint", "restore", "resume_point", "save_best", "save_last"]


def find_checkpoint(run_dir: Path, ckpt_dir: Path, split_path: Path, resume: bool, dist, sink) -> dict | None:
    """The resume state to continue from, or None to start afresh.

    Starting afresh over an earlier run's checkpoint removes its ``split.json`` (the new
    run makes its own split).

    Raises
    ------
    JobFailed
        If ``last.pt`` exists but cannot be loaded.
    """
    last = ckpt_dir / LAST_NAME
    if not resume:
        if last.exists():
            sink.log("warning", f"{run_dir} holds a checkpoint of an earlier run; starting "
                                "afresh (use --resume to continue it instead)")
            if dist.main:
                split_path.unlink(missing_ok=True)
        return None
    if not last.exists():
        sink.log("info", "no checkpoint to resume from; starting from the beginning")
        return None
    try:
        state = load_checkpoint(last)
    except Exception as err:
        raise JobFailed(f"cannot resume: {last} is not a usable checkpoint ({one_line(err, 200)}); "
                        "start the job afresh") from None
    where = f"epoch {state['epoch']}" + (f", batch {state['batch']}" if state.get("batch") else "")
    sink.log("info", f"resuming from {last} ({where})")
    return state


def restore(t, state: dict) -> None:
    """Load a resume state into ``t``: weights, optimiser, scheduler, history, RNG, position.

    Raises
    ------
    JobFailed
        If the checkpoint was made for another model or does not fit this job.
    """
    saved = json.loads(state.get("manifest", "{}"))
    mine = json.loads(json.dumps(t.manifest.to_dict()))
    for key in ("task", "architecture", "classes", "input"):
        if saved.get(key) != mine.get(key):
            raise JobFailed(f"cannot resume: the checkpoint was made for another model ({key} differs: "
                            f"{json.dumps(saved.get(key))} vs {json.dumps(mine.get(key))}); start a new job")
    try:
        t.module.load_state_dict(state["model"])
        if t.aux_model is not None and state.get("aux"):
            t.aux_model.aux.load_state_dict(state["aux"])
        t.optimizer.load_state_dict(state["optimizer"])
        if t.scheduler is not None and state.get("scheduler"):
            t.scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise JobFailed(f"cannot resume: the checkpoint does not fit this job ({one_line(err, 200)})") from None
    t.history = list(state.get("history", []))
    t.best = dict(state.get("best", t.best))
    t.bad_epochs = int(state.get("bad_epochs", 0))
    if t.pace.adaptive and state.get("epochs"):
        t.epochs = int(state["epochs"])  # as re-planned for the budget
    t.start_epoch, t.skip_batches, t.partial = resume_point(state, t.dist.world, t.per_rank_batch, t.sink)
    if state.get("stopped_early"):
        t.stopped_early = True
        t.start_epoch = t.epochs + 1  # early stopping or the budget ended the training: only the end remains


def save_best(t, epoch: int) -> None:
    """Write the current weights as ``best.safetensors`` (main process only)."""
    if not t.dist.main:
        return
    from medview.inference.weights import write_safetensors

    path = t.ckpt_dir / BEST_NAME
    t.ckpt_dir.mkdir(parents=True, exist_ok=True)
    write_or_fail(path, lambda p: write_safetensors(t.module.state_dict(), p,
                                                    {"medview.job": t.job_id, "epoch": str(epoch)}))
    t.sink.emit(ev.CheckpointSaved(job=t.job_id, path=str(path), epoch=epoch,
                                   metric=t.best["metric"], metric_name=t.monitor))


def save_last(t, epoch: int, batch: int, loss_sum: float = 0.0, seen: int = 0,
              announce: bool = False) -> None:
    """Write the resume state ``last.pt`` after ``batch`` of ``epoch`` (0: the whole epoch).

    Main process only; nothing before the first epoch's first batch. ``announce`` emits a
    ``checkpoint_saved`` event (when a cancel stops the run).
    """
    import torch

    if not t.dist.main or epoch < 1 and not batch:
        return
    state = {
        "format": CHECKPOINT_FORMAT, "job": t.job_id, "epoch": epoch, "batch": batch,
        "epochs": t.epochs, "world": t.dist.world, "batch_size": t.per_rank_batch,
        "loss_sum": float(loss_sum), "seen": int(seen),
        "model": {k: v.detach().cpu() for k, v in t.module.state_dict().items()},
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.scheduler.state_dict() if t.scheduler is not None else {},
        "best": dict(t.best), "bad_epochs": t.bad_epochs, "history": list(t.history),
        "torch_rng": torch.get_rng_state(), "manifest": json.dumps(t.manifest.to_dict()),
        "stopped_early": bool(t.stopped_early), "spent_s": float(t.pace.budget.elapsed()),
    }
    if t.aux_model is not None:
        state["aux"] = {k: v.detach().cpu() for k, v in t.aux_model.aux.state_dict().items()}
    path = t.ckpt_dir / LAST_NAME
    write_or_fail(path, lambda p: save_checkpoint(p, state))
    if announce:
        t.sink.emit(ev.CheckpointSaved(job=t.job_id, path=str(path), epoch=epoch, metric=None,
                                       metric_name=None))


def resume_point(state: dict, world: int, per_rank_batch: int, sink) -> tuple[int, int, tuple[float, int]]:
    """Where a run goes on from a ``last.pt`` state, and restores its random generator.

    Returns
    -------
    start_epoch : int
    skip : int
        Batches of ``start_epoch`` already done (0: start it from its first batch; also
        when the processes or the batch size changed, which the log says).
    partial : (float, int)
        Loss sum and images seen in those batches.
    """
    import torch

    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    epoch, batch = int(state["epoch"]), int(state.get("batch", 0))
    if not batch:
        return epoch + 1, 0, (0.0, 0)
    if state.get("world") == world and state.get("batch_size") == per_rank_batch:
        return epoch, batch, (float(state.get("loss_sum", 0.0)), int(state.get("seen", 0)))
    sink.log("info", f"epoch {epoch} restarts from its first batch (the process layout changed)")
    return epoch, 0, (0.0, 0)
