"""Augmentation transforms change training inputs (seeded, shape- and range-preserving);
denoising filters remove noise from real digits; augmentation never reaches evaluation."""

import numpy as np
import pytest
import torch

from nnforge.config import load_config
from nnforge.data import load_dataset
from nnforge.data.augment import Cutout, GaussianNoise, RandomAffine, RandomCrop, build_augmentation
from nnforge.data.filters import denoise, gaussian_filter, median_filter


@pytest.fixture(scope="module")
def mnist_test():
    return load_dataset({"name": "mnist-sample"}).x_test[:100].float()


@pytest.fixture(scope="module")
def digits():
    return load_dataset({"name": "digits"}).x_train[:64].float()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("transform", [RandomAffine(rotate=15, shift=0.1, scale=0.1, shear=10, hflip=True),
                                       RandomCrop(2), GaussianNoise(0.1), Cutout(0.4)], ids=lambda t: type(t).__name__)
def test_transform_changes_images_keeps_shape_and_range_and_repeats_with_seed(digits, transform):
    a = transform(digits, gen(1))
    assert a.shape == digits.shape
    assert a.min() >= 0 and a.max() <= 255 + 1e-3
    changed = (a - digits).abs().flatten(1).amax(1) > 1
    assert changed.float().mean() > 0.5  # most images are altered
    assert torch.equal(a, transform(digits, gen(1)))  # same seed, same batch
    assert not torch.equal(a, transform(digits, gen(2)))


def test_random_crop_is_a_shift_of_the_padded_image(digits):
    out = RandomCrop(2)(digits, gen(0))
    padded = torch.nn.functional.pad(digits, (2, 2, 2, 2))
    for i in range(8):  # every output is some window of its own padded image
        windows = padded[i, 0].unfold(0, 8, 1).unfold(1, 8, 1)  # (5, 5, 8, 8)
        assert (windows == out[i, 0]).flatten(2).all(-1).any()


def test_cutout_erases_one_square(digits):
    x = torch.full((16, 1, 20, 20), 200.0)
    out = Cutout(0.3)(x, gen(0))
    erased = (out == 0).float().sum((1, 2, 3))
    assert (erased > 0).all() and (erased <= 7 * 7).all()


def test_gaussian_noise_has_requested_std():
    x = torch.full((64, 1, 16, 16), 128.0)
    out = GaussianNoise(0.05)(x, gen(0))
    assert abs((out - x).std().item() - 0.05 * 255) < 0.5


def test_build_augmentation_default_is_identity_and_keys_add_transforms():
    cfg = load_config(None).data.augment.to_dict()
    assert not build_augmentation(cfg)
    names = [type(t).__name__ for t in build_augmentation({**cfg, "rotate": 5, "crop_padding": 2, "cutout": 0.25, "noise": 0.05}).transforms]
    assert names == ["RandomAffine", "RandomCrop", "Cutout", "GaussianNoise"]


def test_median_filter_removes_salt_and_pepper_noise_from_real_digits(mnist_test):
    clean = mnist_test
    g = gen(0)
    noisy = clean.clone()
    mask = torch.rand(clean.shape, generator=g)
    noisy[mask < 0.05], noisy[mask > 0.95] = 0.0, 255.0
    before = float((noisy - clean).abs().mean())
    assert float((median_filter(noisy, 3) - clean).abs().mean()) < 0.5 * before
    assert torch.equal(denoise(noisy, "none"), noisy)


def test_gaussian_filter_reduces_gaussian_noise_and_matches_scipy(mnist_test):
    from scipy.ndimage import gaussian_filter as scipy_gaussian

    clean = mnist_test[:50]
    noisy = clean + torch.randn(clean.shape, generator=gen(0)) * 40
    assert float((gaussian_filter(noisy, 5) - clean).pow(2).mean()) < 0.8 * float((noisy - clean).pow(2).mean())
    # independent reference: scipy with the same sigma and truncation, mirror-reflected edges
    sigma = 0.3 * ((5 - 1) * 0.5 - 1) + 0.8
    ref = scipy_gaussian(noisy[0, 0].numpy(), sigma, mode="mirror", truncate=2 / sigma)
    assert np.allclose(gaussian_filter(noisy[:1], 5)[0, 0].numpy(), ref, atol=1e-3)


def test_denoise_is_part_of_preprocessing_and_saved():
    from nnforge.data import Preprocessing

    ds = load_dataset({"name": "digits"})
    pre = Preprocessing.fit(ds)
    pre.denoise = "median"
    again = Preprocessing.from_dict(pre.to_dict())
    assert again.denoise == "median"
    assert not torch.allclose(again(ds.x_test[:10]), Preprocessing.fit(ds)(ds.x_test[:10]))


def test_augmentation_changes_training_inputs_but_not_evaluation_inputs():
    from nnforge.train import prepare

    plain = prepare(load_config(None, ["data.name=digits", "data.val_fraction=0.2"]))
    aug = prepare(load_config(None, ["data.name=digits", "data.val_fraction=0.2", "data.augment.rotate=15",
                                     "data.augment.crop_padding=1", "data.augment.noise=0.05", "data.augment.cutout=0.25"]))
    (xa, ya), (xp, yp) = next(iter(aug.train)), next(iter(plain.train))
    assert torch.equal(ya, yp) and not torch.allclose(xa, xp)  # same examples, altered inputs
    for split in ("val", "test"):
        (ea, _), (ep, _) = next(iter(getattr(aug, split))), next(iter(getattr(plain, split)))
        assert torch.equal(ea, ep)  # evaluation never sees augmentation
        assert torch.equal(ea, aug.preprocessing(getattr(aug.dataset, f"x_{split}")[: len(ea)]))
