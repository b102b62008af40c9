"""Self-supervised pre-training of a backbone on a clinic's unlabelled studies.

A job with ``"task": "pretrain"`` (``trainer/JOBS.md``) runs through the same loop as a
training job (:func:`trainer.loop.run_job`: events, ``state.json``, cancel, resume,
``--register``) and leaves a backbone folder (:mod:`medview.inference.backbones`) that
classification and segmentation jobs start from.

Modules
-------
job
    The job's fields and validation.
archive
    Images found in folders, sampled to fit memory, decoded once and cached.
views
    Random views made through the shared preprocessing (window, crop, flips, …).
ssl
    SimSiam, BYOL and MoCo v2 heads on a classifier's trunk.
schedule
    Progress over steps or the time budget; learning rate and the momentum of BYOL's and MoCo's
    target encoder.
run
    The run: epochs, checkpoints, the backbone folder.
"""
