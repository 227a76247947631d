"""L1 drives weights to zero; every zoo model takes dropout and BatchNorm options."""

import pytest
import torch

from nnforge.models import build_model, check_model_config
from nnforge.train import fit

from .conftest import fast_config


def l1_norm(model: torch.nn.Module) -> float:
    """Sum of absolute weights of the matrices and kernels (what the L1 penalty pushes down)."""
    with torch.no_grad():
        return float(sum(p.abs().sum() for p in model.parameters() if p.dim() > 1))


def test_l1_penalty_drives_weights_to_zero(tmp_path):
    plain = fit(fast_config("train.epochs=8"), tmp_path / "plain")
    sparse = fit(fast_config("train.epochs=8", "train.l1=0.002"), tmp_path / "l1")
    near_zero = lambda run: (run.model.layers[0].weight.abs() < 1e-2).float().mean().item()  # noqa: E731
    assert near_zero(sparse) > 0.5 > 3 * near_zero(plain)
    assert l1_norm(sparse.model) < 0.5 * l1_norm(plain.model)
    assert sparse.metrics["test_accuracy"] > 0.9  # still a good classifier


@pytest.mark.parametrize("name", ["mlp", "cnn", "cifar_cnn", "resnet", "lstm", "gru"])
def test_every_zoo_model_has_dropout_and_batch_norm(name):
    def count(model, kind):
        return sum(isinstance(m, kind) for m in model.modules())

    with_both = build_model(check_model_config({"name": name, "dropout": 0.3, "batch_norm": True}), (1, 28, 28), 10)
    without = build_model(check_model_config({"name": name, "dropout": 0.0, "batch_norm": False}), (1, 28, 28), 10)
    bn = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    assert count(with_both, torch.nn.Dropout) > 0 and count(with_both, bn) > 0
    assert count(without, torch.nn.Dropout) == 0 and count(without, bn) == 0
