"""RandAugment and TrivialAugment: every op changes real digits within the pixel range, the
pixel-level ops match Pillow's ImageOps on the same images, and the policies change training
images only (evaluation batches are untouched, and clean epochs switch them off)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from nnforge.data import load_dataset
from nnforge.data.autoaugment import OPS, RandAugment, TrivialAugment, autocontrast, build_policy, equalize, posterize, solarize
from nnforge.config import section
from nnforge.errors import ConfigError
from nnforge.train import prepare
from tests.train.conftest import fast_config


@pytest.fixture(scope="module")
def mnist():
    return load_dataset({"name": "mnist-sample"}).x_test[:64].float()


def _pil(op, images: torch.Tensor, *args) -> torch.Tensor:
    out = [np.asarray(op(Image.fromarray(im[0].numpy().astype(np.uint8)), *args), dtype=np.float32) for im in images]
    return torch.from_numpy(np.stack(out))[:, None]


def test_pixel_ops_match_pillow(mnist):
    n = len(mnist)
    assert torch.equal(equalize(mnist, None), _pil(ImageOps.equalize, mnist))
    assert torch.equal(posterize(mnist, torch.full((n,), 3.0)), _pil(ImageOps.posterize, mnist, 3))
    assert torch.equal(solarize(mnist, torch.full((n,), 100.0)), _pil(ImageOps.solarize, mnist, 100))
    faint = (mnist * 0.5 + 20).floor()
    assert (autocontrast(faint, None) - _pil(ImageOps.autocontrast, faint)).abs().max() <= 1  # Pillow rounds its table


@pytest.mark.parametrize("name", [n for n in OPS if n not in ("identity", "color", "autocontrast")])
def test_each_op_changes_digits_within_the_pixel_range(mnist, name):
    op = OPS[name][0]
    strength = {"posterize": 4.0, "solarize": 128.0, "rotate": 20.0}.get(name, 0.3)
    out = op(mnist, torch.full((len(mnist),), strength))
    assert out.shape == mnist.shape and out.min() >= 0 and out.max() <= 255 + 1e-3
    assert ((out - mnist).abs().flatten(1).amax(1) > 1).float().mean() > 0.9


def test_randaugment_changes_most_images_more_with_magnitude_and_repeats_with_seed(mnist):
    def change(magnitude, seed=0):
        out = RandAugment(2, magnitude)(mnist, torch.Generator().manual_seed(seed))
        assert out.shape == mnist.shape and out.min() >= 0 and out.max() <= 255 + 1e-3
        return out, (out - mnist).abs().mean().item()

    (a, weak), (_, strong) = change(3), change(27)
    assert strong > 2 * weak > 0
    assert torch.equal(a, change(3)[0]) and not torch.equal(a, change(3, seed=1)[0])


def test_trivialaugment_draws_one_op_at_a_uniform_magnitude(mnist):
    policy = TrivialAugment()
    g = torch.Generator().manual_seed(0)
    out = policy(mnist.repeat(4, 1, 1, 1), g)
    changed = ((out - mnist.repeat(4, 1, 1, 1)).abs().flatten(1).amax(1) > 1).float().mean()
    assert 0.6 < changed < 0.98  # identity, colour on grey images and magnitude 0 leave some unchanged


def test_policy_keys_are_checked():
    assert build_policy(section("data.augment", {})) is None
    with pytest.raises(ConfigError, match="policy"):
        build_policy(section("data.augment", {"magnitude": 5}))
    with pytest.raises(ConfigError, match="num_ops"):
        build_policy(section("data.augment", {"policy": "trivialaugment", "num_ops": 3}))
    policy = build_policy(section("data.augment", {"policy": "randaugment"}))
    assert (policy.num_ops, policy.magnitude) == (2, 9)


@pytest.mark.parametrize("policy", ["randaugment", "trivialaugment"])
def test_policies_change_training_images_not_evaluation_images(policy):
    plain, auto = prepare(fast_config()), prepare(fast_config(f"data.augment.policy={policy}", "data.augment.clean_epochs=1"))
    (xp, yp), (xa, ya) = next(iter(plain.train)), next(iter(auto.train))
    assert torch.equal(yp, ya)  # the same seeded order
    assert ((xa - xp).abs().flatten(1).amax(1) > 1e-3).float().mean() > 0.5
    for split in ("val", "test"):
        assert all(torch.equal(a, b) for a, b in zip(next(iter(getattr(plain, split))), next(iter(getattr(auto, split)))))
    auto.train.augmentation.start_epoch(2, 3)  # the clean last epoch
    clean = plain.train.x[:16] if plain.train.transform is None else plain.train.transform(plain.train.x[:16])  # stored preprocessed
    assert torch.equal(auto.train.transform(auto.train.x[:16]), clean)
