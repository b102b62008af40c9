"""Corner text that fits: a long left line wraps beside the right corner instead of
overprinting it (the AI caption under "Zoom 205%" did)."""

from __future__ import annotations

from medview.view.corners import fit_beside

CAPTION = "AI demo-lesion-classifier 2.0.0 · onnxruntime fp32 · inside intended input · UNLIKE its training images"
RIGHT = ["W 3743  L 1917 DEFAULT", "Zoom 205%", "Imager (detector) 1.53 mm"]  # top to bottom


def width(text: str) -> float:
    return float(len(text))  # a fixed-pitch font: one unit a character


def check_clear(rows, right, room, from_top):
    """No row runs into the right line on its row."""
    beside = [width(r) for r in (right if from_top else right[::-1])]
    ordered = rows if from_top else rows[::-1]
    for r, (text, _) in enumerate(ordered):
        assert width(text) + (beside[r] if r < len(beside) else 0) <= room, (r, text)


def test_lines_that_fit_are_drawn_as_they_are():
    rows = fit_beside(["Im 1/1  (#1)"], [width(x) for x in RIGHT[::-1]], 80, width, from_top=False)
    assert rows == [("Im 1/1  (#1)", 0)]


def test_a_long_bottom_line_wraps_at_its_dots_and_keeps_every_word():
    lines = [CAPTION, "Im 1/1  (#1)"]
    rows = fit_beside(lines, [width(x) for x in RIGHT[::-1]], 70, width, from_top=False)
    check_clear(rows, RIGHT, 70, from_top=False)
    assert [i for _, i in rows] == sorted(i for _, i in rows)  # the lines keep their order
    caption = [t for t, i in rows if i == 0]
    assert len(caption) > 1 and " ".join(caption).split() == CAPTION.split()
    assert any("UNLIKE its training images" in t for t in caption)  # the warning whole
    assert all(t.endswith("·") for t in caption[:-1])
    assert rows[-1] == ("Im 1/1  (#1)", 1)


def test_top_lines_wrap_downwards_in_reading_order():
    right = ["2024-06-01 medview demo data (synthetic)", "#1 DX Synthetic chest PA"]
    lines = ["A VERY LONG PATIENT NAME^WITH MANY PARTS AND TITLES", "ID DEMO-S005  O"]
    rows = fit_beside(lines, [width(x) for x in right], 70, width, from_top=True)
    check_clear(rows, right, 70, from_top=True)
    assert " ".join(t for t, i in rows if i == 0).split() == lines[0].split()
    assert rows[-1] == ("ID DEMO-S005  O", 1)


def test_rows_without_room_stay_empty_and_nothing_is_lost():
    rows = fit_beside(["Im 1/1 · Loc 12.0 mm"], [60.0, 60.0], 62, width, from_top=False)
    assert rows[-2:] == [("", 0), ("", 0)]  # beside the right corner: no room
    assert " ".join(t for t, _ in rows).split() == "Im 1/1 · Loc 12.0 mm".split()


def test_a_word_wider_than_the_view_is_cut_with_an_ellipsis():
    rows = fit_beside(["x" * 50], [], 20, width, from_top=True)
    assert rows == [("x" * 19 + "…", 0)]
