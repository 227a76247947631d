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
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)),
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
                                         ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
                                         ("LambdaLR", dict(lr_lambda=lambda e: min(1.0, (e + 1) / 4) * 0.9 ** e))])
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


def test_lambda_lr_takes_one_function_per_group_as_torch():
    fs = [lambda e: 0.5 ** e, lambda e: 1.0 + e]
    s_opt = optim.SGD([{"params": [nn.Parameter(np.zeros(1))]}, {"params": [nn.Parameter(np.zeros(1))], "lr": 0.3}], lr=0.1)
    t_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                             {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}], lr=0.1)
    s_sched, t_sched = optim.lr_scheduler.LambdaLR(s_opt, fs), torch.optim.lr_scheduler.LambdaLR(t_opt, fs)
    for _ in range(5):
        assert s_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        t_opt.step()
        s_sched.step(), t_sched.step()
    with pytest.raises(ValueError, match="a list of 2 such functions"):
        optim.lr_scheduler.LambdaLR(s_opt, fs[:1])


@pytest.mark.parametrize("kwargs", [{}, dict(mode="max", factor=0.5, patience=2, cooldown=1),
                                    dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=0.02)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    """Defaults (mode min, factor 0.1, patience 10, threshold 1e-4 rel) and the other modes, epoch by epoch."""
    s_opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s_sched = optim.lr_scheduler.ReduceLROnPlateau(s_opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    sign = -1 if kwargs.get("mode") == "max" else 1
    metrics = sign * np.concatenate([np.linspace(1, 0.5, 5), 0.5 + np.random.default_rng(0).uniform(0, 0.05, 30)])
    lrs = []
    for m in metrics:
        s_sched.step(m), t_sched.step(m)
        assert s_sched.get_last_lr()[0] == pytest.approx(t_sched.get_last_lr()[0], rel=1e-12)
        lrs.append(s_sched.get_last_lr()[0])
    assert len(set(lrs)) > 1  # the plateau did cut the lr
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(s_opt, factor=1.0)


def test_reduce_lr_on_plateau_state_dict_round_trip():
    make = lambda: optim.lr_scheduler.ReduceLROnPlateau(optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1), patience=1)
    a, b = make(), make()
    for m in (1.0, 0.9, 0.95):
        a.step(m)
    b.load_state_dict(a.state_dict())
    a.step(0.95), b.step(0.95)  # the second bad epoch in a row: both cut
    assert a.get_last_lr() == b.get_last_lr() == [pytest.approx(0.01)]
    with pytest.raises(ValueError, match="expected a dict with numbers best"):
        b.load_state_dict({"best": 1.0})
