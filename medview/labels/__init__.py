"""Labelling projects, without Qt or torch: what a project labels, where its labels live,
and the labels themselves (classes, or masks stored as DICOM SEG).

:mod:`~medview.labels.project` is the project file, :mod:`~medview.labels.store` the
labels on disk, :mod:`~medview.labels.images` the images a project covers,
:mod:`~medview.labels.progress` what is done, :mod:`~medview.labels.seg` masks as DICOM
SEG and :mod:`~medview.labels.exchange` the CSV / image-mask layouts the trainer reads.
The viewer's labelling state is :mod:`medview.view.labelling`; ``medview labels`` is
:mod:`medview.commands.labels`.
"""
