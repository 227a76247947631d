"""Losses against PyTorch: values and gradients, every reduction, weights and smoothing."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from nnforge import scratch
from nnforge.scratch.nn import functional as F

from .helpers import compare, rand, s64

FAST = settings(max_examples=25, deadline=None)
REDUCTIONS = ["mean", "sum", "none"]


@FAST
@given(n=st.integers(1, 6), c=st.integers(2, 5), seed=st.integers(0, 2**16),
       reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.1, 0.3]),
       weighted=st.booleans())
def test_cross_entropy_indices(n, c, seed, reduction, smoothing, weighted):
    rng = np.random.default_rng(seed)
    logits, y = rand(rng, n, c, low=-5, high=5), rng.integers(0, c, n)
    w = rng.uniform(0.2, 2.0, c) if weighted else None
    compare(lambda x: F.cross_entropy(x, scratch.tensor(y), weight=w, reduction=reduction,
                                      label_smoothing=smoothing),
            lambda x: TF.cross_entropy(x, torch.tensor(y), weight=None if w is None else torch.tensor(w),
                                       reduction=reduction, label_smoothing=smoothing), logits)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(reduction):
    rng = np.random.default_rng(0)
    logits, p = rand(rng, 4, 3), rng.dirichlet(np.ones(3), 4)
    compare(lambda x: F.cross_entropy(x, p, reduction=reduction, label_smoothing=0.1),
            lambda x: TF.cross_entropy(x, torch.tensor(p), reduction=reduction, label_smoothing=0.1), logits)


def test_cross_entropy_is_stable():
    x = s64([[1e4, -1e4, 0.0]])
    loss = F.cross_entropy(x, np.array([1]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(2e4)
    assert np.all(np.isfinite(x.grad.data))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_mse_l1(reduction):
    rng = np.random.default_rng(1)
    a, b, y = rand(rng, 5, 3), rand(rng, 5, 3), rng.integers(0, 3, 5)
    w = rng.uniform(0.5, 2, 3)
    compare(lambda x: F.nll_loss(F.log_softmax(x, 1), y, weight=w, reduction=reduction),
            lambda x: TF.nll_loss(TF.log_softmax(x, 1), torch.tensor(y), weight=torch.tensor(w),
                                  reduction=reduction), a)
    compare(lambda x, t: F.mse_loss(x, t, reduction), lambda x, t: TF.mse_loss(x, t, reduction=reduction), a, b)
    compare(lambda x, t: F.l1_loss(x, t, reduction), lambda x, t: TF.l1_loss(x, t, reduction=reduction), a, b)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    rng = np.random.default_rng(2)
    p, y = rng.uniform(0.05, 0.95, (4, 3)), (rng.random((4, 3)) > 0.5).astype(float)
    w = rng.uniform(0.5, 2, (4, 3)) if weighted else None
    tw = None if w is None else torch.tensor(w)
    compare(lambda x: F.binary_cross_entropy(x, y, w, reduction),
            lambda x: TF.binary_cross_entropy(x, torch.tensor(y), tw, reduction=reduction), p)
    logits = rand(rng, 4, 3, low=-30, high=30)
    compare(lambda x: F.binary_cross_entropy_with_logits(x, y, w, reduction),
            lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(y), tw, reduction=reduction), logits)


def test_binary_cross_entropy_saturated_is_finite():
    loss = F.binary_cross_entropy(s64([0.0, 1.0]), np.array([1.0, 0.0]))
    assert loss.item() == pytest.approx(100.0)


def _torch_focal(x, y, gamma, alpha):
    logp = TF.log_softmax(x, 1).gather(1, y[:, None]).squeeze(1)
    loss = -((1 - logp.exp()) ** gamma) * logp
    return loss * alpha[y] if alpha is not None else loss


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("alpha", [None, [0.25, 0.5, 1.0]])
def test_focal_loss(gamma, alpha):
    rng = np.random.default_rng(3)
    logits, y = rand(rng, 6, 3), rng.integers(0, 3, 6)
    ta = None if alpha is None else torch.tensor(alpha, dtype=torch.float64)
    compare(lambda x: F.focal_loss(x, y, gamma, alpha, "none"),
            lambda x: _torch_focal(x, torch.tensor(y), gamma, ta), logits)
    if gamma == 0.0 and alpha is None:  # reduces to cross-entropy
        compare(lambda x: F.focal_loss(x, y, 0.0), lambda x: TF.cross_entropy(x, torch.tensor(y)), logits)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss"])
def test_regression_loss_on_broadcasting_shapes_warns_as_torch(loss):
    pred, target = s64(np.zeros((3, 1))), np.arange(3.0)  # (N, 1) against (N,): an (N, N) table, silently before
    with pytest.warns(UserWarning, match=r"target size \(3,\) that is different to the input size \(3, 1\)"):
        getattr(F, loss)(pred, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(F, loss)(pred, np.zeros((3, 1)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.0), (True, 0.2)])
def test_a_target_of_minus_100_is_ignored_as_torch_ignores_it(reduction, weighted, smoothing):
    rng = np.random.default_rng(5)
    logits, y = rand(rng, 5, 3), np.array([2, -100, 0, -100, 1])  # padding rows: were an IndexError
    w = rng.uniform(0.5, 2, 3) if weighted else None
    tw = None if w is None else torch.tensor(w)
    compare(lambda x: F.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=smoothing),
            lambda x: TF.cross_entropy(x, torch.tensor(y), weight=tw, reduction=reduction, label_smoothing=smoothing), logits)
    compare(lambda x: F.nll_loss(F.log_softmax(x, 1), y, weight=w, reduction=reduction),
            lambda x: TF.nll_loss(TF.log_softmax(x, 1), torch.tensor(y), weight=tw, reduction=reduction), logits)
    compare(lambda x: scratch.nn.CrossEntropyLoss(ignore_index=2)(x, np.array([2, 1, 0, 2, 1])),
            lambda x: torch.nn.CrossEntropyLoss(ignore_index=2)(x, torch.tensor([2, 1, 0, 2, 1])), logits)
    every = np.full(5, -100)
    assert np.isnan(F.cross_entropy(s64(logits), every).item()) and np.isnan(TF.cross_entropy(torch.tensor(logits), torch.tensor(every)).item())
    with pytest.raises(IndexError, match="Target -3 is out of bounds"):
        F.cross_entropy(s64(logits), np.array([2, -100, -3, 0, 1]))
