"""data.fit_content converts digits the way MNIST was made (strokes in a 20x20 box, centred in
28x28); time series are listed by `nnforge datasets` and refused by classification with a hint."""

import pytest
import torch

from nnforge.data import DATASETS, load_dataset
from nnforge.data.subset import apply_data_config
from nnforge.errors import DataError


def _box(x: torch.Tensor, threshold: int = 40) -> tuple[int, int, int, int]:
    rows = torch.nonzero((x[0] > threshold).any(1)).flatten()
    cols = torch.nonzero((x[0] > threshold).any(0)).flatten()
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def test_fit_content_centres_digits_in_mnists_margin():
    raw = load_dataset({"name": "digits"})
    ds = apply_data_config(raw, {"fit_content": True, "image_size": 28}, seed=0)
    assert ds.input_shape == (1, 28, 28) and ds.x_test.shape == (360, 1, 28, 28) and ds.x_train.dtype == torch.uint8
    assert torch.equal(ds.y_test, raw.y_test)
    heights, centres = [], []
    grid = torch.arange(28, dtype=torch.float)
    for img in ds.x_train[:200]:
        top, bottom, left, right = _box(img)
        heights.append(max(bottom - top, right - left) + 1)
        mass = img[0].float()
        centres.append(((mass.sum(1) * grid).sum() / mass.sum(), (mass.sum(0) * grid).sum() / mass.sum()))
    heights = torch.tensor(heights, dtype=torch.float)
    assert 17 <= heights.median() <= 22  # MNIST: the longer side is about 20 of 28 pixels
    # ... and the centre of mass sits at the frame's centre, as in MNIST
    assert all(abs(r - 14) <= 1 and abs(c - 14) <= 1 for r, c in centres)
    # plain resizing keeps the 8x8 digits' own margins and position instead
    plain = apply_data_config(raw, {"image_size": 28}, seed=0)
    assert not torch.equal(plain.x_train, ds.x_train)


def test_time_series_are_listed_and_name_task_forecast():
    assert {"sunspots", "co2"} <= set(DATASETS)
    assert "task=forecast" in DATASETS["sunspots"].summary
    with pytest.raises(DataError, match="task=forecast"):
        load_dataset({"name": "co2"})


def test_datasets_command_lists_forecast_series(capsys):
    from nnforge.cli import main

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "sunspots" in out and "co2" in out
