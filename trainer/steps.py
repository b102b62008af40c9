"""One epoch's work: the training pass over the batches, and the validation pass."""

from __future__ import annotations

import math
import time

from trainer import events as ev
from trainer.errors import JobFailed
from trainer.evaluate import finite_or_none

__all__ = ["train_epoch", "validate", "mean_loss", "BATCH_EVENT_INTERVAL_S"]

#: Least time between two ``batch`` events (the first and last batch are always reported).
BATCH_EVENT_INTERVAL_S = 0.5


def train_epoch(model, loader, optimizer, criterion, device, *, epoch: int, n_batches: int, skip: int,
                loss_sum: float, seen: int, lr: float, sink, job_id: str, world: int,
                stop_requested) -> tuple[float, int, int]:
    """Train on the loader's batches, emitting ``batch`` events.

    Parameters
    ----------
    model : torch.nn.Module
        The network (wrapped in DistributedDataParallel when distributed).
    loader : iterable
        Batches ``(x, y)`` or ``(x, y, masks)`` (lesion masks: ``criterion`` takes them), or
        None for a batch whose images were all unreadable.
    optimizer, criterion, device
    epoch : int
    n_batches : int
        Batches of the whole epoch, including the ``skip`` ones done before a resume.
    skip : int
        Batches already done (the loader starts after them).
    loss_sum, seen : float, int
        Sum of loss × images and images seen so far this epoch (non-zero on resume).
    lr : float
        The job's learning rate (named when the loss diverges).
    sink : EventSink
    job_id : str
    world : int
        Processes training together (images/s counts them all).
    stop_requested : callable
        Asked after every batch; on every process (it is a collective when distributed).

    Returns
    -------
    loss_sum, seen : float, int
    stopped_at : int
        The batch after which a stop was asked before the epoch's end; 0 when the epoch
        ran to its end.

    Raises
    ------
    JobFailed
        When the loss is not finite for three batches in a row.
    """
    last_emit, last_seen, bad_losses = time.monotonic(), seen, 0
    for b, batch in enumerate(loader, start=skip + 1):
        value = None
        if batch is not None:
            # (images, targets[, lesion masks]): the criterion takes what follows the images
            x, *targets = (b.to(device, non_blocking=True) for b in batch)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x), *targets)
            value = float(loss.detach())
            if not math.isfinite(value):
                bad_losses += 1
                if bad_losses >= 3:
                    raise JobFailed("training diverged: the loss is not a number; lower lr "
                                    f"(now {lr:g}) or check the labels")
            else:
                bad_losses = 0
                loss.backward()
                optimizer.step()
                loss_sum += value * len(x)
            seen += len(x)
        now = time.monotonic()
        if now - last_emit >= BATCH_EVENT_INTERVAL_S or b == n_batches or b == skip + 1:
            rate = (seen - last_seen) * world / (now - last_emit) if now > last_emit else None
            sink.emit(ev.Batch(job=job_id, epoch=epoch, batch=b, batches=n_batches, loss=value,
                               images_per_s=rate))
            last_emit, last_seen = now, seen
        if stop_requested():
            if b < n_batches:
                return loss_sum, seen, b
            break
    return loss_sum, seen, 0


def mean_loss(loss_sum: float, seen: int, dist) -> float | None:
    """The epoch's mean training loss over every process (None if no image was seen)."""
    parts = dist.gather((loss_sum, seen))
    total, n = sum(p[0] for p in parts), sum(p[1] for p in parts)
    return finite_or_none(total / n) if n else None


def validate(module, source, criterion, task: str, num_classes: int, batch_size: int, device,
             loader_workers: int, dist):
    """Run the validation part, each process a share; every process gets all outputs.

    A network with test-time flips (``lesion_unet``) is validated on one view: the four
    would cost a fifth of the epochs, and epochs are compared with one another view for
    view. The finished model's evaluation sees all four.

    Returns
    -------
    trainer.evaluate.Outputs
    """
    from trainer.evaluate import merge_outputs, run_model

    positions = list(range(len(source)))[dist.rank::dist.world]
    flips = getattr(module, "test_time_flips", False)
    if flips:
        module.test_time_flips = False
    try:
        out = run_model(module, source, positions, criterion, task, num_classes, batch_size, device,
                        loader_workers)
    finally:
        if flips:
            module.test_time_flips = True
    return merge_outputs(dist.gather(out))
