"""mixup and cutmix: soft targets that sum to 1, mix ratios drawn from the configured Beta
distribution, inputs mixed in exactly the proportions the targets say, off for clean epochs."""

import pytest
import torch
from scipy import stats

from nnforge.data import load_dataset
from nnforge.data.mix import MixBatch, build_mix
from nnforge.errors import ConfigError


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset({"name": "digits"})
    return ds.x_train.float(), ds.y_train


def _lams(mix, outs, y):
    # the share of each example's own class, read from the soft targets where the partner's class differs
    for _, soft in outs:
        own = soft.gather(1, y[:, None].long()).squeeze(1)
        yield own[(soft > 0).sum(1) == 2]


def test_mixup_targets_sum_to_one_and_ratios_follow_the_beta_distribution(digits):
    x, y = digits
    alpha = 0.4
    mix = MixBatch(10, mixup=alpha, generator=torch.Generator().manual_seed(0))
    outs = [mix(x, y) for _ in range(3)]
    for xm, soft in outs:
        assert soft.shape == (len(x), 10) and torch.allclose(soft.sum(1), torch.ones(len(x)))
    lam = torch.cat(list(_lams(mix, outs, y))).double().numpy()
    assert len(lam) > 2000
    assert stats.kstest(lam, stats.beta(alpha, alpha).cdf).pvalue > 0.01
    assert stats.kstest(lam, stats.beta(1.0, 1.0).cdf).pvalue < 1e-6  # the test tells a different alpha apart


def test_mixup_blends_inputs_in_the_targets_proportions(digits):
    x, y = digits
    mix = MixBatch(10, mixup=1.0, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    partner = torch.randperm(len(x), generator=g)  # the mixer's first draw: who pairs with whom
    xm, soft = mix(x, y)
    lam = mix.last_lam
    expect = x * lam[:, None, None, None] + x[partner] * (1 - lam[:, None, None, None])
    assert torch.allclose(xm, expect, atol=1e-4)
    assert torch.allclose(soft[torch.arange(len(x)), y] + soft[torch.arange(len(x)), y[partner]] * (y != y[partner]),
                          torch.ones(len(x)))


def test_cutmix_pastes_a_box_whose_area_is_the_partners_share():
    n, h, w = 512, 16, 12
    x = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, h, w).contiguous()  # image i is all i
    y = torch.arange(n) % 10
    mix = MixBatch(10, cutmix=1.0, generator=torch.Generator().manual_seed(2))
    xm, soft = mix(x, y)
    own_pixels = (xm == x).flatten(1).float().mean(1)
    assert torch.allclose(own_pixels, mix.last_lam, atol=1e-6)  # the kept share is the pixel count
    assert torch.allclose(soft.sum(1), torch.ones(n))
    # unclipped boxes take 1 - lam of the area with lam ~ Beta(1, 1): the kept shares spread over (0, 1)
    assert 0.4 < mix.last_lam.mean() < 0.7 and (mix.last_lam < 0.2).any() and (mix.last_lam > 0.9).any()


def test_mix_prob_leaves_the_rest_unmixed_and_clean_epochs_switch_mixing_off(digits):
    x, y = digits
    mix = MixBatch(10, mixup=1.0, prob=0.3, generator=torch.Generator().manual_seed(3), clean_epochs=1)
    _, soft = mix(x, y)
    mixed = (soft.max(1).values < 1).float().mean()
    assert 0.2 < mixed < 0.35  # a few pairs share a class, which looks unmixed
    mix.start_epoch(4, 5)  # the last epoch is clean
    xm, soft = mix(x, y)
    assert torch.equal(xm, x) and torch.equal(soft, torch.nn.functional.one_hot(y, 10).float())


def test_build_mix_refuses_what_it_cannot_do():
    assert build_mix({}, 10, "image", torch.Generator()) is None
    with pytest.raises(ConfigError, match="cutmix"):
        build_mix({"cutmix": 1.0}, 3, "tabular", torch.Generator())
    with pytest.raises(ConfigError, match="mix_prob"):
        build_mix({"mix_prob": 0.5}, 10, "image", torch.Generator())
    assert isinstance(build_mix({"mixup": 0.2}, 3, "tabular", torch.Generator()), MixBatch)  # mixup blends table rows too
