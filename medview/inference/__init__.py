"""AI analysis without Qt: model folders, preprocessing, engines, results, Grad-CAM.

Layout:

- :mod:`.manifest`: ``model.json`` dataclasses and validation (no torch);
- :mod:`.architectures`: architecture name → builder (torch imported per build);
- :mod:`.weights`: safetensors read/write, safe import of legacy ``.pth``;
- :mod:`.registry`: list, validate, load and import model folders;
- :mod:`.preprocess`: the one preprocessing function of inference and training
  (numpy + OpenCV only);
- :mod:`.analyze`: frame → preprocess → engine → result;
- :mod:`.results`, :mod:`.audit`, :mod:`.gradcam`;
- :mod:`.engines`, :mod:`.onnx_export`: running a model fast on this machine;
- :mod:`.graph` (torch): the ONNX graph a registered model carries, made at import;
  :mod:`.cam` (numpy): Grad-CAM from the graph's class activation maps.

Importing this package loads no torch; the modules that need it import it
themselves, so listing models, preprocessing and analysis from a model's graph
(:func:`.analyze.open_model`) stay light.
"""
