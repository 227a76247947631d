"""Pruning: one global magnitude threshold; channel pruning that removes dead units changes nothing
(chains, and the insides of residual blocks)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnforge.compress.prune import channel_prune, finalize, magnitude_prune, sparsity
from nnforge.data import load_dataset
from nnforge.models import build_model


def _model(cfg, shape):
    torch.manual_seed(0)
    from nnforge.models import check_model_config

    cfg = check_model_config(cfg)
    return cfg, build_model(cfg, shape, 10).eval()


def test_global_magnitude_pruning_uses_one_threshold_across_layers():
    _, model = _model({"name": "cnn", "channels": [8, 16], "hidden": 32}, (1, 28, 28))
    before = {n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    finalize(magnitude_prune(model, 0.6))
    assert sparsity(model) == pytest.approx(0.6, abs=1e-3)
    kept, dropped = [], []
    for name, module in model.named_modules():
        if name in before:
            zero = module.weight == 0
            dropped.append(before[name][zero].abs())
            kept.append(before[name][~zero].abs())
    assert torch.cat(dropped).max() <= torch.cat(kept).min()  # global, not per layer
    assert not any(name.endswith("_orig") for name, _ in model.named_parameters())  # masks folded in


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_magnitude_pruning_of_a_recurrent_network_reaches_its_cell(cell):
    """Before, only the Linear head of an lstm/gru was pruned (the cell's matrices, most of the
    weights, untouched) while compress reported 'sparsity 50.0%'; now the cell's matrices are ranked too."""
    cfg, model = _model({"name": cell, "hidden": 16}, (1, 8, 8))
    x = torch.randn(4, 1, 8, 8)
    finalize(magnitude_prune(model, 0.5))
    assert sparsity(model) == pytest.approx(0.5, abs=1e-3)
    cells = [p for n, p in model.named_parameters() if n.split(".")[-1].startswith("weight_")]
    assert cells and sum(int((p == 0).sum()) for p in cells) >= 0.4 * sum(p.numel() for p in cells)
    fresh = build_model(cfg, (1, 8, 8), 10).eval()
    fresh.load_state_dict(model.state_dict())  # masks folded in: the plain architecture's keys
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


@pytest.mark.parametrize("cfg, shape, dataset", [
    ({"name": "mlp", "hidden": [32, 16]}, (1, 8, 8), "digits"),
    ({"name": "cnn", "channels": [8, 16], "hidden": 32}, (1, 28, 28), "mnist-sample"),
])
def test_channel_pruning_dead_units_is_exact(cfg, shape, dataset):
    cfg, model = _model(cfg, shape)
    producers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))][:-1]
    with torch.no_grad():  # silence half of every hidden layer: zero weights and bias -> ReLU output 0
        for m in producers:
            m.weight[::2] = 0
            m.bias[::2] = 0
    new_cfg, state = channel_prune(model, cfg, 0.5)
    small = build_model(new_cfg, shape, 10).eval()
    small.load_state_dict(state)
    widths = [m.out_channels if isinstance(m, nn.Conv2d) else m.out_features for m in producers]
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())
    if cfg["name"] == "mlp":
        assert new_cfg["hidden"] == [w // 2 for w in widths]
    else:
        assert new_cfg["channels"] == [w // 2 for w in widths[:-1]] and new_cfg["hidden"] == widths[-1] // 2
    ds = load_dataset({"name": dataset})
    x = ds.x_test[:200].float() / 255.0
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["resnet", "resnet18"])
def test_channel_pruning_inside_residual_blocks_is_exact_for_silenced_channels(name):
    """Channels that BatchNorm silences (gamma = beta = 0) carry nothing: removing them changes no output."""
    cfg, model = _model({"name": name, "blocks": [1, 2], "width": 8}, (1, 28, 28))
    blocks = [m for m in model.modules() if type(m).__name__ == "BasicBlock"]
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in blocks:  # make BN statistics non-trivial, then silence every other inner channel
            block.bn1.running_mean.normal_(0, 0.3, generator=generator)
            block.bn1.running_var.uniform_(0.5, 2.0, generator=generator)
            block.bn1.weight.uniform_(0.5, 1.5, generator=generator)
            block.bn1.weight[::2] = 0
            block.bn1.bias[::2] = 0
    new_cfg, state = channel_prune(model, cfg, 0.5)
    assert new_cfg["inner"] == [b.conv1.out_channels // 2 for b in blocks]
    small = build_model(new_cfg, (1, 28, 28), 10).eval()
    small.load_state_dict(state)
    assert sum(p.numel() for p in small.parameters()) < 0.7 * sum(p.numel() for p in model.parameters())
    x = load_dataset({"name": "mnist-sample"}).x_test[:100].float() / 255.0
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-5)


def test_inner_widths_are_checked():
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError, match="'model.inner' is \\[4\\]; accepted: 3 positive integers, one per block"):
        _model({"name": "resnet", "blocks": [1, 2], "width": 8, "inner": [4]}, (1, 28, 28))
