"""The viewer's state without Qt: view models with change events, and links between views.

- :mod:`.model`: :class:`~.model.ViewModel`, one viewport's series, position, window,
  camera, tool, measurements and image layers;
- :mod:`.camera`: zoom, pan, rotation, flips as an affine map (image ↔ widget);
- :mod:`.gestures`: what presses, drags and wheel notches do to a model;
- :mod:`.links`: views that follow each other (synchronised scrolling, shared window);
- :mod:`.planes`, :mod:`.mpr_views`: planes of a volume as a view's frames, and the
  four views of MPR (axial, coronal, sagittal, oblique);
- :mod:`.reference_lines`, :mod:`.cursor`: cross-reference lines and the 3-D cursor;
- :mod:`.corners`, :mod:`.hit_test`, :mod:`.frames`, :mod:`.events`: the pieces.

The Qt viewport (:mod:`medview.qt.viewer.viewport`) renders a model and forwards input
to it. Importing this package loads neither Qt nor torch nor pydicom.
"""
