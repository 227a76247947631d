"""``train.compile``: a compiled run trains to the same result as eager and saves plain weights;
without a C++ compiler (CPU backend) the run stops before training with a one-line error."""

import pytest
import torch

from nnforge.errors import ConfigError
from nnforge.train import fit

from .conftest import fast_config

ONE_EPOCH = ["train.epochs=1", "model.hidden=[32]", "data.val_fraction=0", "train.checkpoint.enabled=false"]


@pytest.mark.slow
def test_compiled_mlp_trains_like_eager_and_saves_unprefixed_weights(tmp_path):
    """Measured on 2 busy cores: about 30 s with a cold inductor cache (the C++ build), 15 s warm."""
    import nnforge

    eager = fit(fast_config(*ONE_EPOCH), tmp_path / "eager")
    compiled = fit(fast_config(*ONE_EPOCH, "train.compile=true"), tmp_path / "compiled")
    torch._dynamo.reset()
    assert compiled.metrics["test_accuracy"] > 0.7
    assert compiled.metrics["test_accuracy"] == pytest.approx(eager.metrics["test_accuracy"], abs=0.02)
    state = compiled.model.state_dict()
    assert all(not k.startswith("_orig_mod.") for k in state)
    for name, tensor in eager.model.state_dict().items():
        assert torch.allclose(state[name], tensor, atol=1e-3), name
    reloaded = nnforge.load(compiled.dir)  # the run directory serves without torch.compile
    assert reloaded.model.state_dict().keys() == eager.model.state_dict().keys()


def test_compile_without_a_cxx_compiler_is_a_clear_error_before_training(tmp_path, monkeypatch):
    from torch._inductor import config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", ("nnforge-no-such-c++",))
    with pytest.raises(ConfigError, match="C\\+\\+ compiler"):
        fit(fast_config(*ONE_EPOCH, "train.compile=true"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
