"""What compress measures: a latency labelled "batch 64" is timed on batches of 64."""

from __future__ import annotations

import numpy as np

from nnforge.compress import measure


def test_a_test_split_smaller_than_the_batch_is_repeated_to_fill_it():
    """Before, 10 test rows were timed as the "batch 64" latency: x[:64] held 10 rows."""
    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    seen = []

    def run(xb):
        seen.append(xb.copy())
        return xb

    assert measure.latency_per_image(run, x, 64, min_seconds=0.0, repeats=1) >= 0
    assert {len(b) for b in seen} == {64}
    np.testing.assert_array_equal(seen[0], np.concatenate([x] * 7)[:64])  # the real rows, in order, repeated
    seen.clear()
    measure.latency_per_image(run, x, 1, min_seconds=0.0, repeats=1)
    assert {len(b) for b in seen} == {1}
