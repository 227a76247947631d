"""Shared checks: run the same computation in scratch and in PyTorch (float64) and compare."""
from __future__ import annotations

import numpy as np
import torch
from numpy.testing import assert_allclose

from nnforge import scratch

RTOL, ATOL = 1e-6, 1e-9


def s64(a, grad=True):
    return scratch.tensor(np.asarray(a, dtype=np.float64), dtype=scratch.float64, requires_grad=grad)


def t64(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def compare(scratch_fn, torch_fn, *arrays, seed=0, rtol=RTOL, atol=ATOL):
    """Outputs and input gradients (for a random upstream gradient) must agree."""
    s_in = [s64(a) for a in arrays]
    t_in = [t64(a) for a in arrays]
    s_out = scratch_fn(*s_in)
    t_out = torch_fn(*t_in)
    assert tuple(s_out.shape) == tuple(t_out.shape)
    assert_allclose(s_out.data, t_out.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(seed).standard_normal(s_out.shape)
    (s_out * scratch.tensor(w, dtype=scratch.float64)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for s, t in zip(s_in, t_in):
        if t.grad is None:
            assert s.grad is None or np.allclose(s.grad.data, 0)
            continue
        assert s.grad is not None
        assert_allclose(s.grad.data, t.grad.numpy(), rtol=rtol, atol=atol)
    return s_out, t_out


def rand(rng, *shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)
