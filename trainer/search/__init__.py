"""Hyper-parameter search: Optuna trials scored by patient-grouped k-fold cross-validation.

The job's ``search`` block is part of the job format (:mod:`trainer.search_spec`, read by
the queue without this package).

Modules
-------
run
    The search: folds, trials, ``trials.json`` and ``best.json``.
job
    The search run as a queued job: ``python -m trainer.search.job`` and ``medview search``.
results
    Reading what a search writes (trials, best job, current fold run), for its readers.
"""
