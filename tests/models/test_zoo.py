import pytest
import torch

from nnforge.config import load_config
from nnforge.models import MODELS, build_model


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_every_model_builds_and_runs(name, shape):
    cfg = load_config(None, [f"model.name={name}"]).model
    model = build_model(cfg, shape, 7)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_seed_architectures_have_the_seed_sizes():
    mlp = build_model(load_config(None, ["model.name=mlp"]).model, (1, 28, 28), 10)
    assert [m.out_features for m in mlp.modules() if isinstance(m, torch.nn.Linear)] == [512, 256, 10]
    cnn = build_model(load_config(None, ["model.name=cnn"]).model, (1, 28, 28), 10)
    convs = [m for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 32), (32, 64)]
    assert sum(p.numel() for p in cnn.parameters()) == 421642  # the seed's SimpleCNN
    r18 = build_model(load_config(None, ["model.name=resnet18"]).model, (3, 32, 32), 10)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in r18.modules()) == 20  # 17 + 3 projections


def test_tabular_input_needs_mlp():
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError, match="model.name=mlp"):
        build_model(load_config(None, []).model, (4,), 3, kind="tabular")
