"""Optimizers, schedulers and clipping reproduce torch's numbers step for step (float64)."""
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from nnforge import scratch
from nnforge.scratch import nn, optim

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.1, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


def _problem():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((16, 4)), rng.standard_normal((16, 3))


@pytest.mark.parametrize("name,kwargs", CASES)
def test_optimizer_matches_torch(name, kwargs):
    w0, b0, x, y = _problem()
    sw, sb = nn.Parameter(scratch.tensor(w0, dtype=scratch.float64)), nn.Parameter(scratch.tensor(b0, dtype=scratch.float64))
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    s_opt = getattr(optim, name)([sw, sb], **kwargs)
    t_opt = getattr(torch.optim, name)([tw, tb], **kwargs)
    sx, sy = scratch.tensor(x, dtype=scratch.float64), scratch.tensor(y, dtype=scratch.float64)
    for _ in range(5):
        s_opt.zero_grad(), t_opt.zero_grad()
        scratch.nn.functional.mse_loss(scratch.nn.functional.linear(sx, sw, sb).tanh(), sy).backward()
        torch.nn.functional.mse_loss(torch.nn.functional.linear(torch.tensor(x), tw, tb).tanh(),
                                     torch.tensor(y)).backward()
        s_opt.step(), t_opt.step()
    assert_allclose(sw.data, tw.detach().numpy(), rtol=1e-6, atol=1e-12)
    assert_allclose(sb.data, tb.detach().numpy(), rtol=1e-6, atol=1e-12)


def test_optimizer_keeps_float32():
    p = nn.Parameter(np.ones(3, dtype=np.float32))
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    assert p.data.dtype == np.float32


@pytest.mark.parametrize("kind,kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                         ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001))])
def test_schedulers_match_torch(kind, kwargs):
    s_opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s_sched = getattr(optim.lr_scheduler, kind)(s_opt, **kwargs)
    t_sched = getattr(torch.optim.lr_scheduler, kind)(t_opt, **kwargs)
    for _ in range(12):
        assert s_sched.get_last_lr()[0] == pytest.approx(t_sched.get_last_lr()[0], rel=1e-9, abs=1e-12)
        t_opt.step()
        s_sched.step(), t_sched.step()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm(norm_type, max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    s_params = [nn.Parameter(np.zeros(g.shape)) for g in grads]
    t_params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for sp, tp, g in zip(s_params, t_params, grads):
        sp.grad, tp.grad = scratch.tensor(g.copy(), dtype=scratch.float64), torch.tensor(g.copy())
    s_norm = nn.utils.clip_grad_norm_(s_params, max_norm, norm_type)
    t_norm = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type)
    assert s_norm.item() == pytest.approx(t_norm.item(), rel=1e-9)
    for sp, tp in zip(s_params, t_params):
        assert_allclose(sp.grad.data, tp.grad.numpy(), rtol=1e-6)


def test_clip_grad_value():
    g = np.random.default_rng(2).standard_normal((4, 4)) * 3
    sp, tp = nn.Parameter(np.zeros((4, 4))), torch.zeros((4, 4), dtype=torch.float64, requires_grad=True)
    sp.grad, tp.grad = scratch.tensor(g.copy(), dtype=scratch.float64), torch.tensor(g.copy())
    nn.utils.clip_grad_value_([sp], 1.5)
    torch.nn.utils.clip_grad_value_([tp], 1.5)
    assert_allclose(sp.grad.data, tp.grad.numpy())


def test_optimizer_state_dict_round_trip():
    p = nn.Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    saved = opt.state_dict()
    q = nn.Parameter(p.data.copy())
    opt2 = optim.Adam([q], lr=0.5)
    opt2.load_state_dict(saved)
    for o, t in ((opt, p), (opt2, q)):
        t.grad = scratch.tensor(np.ones(3), dtype=scratch.float64)
        o.step()
    assert_allclose(p.data, q.data)
