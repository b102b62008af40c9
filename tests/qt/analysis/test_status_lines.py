"""The AI panel's status lines (no Qt) and the load-time estimates behind its progress bar."""

from __future__ import annotations

from medview.analysis.load_times import DEFAULTS, MODEL, RUNTIME, LoadTimes, about
from medview.analysis.status import BUSY, ERROR, OK, StatusLines

A, B = ("a.dcm", 0), ("b.dcm", 0)


def test_a_line_about_an_image_shows_only_with_that_image_and_model_in_the_viewer():
    s = StatusLines()
    s.show(A, "m@1")
    s.say("a.dcm: lesion (20 ms)", OK, A, "m@1")
    assert s.current.text == "a.dcm: lesion (20 ms)"
    s.show(B, "m@1")
    assert s.current is None  # another image: nothing stale
    s.show(A, "n@2")
    assert s.current is None  # another model
    s.show(A, "m@1", viewing=False)
    assert s.current is None  # another tab
    s.show(A, "m@1")
    assert s.current.text == "a.dcm: lesion (20 ms)"  # back with its image


def test_model_and_panel_lines_apply_across_images_and_the_newest_wins():
    s = StatusLines()
    s.show(A, "m@1")
    s.say("Loading the AI runtime…", BUSY, model="m@1")
    assert s.current.kind == BUSY
    s.say("a.dcm: cannot decode", ERROR, A, "m@1")
    assert s.current.kind == ERROR
    s.show(B, "m@1", viewing=False)
    assert s.current.text == "Loading the AI runtime…"  # about the model, not an image
    s.say("Imported x 1.", OK)
    assert s.current.text == "Imported x 1."
    s.drop(A, "m@1", kind=BUSY)  # only a busy line would go
    assert s.line_for(A, "m@1").kind == ERROR


def test_load_times_start_from_defaults_and_then_use_what_this_pc_took(tmp_path):
    times = LoadTimes(tmp_path / "load_times.json")
    assert times.estimate(RUNTIME) == DEFAULTS[RUNTIME]
    assert times.estimate(MODEL, "m@1") == DEFAULTS[MODEL]
    times.record(RUNTIME, 2.4)
    times.record(MODEL, 0.7, "m@1")
    again = LoadTimes(tmp_path / "load_times.json")
    assert again.estimate(RUNTIME) == 2.4 and again.estimate(MODEL, "m@1") == 0.7
    assert again.estimate(MODEL, "other@1") == DEFAULTS[MODEL]
    (tmp_path / "load_times.json").write_text("{not json")
    assert LoadTimes(tmp_path / "load_times.json").estimate(RUNTIME) == DEFAULTS[RUNTIME]
    assert about(0.2) == "about 1 s" and about(3.6) == "about 4 s"
