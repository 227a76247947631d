"""Windowing a time series and splitting the windows in time (nnforge.data.series)."""

from __future__ import annotations

import numpy as np

from nnforge.data.series import split_windows, windows


def test_no_trained_or_validated_window_has_a_target_in_the_test_part():
    """With horizon 3, the windows whose first target precedes the test part but whose later ones
    fall in it were trained on (or validated on): the model was shown values it was then judged on."""
    values = np.arange(40, dtype=np.float32)
    x, y, starts = windows(values, 4, 3)
    for val_fraction in (0.0, 0.25):
        train, val, test, test_start = split_windows(len(values), starts, 0.25, val_fraction, horizon=3)
        assert test_start == 30 and (y[test] >= 30).all() and test.sum() == 40 - 3 + 1 - 30
        assert (y[train | val] < 30).all() and not (train & val).any() and not ((train | val) & test).any()
        assert (train | val).sum() == 30 - 4 - 3 + 1  # every window wholly before the test part is used
    assert val.sum() == 6 and starts[val].min() > starts[train].max()  # validation: the latest of them
