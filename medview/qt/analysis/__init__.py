"""The AI panel of the viewer: model picker, analysis in the background, results, batch.

- :mod:`.service`: the :class:`~.service.AnalysisService` (schedules the Qt-free jobs of
  :mod:`medview.analysis.pool_jobs` in a thread pool through :mod:`medview.qt.workers`; cancel,
  supersede, cache);
- :mod:`.panel`, :mod:`.model_picker`, :mod:`.result_view`, :mod:`.batch`: the widgets.

What runs without Qt lives in :mod:`medview.analysis` (requests and pool jobs, overlay
layers, areas and volumes, status lines, load-time estimates, the torch import).

Importing this package loads neither torch nor OpenCV nor pydicom: the window opens
before any of them, and a model is loaded only when the user asks for an analysis.
"""
