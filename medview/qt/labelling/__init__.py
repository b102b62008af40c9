"""Labelling in the viewer: the panel (:mod:`.panel`) and the window's actions (:mod:`.controller`)
over the Qt-free :class:`~medview.view.labelling.LabellingModel`."""
