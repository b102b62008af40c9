"""The test report says what the validation set chose, and nothing it did not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from trainer.finish import _chosen_on_validation


@pytest.mark.parametrize("task, pos, calibration, final, start, expected", [
    ("classification", 0, {"temperature": 1.2}, "best", None,
     "the threshold, the temperature and the epoch kept chosen on the validation set"),
    ("classification", 0, None, "last", None, "the threshold chosen on the validation set"),
    ("segmentation", None, None, None, None, "the epoch kept chosen on the validation set"),
    ("segmentation", None, None, "last", {"kept": "trained"},
     "the start (trained or random weights) chosen on the validation set"),
    ("segmentation", None, None, "last", None,
     "nothing was chosen on the validation set (the last epoch's weights are kept)"),
])
def test_the_note_names_what_the_validation_set_chose(task, pos, calibration, final, start, expected):
    run = SimpleNamespace(task=task, pos=pos, job=SimpleNamespace(final_weights=final), start_check=start)
    assert _chosen_on_validation(run, calibration) == expected
