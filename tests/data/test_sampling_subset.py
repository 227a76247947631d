"""Over/under-sampling balances classes per epoch; train_fraction and image_size reshape the data;
tabular standardisation uses training statistics only."""

import pytest
import torch

from nnforge.data import Preprocessing, TensorLoader, load_dataset
from nnforge.data.subset import keep_train_fraction, resize_dataset
from nnforge.data.sampling import balanced_sampler, make_imbalanced


def test_oversample_and_undersample_balance_classes():
    ds = load_dataset({"name": "digits"})
    x, y = make_imbalanced(ds.x_train, ds.y_train, {3: 0.1, 5: 0.2}, seed=0)
    counts = torch.bincount(y, minlength=10)
    assert counts[3] < 0.2 * counts[0]
    for mode, size in (("oversample", counts.max()), ("undersample", counts.min())):
        loader = TensorLoader(x, y, 64, shuffle=True)
        loader.sampler = balanced_sampler(y, mode)
        seen = torch.cat([yb for _, yb in loader])
        assert torch.equal(torch.bincount(seen, minlength=10), torch.full((10,), int(size)))


def test_train_fraction_is_stratified_and_leaves_test_alone():
    ds = load_dataset({"name": "digits"})
    small = keep_train_fraction(ds, 0.1, seed=0)
    assert abs(len(small.x_train) - 0.1 * len(ds.x_train)) <= 10
    assert (torch.bincount(small.y_train, minlength=10) >= 12).all()
    assert torch.equal(small.x_test, ds.x_test)


def test_image_size_resizes_every_split():
    ds = resize_dataset(load_dataset({"name": "digits"}), 28)
    assert ds.input_shape == (1, 28, 28) and ds.x_test.shape[1:] == (1, 28, 28) and ds.x_train.dtype == torch.uint8


@pytest.mark.parametrize("size", [0, -3, True])
def test_an_image_size_below_one_pixel_is_one_line(size):
    """Before: 0 and -3 reached torch's interpolate (a RuntimeError traceback), True resized to 1x1."""
    from nnforge.data.subset import image_size_of
    from nnforge.errors import DataError

    with pytest.raises(DataError, match="accepted: N or \\[H, W\\] \\(positive integers\\)"):
        image_size_of(size)


def test_tabular_standardisation_uses_training_statistics(tmp_path):
    import numpy as np

    rng = np.random.RandomState(0)
    rows = ["a,b,label"] + [f"{rng.normal(50, 10):.3f},{rng.normal(-3, 0.1):.4f},{'yes' if i % 3 else 'no'}" for i in range(300)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset({"name": f"csv:{tmp_path / 't.csv'}", "target": "label"})
    pre = Preprocessing.fit(ds)
    z = pre(ds.x_train)
    assert torch.allclose(z.mean(0), torch.zeros(2), atol=1e-4) and torch.allclose(z.std(0), torch.ones(2), atol=1e-3)
    assert torch.allclose(pre(ds.x_test), (ds.x_test - ds.x_train.mean(0)) / ds.x_train.std(0), atol=1e-4)


def test_the_length_of_a_sampled_loader_leaves_its_order_alone():
    """Before: len(loader) drew an epoch's order from the loader's generator, so the torch engine (which
    asks for it to size its schedule) and the scratch engine (which does not) trained on other batches."""
    y = torch.tensor([0] * 6 + [1] * 2)
    orders = []
    for ask in (False, True):
        loader = TensorLoader(torch.arange(8.0)[:, None], y, 4, shuffle=True)
        loader.sampler = balanced_sampler(y, "oversample")
        if ask:
            assert len(loader) == 3 and loader.num_samples == 12
        orders.append(torch.cat([xb for xb, _ in loader]))
    assert torch.equal(orders[0], orders[1])
