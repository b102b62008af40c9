"""The Qt user interface: the only package that imports PySide6.

``app.run(paths)`` starts the GUI; ``main_window`` composes the viewer grid
(``viewer``), the series browser (``browser``), docks from ``widgets`` and the
actions; ``workers`` keeps file reading and decoding off the GUI thread.
"""
