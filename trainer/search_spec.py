"""The ``search`` block of a job: a hyper-parameter search instead of one training run.

A job whose JSON holds ``"search": {"trials": 8, "folds": 3, "epochs": 3, "seed": 0}``
is run by :mod:`trainer.search.run` (the queue starts ``python -m trainer.search.job``, or the
frozen app's ``search`` sub-command), not by the trainer; every other field is the
training job the search tunes (``trainer/JOBS.md``). Standard library only: the job
queue and the trainer tab validate the block without loading torch or Qt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from medview.core.schema import Meta, parse

__all__ = ["SEARCH_KEY", "SearchSpec", "parse_search", "split_search", "training_epochs"]

#: The job field that makes a job a search.
SEARCH_KEY = "search"


@dataclass(frozen=True)
class SearchSpec:
    """How much searching: Optuna trials, cross-validation folds, epochs per fold run.

    The defaults are small on purpose: a clinic PC with 2 cores finishes them in
    minutes to an hour on a few hundred small images.
    """

    trials: Annotated[int, Meta(ge=1, le=1000, description="settings tried (Optuna TPE)")] = 8
    folds: Annotated[int, Meta(ge=2, le=50, description="cross-validation folds each trial is "
                                                         "scored on")] = 3
    epochs: Annotated[int, Meta(ge=1, le=1000, description="epochs of each fold run")] = 3
    seed: Annotated[int, Meta(ge=0, le=2**31 - 1, description="seed of the folds and of the "
                                                             "sampler")] = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def parse_search(value: Any) -> SearchSpec:
    """Validate a ``search`` block (absent keys take the :class:`SearchSpec` defaults).

    Raises
    ------
    trainer.config.JobError
        Naming the field, e.g. ``job field 'search.folds': must be at least 2 (got 1)``.
    """
    from trainer.config import JobError

    return parse(value, SearchSpec, JobError, prefix=SEARCH_KEY)


def split_search(data: dict[str, Any]) -> tuple[dict[str, Any], SearchSpec | None]:
    """``(the training job without its search block, the block parsed or None)``."""
    if not isinstance(data, dict) or data.get(SEARCH_KEY) is None:
        return data, None
    from trainer.pretrain.job import is_pretrain

    if is_pretrain(data):
        from trainer.config import JobError

        raise JobError(SEARCH_KEY, "a pretrain job has no labels to score settings on; remove "
                                   "this block")
    rest = {k: v for k, v in data.items() if k != SEARCH_KEY}
    return rest, parse_search(data[SEARCH_KEY])


def training_epochs(spec: SearchSpec) -> int:
    """The search's cost in epochs over the whole data set (for a person's estimate).

    Each of ``trials × folds`` runs trains ``epochs`` epochs on ``(folds − 1) / folds``
    of the images, so the total is ``trials × epochs × (folds − 1)`` full epochs
    (validation adds a little).
    """
    return spec.trials * spec.epochs * (spec.folds - 1)
