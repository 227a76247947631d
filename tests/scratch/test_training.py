"""End to end: a scratch MLP learns scikit-learn's digits."""
import numpy as np
from sklearn.datasets import load_digits

from nnforge import scratch
from nnforge.scratch import nn, optim
from nnforge.scratch.nn import functional as F


def test_mlp_learns_digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    idx = np.random.RandomState(0).permutation(len(X))
    tr, te = idx[:1400], idx[1400:]
    scratch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(15):
        order = rng.permutation(tr)
        for s in range(0, len(order), 64):
            b = order[s:s + 64]
            opt.zero_grad()
            F.cross_entropy(model(scratch.tensor(X[b])), y[b]).backward()
            opt.step()
    model.eval()
    with scratch.no_grad():
        acc = (model(scratch.tensor(X[te])).argmax(1).data == y[te]).mean()
    assert acc >= 0.90, acc
