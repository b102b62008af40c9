import os

# Qt must never need a display in tests; set before any test imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
