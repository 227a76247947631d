"""bf16 autocast really runs the forward in bfloat16 and still trains; channels_last is applied."""

import torch

from nnforge.train import fit

from .conftest import fast_config


def test_bf16_autocast_trains(tmp_path):
    dtypes = []

    class Probe:
        def __getattr__(self, name):
            return lambda *a, **k: None

        def on_train_begin(self, trainer):
            trainer.model.layers[0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype) if m.training else None)

    run = fit(fast_config("train.epochs=3", "train.precision=bf16"), tmp_path / "run", callbacks=[Probe()])
    assert dtypes and all(d == torch.bfloat16 for d in dtypes)
    assert run.metrics["test_accuracy"] > 0.85
    assert all(p.dtype == torch.float32 for p in run.model.parameters())  # master weights stay fp32


def test_channels_last_cnn(tmp_path):
    run = fit(fast_config("train.epochs=1", "model.name=cnn", "model.channels=[8]", "model.hidden=32", "train.channels_last=true"),
              tmp_path / "run")
    conv = run.model.features[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert run.metrics["test_accuracy"] > 0.5
