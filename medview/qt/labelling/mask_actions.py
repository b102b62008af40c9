"""The mask tools of a segmentation project as window actions (Labels menu, shortcuts).

Lasso fill / erase (Shift+L / Shift+K: drag an outline, or click corners and double-click
or press Enter), remove the island clicked (Shift+I), keep the largest island (Shift+G),
remove small islands (Shift+R), fill holes (Shift+H), fill the value range (Shift+T),
copy the mask to the next / previous slice (Alt+Down / Alt+Up), interpolate between
labelled slices (Shift+F) and accept the AI segmenter's mask (Shift+A). Each action only
finds what it needs in the window (the slice, the series' frames, the AI result) and calls
:class:`~medview.view.labelling.LabellingModel`, which edits the mask and saves it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from medview.view.mask_edit import ISLAND, LASSO, LASSO_ERASER


class MaskActions(QObject):
    """The mask-editing actions beyond brush, eraser, undo and redo.

    Parameters
    ----------
    controller : LabellingController
        Its window, model, ``sync`` and action makers are used.
    """

    def __init__(self, controller) -> None:
        super().__init__(controller)
        self.ctl = controller
        self.model = controller.model
        tool, action = controller._tool, controller._action
        self.lasso = tool(LASSO, "Mask &Lasso Fill", "Shift+L",
                          "Fill an outline with the segment: drag around it, or click its "
                          "corners and double-click (Shift+L)")
        self.lasso_eraser = tool(LASSO_ERASER, "Mask Lasso E&rase", "Shift+K",
                                 "Erase the mask inside an outline (Shift+K)")
        self.island = tool(ISLAND, "Remove &Island Under Click", "Shift+I",
                           "Click an island of the mask to remove it (Shift+I)")
        self.keep_largest = action("Keep &Largest Island", self._on_mask(self.model.keep_largest),
                                   "Shift+G", "Keep only the segment's largest island (Shift+G)")
        self.remove_small = action(
            "Remove &Small Islands", self._on_mask(lambda: self.model.remove_small(
                self.model.min_island)), "Shift+R",
            "Remove the segment's islands smaller than the size chosen in the panel (Shift+R)")
        self.fill_holes = action("Fill &Holes", self._on_mask(self.model.fill_holes), "Shift+H",
                                 "Fill the background enclosed by the segment (Shift+H)")
        self.fill_range = action("Fill Value &Range", self._on_mask(self.model.fill_range),
                                 "Shift+T", "Paint the segment wherever the image's values "
                                            "(HU on CT) lie in the panel's range (Shift+T)")
        self.copy_next = action("Copy Mask to &Next Slice", lambda: self._copy(+1), "Alt+Down",
                                "Give the next slice this slice's mask and show it (Alt+Down)")
        self.copy_previous = action("Copy Mask to &Previous Slice", lambda: self._copy(-1),
                                    "Alt+Up", "Give the previous slice this slice's mask and "
                                              "show it (Alt+Up)")
        self.interpolate = action("&Interpolate Between Slices", self._interpolate, "Shift+F",
                                  "Fill the empty slices between labelled slices of the series "
                                  "(shape-based, per segment) (Shift+F)")
        self.accept_ai = action("&Accept AI Mask", self._accept_ai, "Shift+A",
                                "Make the AI segmenter's mask of this image its label, to "
                                "correct with the mask tools (Shift+A)")

    @property
    def tools(self) -> list[QAction]:
        return [self.lasso, self.lasso_eraser, self.island]

    @property
    def commands(self) -> list[QAction]:
        return [self.keep_largest, self.remove_small, self.fill_holes, self.fill_range,
                self.copy_next, self.copy_previous, self.interpolate, self.accept_ai]

    def _on_mask(self, edit):
        """``edit`` of the mask of the image on screen (the model is told which first)."""
        return lambda: (self.ctl.sync(), edit())

    def _copy(self, step: int) -> None:
        """This slice's mask onto the slice ``step`` away, which is then shown."""
        self.ctl.sync()
        vp = self.ctl.window.grid.active.model
        if self.model.edit is None:
            self.model.events.message.emit("This image has no mask to copy")
            return
        if not 0 <= vp.index + step < vp.count:
            self.model.events.message.emit("There is no " + ("next" if step > 0 else "previous")
                                           + " slice in this series")
            return
        labels = self.model.edit.labels.copy()
        vp.set_index(vp.index + step)
        self.ctl.sync()
        self.model.paste(labels)

    def _interpolate(self) -> None:
        vp = self.ctl.window.grid.active.model
        labeller = self.model.labeller
        if labeller is None or vp.series is None:
            return
        self.ctl.sync()
        self.model.interpolate([(labeller.images.find(f.path, f.index), f.shape)
                                for f in vp.frames])

    def _accept_ai(self) -> None:
        """The AI panel's segmentation of the image on screen becomes its label."""
        self.ctl.sync()
        frame = self.ctl.window.grid.active.model.frame
        result = self.ctl.window.analysis.result_for(frame) if frame is not None else None
        if result is None or result.task != "segmentation":
            self.model.events.message.emit("No AI segmentation of this image: choose a "
                                           "segmentation model in the AI panel and analyse it")
            return
        self.model.accept(result.mask, result.mask_values)
