"""The AI panel's logic without Qt: what the viewer's analysis does, testable headless.

- :mod:`.pool_jobs`: requests, batches, the result cache and the generator jobs that run in
  a pool thread (scheduled by :mod:`medview.qt.analysis.service`);
- :mod:`.overlays`: masks and heat maps as RGBA layers (pure numpy);
- :mod:`.measure`: areas and series volumes of segmentation results;
- :mod:`.status`: which status line applies to what is on screen;
- :mod:`.load_times`: how long loading the AI took on this PC;
- :mod:`.runtime`: importing torch from a pool thread without stalling the GUI thread
  (only for a model without an ONNX graph, or the torch CUDA engine).

Importing this package loads neither Qt nor torch; nor does analysing with a model that
carries its ONNX graph (:func:`medview.inference.analyze.open_model`).
"""
