"""Headless fine-tuning of medview's models on a clinic's own labelled images.

The trainer runs as a separate process (``python -m trainer JOB.json``) and reports
progress as versioned JSON lines on stdout (:mod:`trainer.events`, documented in
``trainer/EVENTS.md``); the trainer tab of the GUI is only one reader of them. Nothing in
this package imports Qt.

Modules
-------
data
    The labelled data set: discovery, decoding, network inputs, fingerprint, splits.
search
    Hyper-parameter search by k-fold cross-validation, and its job.
pretrain
    Self-supervised pre-training of a backbone on unlabelled studies.
cli
    The command line (``python -m trainer JOB.json``); :mod:`trainer.loop` runs the job.
metrics
    Classification and segmentation metrics (numpy only, sklearn's definitions).
events
    The JSON-lines event protocol: one dataclass per event type, ``emit``, ``parse_line``.
"""
