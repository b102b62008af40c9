"""Linked viewports: cross-reference lines, synchronised scrolling and the 3-D cursor.

The links themselves are Qt-free objects over the grid's view models
(:class:`~medview.view.links.ViewLink` with the rule
:func:`~medview.view.links.same_space`, :class:`~medview.view.links.ScrollSync` by
patient position, :class:`~medview.view.cursor.Cursor3D`); this controller owns them,
offers their toggles as actions, keeps only the visible viewports linked, and draws
the lines and the cursor on each viewport.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from medview.qt.viewer.grid import ViewerGrid
from medview.qt.viewer.link_painter import draw_cursor, draw_reference_lines, draw_slot_bar
from medview.qt.viewer.viewport import Viewport
from medview.view.cursor import Cursor3D
from medview.view.links import ScrollSync, ViewLink, same_space
from medview.view.reference_lines import reference_lines

AREA = "Linked Views"


class ViewerLinks(QObject):
    """The links between the viewports of ``grid``, and their actions.

    Attributes
    ----------
    link : ViewLink
        Every viewport's model; a view follows another when both are on screen and in
        one patient coordinate system.
    scroll : ScrollSync
        By patient position, off until :attr:`sync_action` is checked.
    cursor : Cursor3D
        Moved by the cross-hair tool.
    """

    def __init__(self, grid: ViewerGrid, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self._shown: set[int] = set()
        self.link = ViewLink([vp.model for vp in grid._all], rule=self._follows)
        self.scroll = ScrollSync(self.link, by=ScrollSync.BY_POSITION, enabled=False)
        self.cursor = Cursor3D(self.link)
        self.lines_visible = True

        self.lines_action = self._toggle("&Reference Lines", "Ctrl+Shift+L", True,
                                         "Show where the other viewports' planes cut this one",
                                         self._set_lines)
        self.sync_action = self._toggle("&Synchronised Scrolling", "Ctrl+Shift+Y", False,
                                        "Scroll viewports of one frame of reference together, "
                                        "by patient position", self._set_sync)
        for vp in grid._all:
            vp.decorations.append(self._paint)
            vp.model.events.frame.connect(lambda *_, v=vp: self._moved(v))
            vp.model.events.series.connect(self._repaint)  # lines may appear or go anywhere
        self.cursor.events.moved.connect(lambda _point: self._repaint())
        grid.layoutChanged.connect(lambda _name: self._layout_changed())
        self._layout_changed()

    def _toggle(self, text: str, key: str, on: bool, tip: str, slot) -> QAction:
        act = QAction(text, self, checkable=True, checked=on)
        act.setShortcut(key)
        act.setToolTip(f"{tip} ({key})")
        act.setStatusTip(tip)
        act.setProperty("shortcutArea", AREA)
        act.toggled.connect(slot)
        return act

    def actions(self) -> list[QAction]:
        return [self.lines_action, self.sync_action]

    # ------------------------------------------------------------------ state

    def _follows(self, a, b) -> bool:
        return id(a) in self._shown and id(b) in self._shown and same_space(a, b)

    def _layout_changed(self) -> None:
        self._shown = {id(vp.model) for vp in self.grid.viewports}
        self._repaint()

    def _set_lines(self, on: bool) -> None:
        self.lines_visible = on
        self._repaint()

    def _set_sync(self, on: bool) -> None:
        self.scroll.enabled = on

    def _moved(self, vp: Viewport) -> None:
        """A view went to another image: its line moves on the views linked to it (a cine
        loop in an unlinked view repaints nothing else)."""
        peers = self.link.peers(vp.model)
        for other in self.grid.viewports:
            if other.model in peers:
                other.update()

    def _repaint(self) -> None:
        for vp in self.grid.viewports:
            vp.update()

    # ------------------------------------------------------------------ painting

    def _paint(self, p, vp: Viewport) -> None:
        m = vp.model
        if self.lines_visible and id(m) in self._shown:
            lines = reference_lines(m, self.link)
            draw_reference_lines(p, lines, m.rc_to_widget)
            if lines:
                draw_slot_bar(p, vp.width(), list(self.link).index(m))
        where = self.cursor.where(m) if id(m) in self._shown else None
        if where is not None:
            draw_cursor(p, where)
