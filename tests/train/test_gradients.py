"""Clipping bounds the gradient norm; per-layer norms are logged; vanishing gradients are named."""

import json
import warnings

from nnforge.train import fit
from nnforge.train.gradients import GradientControl, GradientWarning

from .conftest import fast_config


def test_clip_norm_bounds_the_gradient_and_norms_are_logged_per_layer(tmp_path):
    control = GradientControl(clip_norm=0.05)
    fit(fast_config("train.epochs=2", "train.gradients.log_norms=true"), tmp_path / "run", callbacks=[control])
    assert 0 < control.max_norm_after_clip <= 0.05 + 1e-5
    lines = [json.loads(line) for line in (tmp_path / "run" / "grad_norms.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert set(lines[0]["layers"]) == {"layers.0", "layers.2"}
    # the unclipped norms the network produced were larger than the bound, so clipping acted
    assert max(lines[0]["layers"].values()) > 0.05


def test_clip_value_bounds_every_element(tmp_path):
    import torch

    seen = []

    class Probe(GradientControl):
        def on_after_backward(self, trainer):
            super().on_after_backward(trainer)
            seen.append(max(p.grad.abs().max().item() for p in trainer.model.parameters()))

    fit(fast_config("train.epochs=1"), tmp_path / "run", callbacks=[Probe(clip_value=1e-3)])
    assert max(seen) <= 1e-3 + 1e-9 and torch.isfinite(torch.tensor(seen)).all()


def test_vanishing_gradients_warning_names_the_layer(tmp_path):
    # a deep sigmoid network: the first layer's gradient is orders of magnitude below the last's
    cfg = fast_config("train.epochs=1", "model.hidden=[32, 32, 32, 32, 32, 32, 32, 32]", "model.activation=sigmoid",
                      "train.optimizer.name=sgd", "train.optimizer.lr=0.01",
                      "train.gradients.check=true", "train.gradients.vanish_below=1e-5")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(cfg, tmp_path / "run")
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]
    assert messages and "vanishing in layer 'layers.0'" in messages[0]
    assert not any("layers.16" in m for m in messages)  # the head still learns


def test_a_resumed_run_goes_on_logging_gradient_norms(tmp_path):
    """The per-layer sums come back from the checkpoint as a plain dict (they were a defaultdict,
    and the first step after ``--resume`` raised KeyError)."""
    import os
    import signal

    import pytest

    from nnforge.train import Callback, resume_run
    from nnforge.train.signals import Interrupted

    class SigtermAtStep(Callback):
        def on_batch_end(self, trainer, step, logs):
            if trainer.global_step == 13:  # mid-way through the second epoch
                os.kill(os.getpid(), signal.SIGTERM)

    recipe = fast_config("train.gradients.log_norms=true")  # three epochs
    with pytest.raises(Interrupted):
        fit(recipe, tmp_path / "run", callbacks=[SigtermAtStep()])
    resume_run(None, tmp_path / "run")
    lines = [json.loads(line) for line in (tmp_path / "run" / "grad_norms.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
