"""Sanity checks for attributions: they depend on what the model learned, and Grad-CAM finds the evidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from nnforge.data import load_dataset
from nnforge.explain.attribution import METHODS, attribute
from nnforge.models import build_model
from nnforge.predictor import load


def _rank_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Spearman correlation of two sets of maps; a constant map shares nothing (0)."""
    values = []
    for x, y in zip(a, b):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            values.append(0.0)
        else:
            values.append(spearmanr(x.ravel(), y.ravel())[0])
    return float(np.mean(values))


@pytest.mark.parametrize("method", METHODS)
def test_model_randomisation_changes_the_attributions(digits_cnn, method):
    """Adebayo et al. (2018): maps that survive re-initialising the weights explain the input, not the model."""
    predictor = load(digits_cnn)
    ds = load_dataset({"name": "digits"})
    x = predictor.preprocessing(ds.x_test[:8])
    target = predictor.model(x).argmax(1)
    kw = dict(baseline=predictor.preprocessing(torch.zeros_like(ds.x_test[:1])), background=predictor.preprocessing(ds.x_train[:16]))
    torch.manual_seed(123)
    random_model = build_model(predictor.meta["model"], predictor.input_shape, 10).eval()
    trained = attribute(predictor.model, x, target, method, seed=0, **kw).numpy()
    rerun = attribute(predictor.model, x, target, method, seed=1, **kw).numpy()  # only the sampling noise differs
    randomised = attribute(random_model, x, target, method, seed=0, **kw).numpy()
    assert trained.shape == (8, 8, 8)
    to_random = _rank_similarity(trained, randomised)
    assert to_random < 0.3
    assert _rank_similarity(trained, rerun) > to_random + 0.25


def test_gradcam_peaks_where_the_class_evidence_is():
    """A CNN learns 'a bright square anywhere' vs noise; Grad-CAM must point at the square."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    def batch(n):
        x = torch.rand(n, 1, 28, 28, generator=gen) * 0.5
        y = torch.randint(0, 2, (n,), generator=gen)
        corners = torch.randint(0, 22, (n, 2), generator=gen)
        for i in torch.nonzero(y).flatten():
            r, c = corners[i]
            x[i, 0, r : r + 6, c : c + 6] = 1.0
        return x, y

    from nnforge.config import load_config

    cfg = load_config(None, ["model.name=cnn", "model.channels=[8, 8]", "model.hidden=16"]).model
    model = build_model(cfg, (1, 28, 28), 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        xb, yb = batch(32)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    xt, yt = batch(200)
    assert (model(xt).argmax(1) == yt).float().mean() > 0.95
    image = torch.rand(1, 1, 28, 28, generator=gen) * 0.5
    for r, c in ((2, 3), (19, 20), (4, 18)):  # the square in three different places
        x = image.clone()
        x[0, 0, r : r + 6, c : c + 6] = 1.0
        cam = attribute(model, x, torch.tensor([1]), "gradcam")[0]
        peak = divmod(int(cam.argmax()), 28)
        assert r - 3 <= peak[0] <= r + 8 and c - 3 <= peak[1] <= c + 8, (peak, (r, c))
        inside = cam[max(0, r - 3) : r + 9, max(0, c - 3) : c + 9].sum() / cam.sum()
        assert inside > 0.5
