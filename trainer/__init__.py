"""Headless fine-tuning of medview's models on a clinic's own labelled images.

The trainer runs as a separate process (``python -m trainer JOB.json``) and reports
progress as versioned JSON lines on stdout (:mod:`trainer.events`, documented in
``trainer/EVENTS.md``); the trainer tab of the GUI is only one reader of them. Nothing in
this package imports Qt.

Modules
-------
datasets
    Find labelled images (folder-per-class, CSV, image + mask pairs) and summarise them.
images
    Decode a sample's pixels: image → modality values, mask → class numbers.
splits
    Stratified, patient-aware train/validation/test splits and k-fold cross-validation.
metrics
    Classification and segmentation metrics (numpy only, sklearn's definitions).
events
    The JSON-lines event protocol: one dataclass per event type, ``emit``, ``parse_line``.
"""
