"""Windowing a time series and splitting the windows in time (nnforge.data.series)."""

from __future__ import annotations

import numpy as np

from nnforge.data.series import split_windows, windows


def test_no_trained_or_validated_window_has_a_target_in_a_later_part():
    """With horizon 3, the windows whose first target precedes the test part but whose later ones
    fall in it were trained on (or validated on): the model was shown values it was then judged on.
    The values are their own indices, so a target's value says where it lies."""
    values = np.arange(40, dtype=np.float32)
    _, y, starts = windows(values, 4, 3)
    train, val, test, test_start = split_windows(len(values), starts, 0.25, 0.0, horizon=3)
    assert test_start == 30 and (y[test] >= 30).all() and test.sum() == 40 - 3 + 1 - 30
    assert (y[train] < 30).all() and not val.any() and train.sum() == 30 - 4 - 3 + 1  # every window wholly before it

    train, val, test, _ = split_windows(len(values), starts, 0.25, 0.25, horizon=3)
    assert (y[val] < 30).all() and val.sum() == 6  # the latest 6 of the 24 windows wholly before the test part
    assert (y[train] < starts[val].min()).all() and train.sum() == 24 - 6 - 2  # none reaching into validation
    assert not (train & val).any() and not ((train | val) & test).any()
