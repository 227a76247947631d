import re

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


@pytest.mark.parametrize("overrides, message", [
    (["model.name=mlp", "model.hidden=[0]"], "'model.hidden' is [0]; accepted: a list of whole numbers >= 1"),
    (["model.name=mlp", "model.hidden=[-5]"], "'model.hidden' is [-5]; accepted: a list of whole numbers >= 1"),
    (["model.name=mlp", "model.hidden=[12.5]"], "'model.hidden' is [12.5]"),
    (["model.name=cnn", "model.hidden=0"], "'model.hidden' is 0; accepted: a whole number >= 1"),
    (["model.name=cnn", "model.norm_after_pool=-1"], "'model.norm_after_pool' is -1; accepted: a whole number >= 0"),
    (["model.name=vit", "model.mlp_ratio=1.5"], "'model.mlp_ratio' is 1.5; accepted: a whole number >= 1"),
    (["model.name=mlp", "model.dropout=1.5"], "'model.dropout' is 1.5; accepted: a probability >= 0 and < 1"),
    (["model.name=mlp", "model.dropout=.nan"], "'model.dropout' is nan; accepted: a finite number"),
    (["model.name=[mlp]"], "'model.name' is ['mlp']"),
    # before: OverflowError in math.isfinite, TypeError ("Overflow when unpacking long long") from torch.empty
    (["model.name=mlp", f"model.dropout=1{'0' * 400}"], "'model.dropout' is 1000"),
    (["model.name=mlp", f"model.hidden=[1{'0' * 400}]"], "accepted: a list of whole numbers >= 1 (64-bit)"),
    (["model.name=cnn", f"model.hidden={2**63}"], "'model.hidden' is 9223372036854775808; accepted: a whole number >= 1 (64-bit)"),
])
def test_model_values_no_model_can_be_built_from_are_one_line_errors(overrides, message):
    """Before: a width of 0 divided by zero in the scratch twin after training, a negative one or a
    dropout outside [0, 1) failed inside torch's constructors, a list as the name was a TypeError."""
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    assert message in str(info.value)


def test_a_zero_width_is_refused_before_a_run_folder_exists(tmp_path, capsys):
    from nnforge.cli import main

    out = tmp_path / "run"
    assert main(["train", "digits_mlp", "--set", "model.hidden=[0]", "--out", str(out)]) == 2
    assert "'model.hidden' is [0]" in capsys.readouterr().err
    assert not out.exists()


def test_a_model_larger_than_memory_is_one_line_before_a_run_folder_exists(tmp_path, capsys):
    """Before: torch's allocator error (25 TB for hidden: [100000000000]) as a traceback. 10**15 units
    ask for more than any address space holds, so no machine's overcommit lets it through."""
    from nnforge.cli import main

    out = tmp_path / "run"
    assert main(["train", "digits_mlp", "--set", "model.hidden=[1000000000000000]", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model 'mlp' with these parameters needs more memory than this machine has (")
    assert err.endswith("GiB for one layer); make it smaller (its widths: hidden)\n") and not out.exists()


def test_building_on_the_meta_device_does_not_import_torch_dynamo():
    """A loaded run's shapes are checked on the meta device (nnforge/predictor.py); a forward pass or
    out-of-place arithmetic there runs torch's Python decompositions, which import torch._dynamo:
    about 1 s of every predict, eval and serve start. Checked in a fresh interpreter."""
    import subprocess
    import sys

    child = ("import sys, torch\nfrom nnforge.models import MODELS, build_model\n"
             "with torch.device('meta'):\n"
             "    build_model({'name': 'cnn', 'batch_norm': True, 'channels': [8, 16]}, (1, 28, 28), 10)\n"
             "    build_model({'name': 'vit'}, (1, 28, 28), 10)\n"
             "    build_model({'name': 'resnet'}, (3, 32, 32), 10)\n"
             "print('torch._dynamo' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr[-1500:]


def test_a_cnn_with_more_poolings_than_the_input_allows_is_one_line():
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError, match="'model.channels' has 5 blocks, each halving the input; a 28x28 input allows at most 4"):
        build_model({"name": "cnn", "channels": [4] * 5}, (1, 28, 28), 10)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_cnn_pools_before_relu_as_the_seeds_order_computes(batch_norm):
    """SimpleCNN pools before its ReLU (cheaper); the seed's Conv -> BN -> ReLU -> MaxPool must give
    the same outputs and gradients for the same weights, in training mode (batch statistics)."""
    from nnforge.models.cnn import SimpleCNN

    torch.manual_seed(0)
    model = SimpleCNN((1, 28, 28), 10, channels=(4, 8), hidden=16, batch_norm=batch_norm).train()
    f = list(model.features)
    assert [type(m).__name__ for m in f[-2:]] == ["MaxPool2d", "ReLU"]
    per_block = 4 if batch_norm else 3
    seed_order = torch.nn.Sequential(*[m for i in range(0, len(f), per_block)
                                       for m in (*f[i:i + per_block - 2], f[i + per_block - 1], f[i + per_block - 2])])
    x = torch.randn(8, 1, 28, 28)
    outputs, grads = [], []
    for features in (model.features, seed_order):
        model.zero_grad()
        out = model.classifier(features(x))
        out.square().sum().backward()
        outputs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    torch.testing.assert_close(outputs[0], outputs[1])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("overrides, message", [
    (["model.norm_after_pool=1"], "'model.norm_after_pool' moves BatchNorm, which is off; set model.batch_norm=true"),
    (["model.batch_norm=true", "model.norm_after_pool=3"], "'model.norm_after_pool' is 3, but the network has 2 conv blocks"),
])
def test_norm_after_pool_names_blocks_that_exist_and_a_batch_norm_that_is_on(overrides, message):
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        build_model(load_config(None, ["model.name=cnn", *overrides]).model, (1, 28, 28), 10)


def test_norm_after_pool_normalises_the_pooled_values_of_its_first_blocks():
    """norm_after_pool=1: block 1 is Conv -> MaxPool -> BN -> ReLU, block 2 keeps BN before its pool,
    and the first BatchNorm's statistics are those of the pooled values."""
    model = build_model(load_config(None, ["model.name=cnn", "model.batch_norm=true", "model.norm_after_pool=1"]).model,
                        (1, 28, 28), 10).train()
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU"]
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        pooled = torch.nn.functional.max_pool2d(model.features[0](x), 2)
        model.features[2].momentum = 1.0  # running statistics = this batch's
        model.features[:3](x)
    torch.testing.assert_close(model.features[2].running_mean, pooled.mean((0, 2, 3)))


def test_a_model_key_of_another_kind_names_the_model_and_the_kind_in_words():
    """``--set model.name=cnn`` on an MLP recipe keeps its ``hidden: [128, 64]``, which the CNN takes as one width."""
    from nnforge.config import load_config
    from nnforge.errors import ConfigError
    from nnforge.rundir import recipe_path

    with pytest.raises(ConfigError, match=r"^'model.hidden' is \[128, 64\]; accepted for model 'cnn': a whole number like 128$"):
        load_config(recipe_path("digits_mlp"), ["model.name=cnn"])
