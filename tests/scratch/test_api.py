"""The remaining public pieces: module wrappers, loss modules, misc tensor methods, NumPy-only."""
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from nnforge import scratch
from nnforge.scratch import nn

from .helpers import compare, rand


def test_scratch_never_imports_torch():
    code = ("import sys; import nnforge.scratch, nnforge.scratch.models, "
            "nnforge.scratch.gradcheck; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("s_mod,t_mod", [
    (nn.Softmax(1), torch.nn.Softmax(1)), (nn.LogSoftmax(0), torch.nn.LogSoftmax(0)),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.Identity(), torch.nn.Identity()),
    (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)), (nn.Flatten(0), torch.nn.Flatten(0)),
])
def test_parameter_free_modules(s_mod, t_mod):
    compare(s_mod, t_mod, rand(np.random.default_rng(0), 3, 4))


def test_loss_modules():
    rng = np.random.default_rng(1)
    logits, y = rand(rng, 5, 3), rng.integers(0, 3, 5)
    w = rng.uniform(0.5, 2, 3)
    compare(lambda x: nn.CrossEntropyLoss(weight=w, label_smoothing=0.2)(x, y),
            lambda x: torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.2)(x, torch.tensor(y)), logits)
    target = rng.random((5, 3))
    compare(lambda x: nn.MSELoss(reduction="sum")(x, target),
            lambda x: torch.nn.MSELoss(reduction="sum")(x, torch.tensor(target)), logits)
    compare(lambda x: nn.BCEWithLogitsLoss()(x, target),
            lambda x: torch.nn.BCEWithLogitsLoss()(x, torch.tensor(target)), logits)
    probs = rng.uniform(0.1, 0.9, (5, 3))
    compare(lambda x: nn.BCELoss()(x, target), lambda x: torch.nn.BCELoss()(x, torch.tensor(target)), probs)
    compare(lambda x: nn.FocalLoss(gamma=0.0)(x, y), lambda x: TF.cross_entropy(x, torch.tensor(y)), logits)


def test_misc_tensor_methods():
    rng = np.random.default_rng(2)
    a = rand(rng, 3, 4)
    compare(lambda x: x.std(1), lambda x: x.std(1), a)
    compare(lambda x: x.clone() * 2, lambda x: x.clone() * 2, a)
    compare(lambda x: 2 ** (x * 0.5) + (x * x) ** 1.5, lambda x: 2 ** (x * 0.5) + (x * x) ** 1.5, a)
    compare(lambda x: 3 - x / (x * x + 1), lambda x: 3 - x / (x * x + 1), a)
    compare(lambda x: x.to(np.float32).to(np.float64) * 1, lambda x: x.float().double() * 1, a, rtol=1e-6, atol=1e-6)
    t = scratch.tensor(a)
    assert t.argmax(1).tolist() == np.argmax(a, 1).tolist()
    assert t.size() == (3, 4) and t.size(0) == 3 and t.numel() == 12 and len(t) == 3


def test_module_list_and_to_double():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1)])
    holder = nn.Sequential(*layers)
    assert len(layers) == 2 and len(list(holder.parameters())) == 4
    holder.double()
    assert all(p.dtype == np.float64 for p in holder.parameters())
    assert "Linear(in_features=2, out_features=2, bias=True)" in repr(holder)


def test_comparisons_are_elementwise_like_torch():
    pred, y = scratch.tensor([0, 2, 1]), np.array([0, 1, 1])
    assert (pred == y).tolist() == [True, False, True]
    assert (pred != y).data.sum() == 1
    assert float((pred == scratch.tensor(y)).data.mean()) == pytest.approx(2 / 3)


def test_repr_names_the_dtype_only_where_torch_does():
    for make in (lambda m: m.tensor([1, 2]), lambda m: m.tensor([True, False]), lambda m: m.tensor([1.0, 2.0])):
        s, t = repr(make(scratch)), repr(make(torch))  # an int64 or bool tensor said ", dtype=int64" / ", dtype=bool"
        assert s == t, (s, t)
    assert repr(scratch.tensor([1.0], dtype=scratch.float64)).endswith(", dtype=float64)")
