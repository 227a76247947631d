"""Layers load torch weights by name and then compute what torch computes."""
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from nnforge import scratch
from nnforge.scratch import nn

from .helpers import s64, t64


def _mirror(s_mod, t_mod):
    """Copy torch's weights into the scratch module (keys must match exactly), both float64."""
    t_mod.double()
    s_mod.double()
    t_state = t_mod.state_dict()
    assert list(s_mod.state_dict()) == list(t_state)
    for k, v in s_mod.state_dict().items():
        assert v.shape == tuple(t_state[k].shape), k
    s_mod.load_state_dict(t_state)


def _check(s_mod, t_mod, x, atol=1e-9):
    _mirror(s_mod, t_mod)
    sx, tx = s64(x), t64(x)
    s_out, t_out = s_mod(sx), t_mod(tx)
    if isinstance(t_out, tuple):
        s_out, t_out = s_out[0], t_out[0]
    assert_allclose(s_out.data, t_out.detach().numpy(), rtol=1e-6, atol=atol)
    w = np.random.default_rng(0).standard_normal(s_out.shape)
    (s_out * scratch.tensor(w, dtype=scratch.float64)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    assert_allclose(sx.grad.data, tx.grad.numpy(), rtol=1e-6, atol=atol)
    s_params = dict(s_mod.named_parameters())
    for name, p in t_mod.named_parameters():
        assert_allclose(s_params[name].grad.data, p.grad.numpy(), rtol=1e-6, atol=atol, err_msg=name)


def test_mlp_and_cnn_stacks():
    rng = np.random.default_rng(0)
    _check(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.0), nn.Linear(5, 3), nn.Tanh()),
           torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(5, 3), torch.nn.Tanh()), rng.standard_normal((4, 6)))
    _check(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.LeakyReLU(0.2), nn.MaxPool2d(2),
                         nn.Conv2d(3, 4, 2, stride=2, bias=False), nn.GELU(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(4, 2), nn.BatchNorm1d(2), nn.Sigmoid()),
           torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.BatchNorm2d(3),
                               torch.nn.LeakyReLU(0.2), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(3, 4, 2, stride=2, bias=False), torch.nn.GELU(),
                               torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4, 2),
                               torch.nn.BatchNorm1d(2), torch.nn.Sigmoid()),
           rng.standard_normal((3, 2, 8, 8)))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_recurrent(kind, batch_first):
    rng = np.random.default_rng(1)
    s_mod = getattr(nn, kind)(3, 4, num_layers=2, batch_first=batch_first)
    t_mod = getattr(torch.nn, kind)(3, 4, num_layers=2, batch_first=batch_first)
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    _check(s_mod, t_mod, x)
    s_out, s_state = s_mod(s64(x))
    t_out, t_state = t_mod(t64(x))
    s_h, t_h = (s_state[0], t_state[0]) if kind == "LSTM" else (s_state, t_state)
    assert_allclose(s_h.data, t_h.detach().numpy(), rtol=1e-6, atol=1e-9)
    if kind == "LSTM":
        assert_allclose(s_state[1].data, t_state[1].detach().numpy(), rtol=1e-6, atol=1e-9)


def test_embedding_module():
    s_mod, t_mod = nn.Embedding(7, 3), torch.nn.Embedding(7, 3)
    _mirror(s_mod, t_mod)
    idx = np.array([[1, 6, 1]])
    s_out, t_out = s_mod(scratch.tensor(idx)), t_mod(torch.tensor(idx))
    assert_allclose(s_out.data, t_out.detach().numpy())
    (s_out * s_out).sum().backward()
    (t_out * t_out).sum().backward()
    assert_allclose(s_mod.weight.grad.data, t_mod.weight.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("momentum", [0.1, None])  # None: torch's cumulative average (was a TypeError)
def test_batchnorm_train_eval_and_buffers(momentum):
    s_bn, t_bn = nn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    _mirror(s_bn, t_bn)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.standard_normal((8, 3)) * 3 + 1
        s_bn(s64(x, grad=False)), t_bn(t64(x, grad=False))
    for k, v in t_bn.state_dict().items():
        assert_allclose(s_bn.state_dict()[k], v.numpy(), rtol=1e-6, err_msg=k)
    s_bn.eval(), t_bn.eval()
    assert not s_bn.training
    assert_allclose(s_bn(s64(x)).data, t_bn(t64(x)).detach().numpy(), rtol=1e-6)


def test_module_bookkeeping():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]
    assert model[0].weight.shape == (3, 2)  # (out, in) like torch
    model.eval()
    assert all(not m.training for m in model.modules())
    state = model.state_dict()
    other = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
    other.load_state_dict(state)
    for (_, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(KeyError):
        other.load_state_dict({"0.weight": state["0.weight"]})
    with pytest.raises(ValueError):
        other.load_state_dict({**state, "0.weight": np.zeros((2, 2))})
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_initialisers_have_the_promised_spread():
    scratch.manual_seed(0)
    w = nn.Parameter(np.empty((400, 300), dtype=np.float32))
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.data.std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.data).max() <= np.sqrt(6 / 700) + 1e-7
    assert w.data.std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    lin = nn.Linear(50, 10)
    assert np.abs(lin.weight.data).max() <= 1 / np.sqrt(50)


def test_perceptron_is_the_seed_formula():
    p = nn.Perceptron(3)
    p.load_state_dict({"weight": np.array([0.2, 0.4, -0.1]), "bias": np.array(0.1)})
    out = p(scratch.tensor([0.5, 0.3, 0.8]))
    expected = 1 / (1 + np.exp(-(0.5 * 0.2 + 0.3 * 0.4 + 0.8 * -0.1 + 0.1)))
    assert out.item() == pytest.approx(expected, rel=1e-6)
    assert f"{out.item():.4f}" == "0.5597"


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_torch(batch_first):
    """Outputs, head-averaged weights, and gradients for the inputs and every weight agree with torch's."""
    s_mod = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    t_mod = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    _mirror(s_mod, t_mod)
    rng = np.random.default_rng(3)
    shape = (2, 5, 8) if batch_first else (5, 2, 8)
    x, memory = rng.standard_normal(shape), rng.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    sx, tx, sm, tm = s64(x), t64(x), s64(memory), t64(memory)
    (s_out, s_w), (t_out, t_w) = s_mod(sx, sm, sm), t_mod(tx, tm, tm)  # cross-attention: 5 queries, 4 keys
    assert_allclose(s_out.data, t_out.detach().numpy(), rtol=1e-6, atol=1e-9)
    assert_allclose(s_w.data, t_w.detach().numpy(), rtol=1e-6, atol=1e-9)
    assert_allclose(s_w.data.sum(-1), 1.0)
    w = np.random.default_rng(0).standard_normal(s_out.shape)
    (s_out * scratch.tensor(w, dtype=scratch.float64)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for s, t in ((sx, tx), (sm, tm)):
        assert_allclose(s.grad.data, t.grad.numpy(), rtol=1e-6, atol=1e-9)
    s_params = dict(s_mod.named_parameters())
    for name, p in t_mod.named_parameters():
        assert_allclose(s_params[name].grad.data, p.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)


def test_layer_norm_matches_torch():
    s_mod, t_mod = nn.LayerNorm([3, 4]), torch.nn.LayerNorm([3, 4])
    with torch.no_grad():
        t_mod.weight.normal_(), t_mod.bias.normal_()
    _check(s_mod, t_mod, np.random.default_rng(4).standard_normal((2, 5, 3, 4)) * 3 + 1)
