import torch

from nnforge.data import RandomAffine, TensorLoader


def test_loader_covers_every_row_once_per_epoch_and_repeats_with_seed():
    x = torch.arange(103).float().unsqueeze(1)
    y = torch.arange(103)
    a = TensorLoader(x, y, 10, shuffle=True, generator=torch.Generator().manual_seed(3))
    b = TensorLoader(x, y, 10, shuffle=True, generator=torch.Generator().manual_seed(3))
    first = torch.cat([yb for _, yb in a])
    assert sorted(first.tolist()) == list(range(103)) and len(a) == 11
    assert torch.equal(first, torch.cat([yb for _, yb in b]))
    assert not torch.equal(first, torch.cat([yb for _, yb in a]))  # new order next epoch


def test_affine_identity_and_rotation():
    img = torch.zeros(1, 1, 28, 28)
    img[0, 0, 4:24, 13:15] = 255.0  # a vertical bar
    gen = torch.Generator().manual_seed(0)
    assert torch.allclose(RandomAffine()(img, gen), img, atol=1e-3)
    rotated = RandomAffine(rotate=90)(img.repeat(16, 1, 1, 1), gen)
    # Rotations move mass off the bar's columns but keep the centre.
    assert (rotated[:, 0, :, 13:15].sum((1, 2)) < img[0, 0, :, 13:15].sum()).any()
    assert rotated[:, 0, 13:15, 13:15].mean() > 100


def test_preprocessing_done_once_gives_the_batches_of_preprocessing_per_batch():
    from nnforge.data import Preprocessing, transformed_once
    from nnforge.data.sources.packaged import load_mnist_sample

    ds = load_mnist_sample()
    pre = Preprocessing.fit(ds)
    once, transform = transformed_once(ds.x_train, pre, chunk=999)  # chunks that do not divide the split
    assert transform is None and once.dtype == torch.float32 and once.shape == ds.x_train.shape
    per_batch = TensorLoader(ds.x_train, ds.y_train, 64, shuffle=True, generator=torch.Generator().manual_seed(5), transform=pre)
    done_once = TensorLoader(once, ds.y_train, 64, shuffle=True, generator=torch.Generator().manual_seed(5))
    for (xa, ya), (xb, yb) in zip(per_batch, done_once):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)  # bit for bit: the runs do not change
    kept, same = transformed_once(ds.x_train, pre, max_bytes=once.numel() * 4 - 1)  # one byte too many: left per batch
    assert kept is ds.x_train and same is pre
    raw = ds.x_train[:3].float()
    pre(raw)
    assert torch.equal(raw, ds.x_train[:3].float())  # a float batch is not standardised in place
