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
