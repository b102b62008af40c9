"""Is the trained model any better than guessing? Judged on the validation scores of the epoch whose weights are kept.

A run whose best validation AUC is 0.34 still ends with a model folder, a card quoting
confidence intervals and a Register button; nothing in those says "this model is worse
than a coin". :func:`chance_warning` says it, once, for the log, ``evaluation.json``
(``below_chance``), the card, the trainer tab and the registration, which then needs
a confirmation (``--force``).
"""

from __future__ import annotations

__all__ = ["AUC_MARGIN", "BALANCED_ACCURACY_MARGIN", "DICE_FLOOR", "chance_warning"]

#: AUC at or below 0.5 + this is chance (a few validation images make ±0.05 easy to get by luck).
AUC_MARGIN = 0.05
#: Balanced accuracy at or below 1/classes + this is chance.
BALANCED_ACCURACY_MARGIN = 0.05
#: Dice at or below this finds (almost) nothing.
DICE_FLOOR = 0.05


def chance_warning(task: str, history: list[dict], best: dict, n_classes: int, kept: str = "best") -> str | None:
    """One line when the kept epoch's validation score is at or below chance, else None.

    Parameters
    ----------
    task : {"classification", "segmentation"}
    history : list of dict
        One entry per epoch (``epoch``, ``metrics``).
    best : dict
        The epoch whose weights are kept (``epoch``); the last epoch's scores are judged
        when there is none.
    n_classes : int
        Classes of a classifier (chance of balanced accuracy is 1/n).
    kept : str
        How the message names that epoch (:func:`trainer.monitor.kept_name`).

    Returns
    -------
    str or None
        E.g. "the best validation AUC is 0.34, at or below chance (0.5): …".
    """
    entry = next((h for h in history if h.get("epoch") == best.get("epoch")), None)
    if entry is None and history:
        entry = history[-1]
    metrics = (entry or {}).get("metrics") or {}
    what = None
    if task == "classification":
        auc, bacc = metrics.get("auc"), metrics.get("balanced_accuracy")
        if auc is not None and auc <= 0.5 + AUC_MARGIN:
            what = f"validation AUC is {auc:.3f}, at or below chance (0.5)"
        elif auc is None and bacc is not None and bacc <= 1 / max(n_classes, 1) + BALANCED_ACCURACY_MARGIN:
            what = f"validation balanced accuracy is {bacc:.3f}, at or below chance (1/{n_classes})"
    else:
        dice = metrics.get("dice")
        if dice is not None and dice <= DICE_FLOOR:
            what = f"validation Dice is {dice:.3f}: the model finds (almost) nothing"
    if what is None:
        return None
    return (f"below chance: the {kept} {what}; the model is no better than guessing (or its labels are "
            "inverted) and must not be used; check the labels and the data")
