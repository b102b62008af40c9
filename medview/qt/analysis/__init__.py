"""The AI panel of the viewer: model picker, analysis in the background, results, batch.

- :mod:`.jobs`: the :class:`~.jobs.AnalysisService` (loading models, analysing frames and
  batches in a thread pool through :mod:`medview.qt.workers`, cancel, supersede, cache);
- :mod:`.overlays` and :mod:`.measure`: pure numpy (masks and heat maps as RGBA layers;
  areas and series volumes);
- :mod:`.runtime`: loading torch without stalling the GUI thread;
- :mod:`.panel`, :mod:`.model_picker`, :mod:`.result_view`, :mod:`.batch`: the widgets.

Importing this package loads neither torch nor OpenCV nor pydicom: the window opens
before any of them, and a model is loaded only when the user asks for an analysis.
"""
