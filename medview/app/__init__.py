"""The desktop application's logic that needs no Qt (the widgets in :mod:`medview.qt` use it).

- :mod:`.opening`: reading files in a pool thread so that good files show as they are read;
- :mod:`.internal_errors`: the GUI's error boundary (a plain line for the user, the
  traceback in the log file);
- :mod:`.job_progress`: where a training job stands, folded from its events.
- :mod:`.backbone_offer`: which registered backbones a new training job may start from,
  and how a backbone is described.

The viewer's state is in :mod:`medview.view` and the AI panel's logic in
:mod:`medview.analysis`. Importing this package loads neither Qt nor torch.
"""
