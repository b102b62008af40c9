"""A hanging protocol's layout (:func:`medview.core.hanging.choose_layout`) as the
viewer grid can show it. No Qt."""

from __future__ import annotations

from dataclasses import replace

from medview.core.hanging import Cell, Layout, choose_layout, fit_grid, same_patient


def grid_plan(layout: Layout, layouts: dict[str, tuple[int, int]], mpr: bool = False
              ) -> tuple[str, list[Cell]]:
    """The grid layout to use and the cell of each of its viewports, in order.

    Parameters
    ----------
    layout : Layout
        What the protocol chose.
    layouts : dict
        The grid's layouts, name -> (rows, columns).
    mpr : bool
        Whether the viewer shows MPR planes, of one volume at a time: the planes of
        the first series a cell wants a plane of. Without, or for another series,
        coronal and sagittal cells are left out and an axial one shows the series'
        own images (its plane becomes None).

    Returns
    -------
    (str, list of Cell)
        A name of ``layouts`` (the protocol's shape when the grid has it, else the
        smallest that holds the cells) and the cells to put in its first viewports.
    """
    cells = [c for c in layout.cells if c is not None]
    volume = next((c.series for c in cells if c.plane is not None), None) if mpr else None
    cells = [c if c.plane is None or c.series is volume else replace(c, plane=None)
             for c in cells if c.plane in (None, "axial") or c.series is volume]
    rows, cols = fit_grid(layout.rows, layout.cols, len(cells))
    name = f"{rows}x{cols}"
    if layouts.get(name) != (rows, cols):
        fitting = [(r * c, n) for n, (r, c) in layouts.items() if r * c >= len(cells)]
        name = min(fitting)[1] if fitting else max(layouts, key=lambda n: layouts[n][0] *
                                                   layouts[n][1])
    r, c = layouts[name]
    return name, cells[: r * c]


def hang(opened, open_studies, layouts: dict[str, tuple[int, int]], protocols=None,
         mpr: bool = False) -> tuple[str, list, str]:
    """What the grid shows once ``opened`` (a Study) has been read.

    The current study is the most recent open study of ``opened``'s patient (opening a
    prior after the current one still hangs the current beside it); the others are
    its candidates for priors. Returns the grid layout name, the cell per viewport
    (see :func:`grid_plan`) and the protocol's name.
    """
    mine = [s for s in open_studies if s is opened or same_patient(s, opened)]
    current = max(mine, key=lambda s: (s.date, s.time), default=opened)
    layout = choose_layout([current] + [s for s in open_studies if s is not current],
                           protocols)
    name, cells = grid_plan(layout, layouts, mpr)
    return name, cells, layout.protocol
