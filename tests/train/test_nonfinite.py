"""A NaN stops the run at its step with a reason (or is skipped); checkpoints stay finite."""

import math

import pytest
import torch

from nnforge.config import load_config
from nnforge.train import Callback, fit
from nnforge.train.checkpoint import latest_checkpoint, step_checkpoints
from nnforge.train.nonfinite import NonFiniteError, all_finite

FAST = ["data.name=digits", "data.batch_size=64", "model.name=mlp", "model.hidden=[32]", "train.epochs=3", "train.optimizer.name=adam",
        "train.optimizer.lr=0.01", "train.progress=none", "threads=1", "train.checkpoint.every_steps=5"]


class PoisonGradients(Callback):
    """Sets one gradient to NaN (or ``value``) at the given (1-based) steps, as an overflow in backward would."""

    def __init__(self, steps, value=math.nan, last=False):
        self.steps, self.value, self.last = set(steps), value, last

    def on_after_backward(self, trainer):
        if trainer.global_step + 1 in self.steps:
            params = list(trainer.model.parameters())
            params[-1 if self.last else 0].grad.view(-1)[-1] = self.value


def test_nan_at_step_k_stops_there_and_last_checkpoint_is_finite(tmp_path):
    k = 33
    with pytest.raises(NonFiniteError) as err:
        fit(load_config(None, FAST), tmp_path / "run", callbacks=[PoisonGradients([k])])
    msg = str(err.value)
    assert f"non-finite gradient at step {k} (epoch 2, batch 12/21)" in msg and "likely cause" in msg and "lr" in msg
    assert "\n" not in msg
    run = tmp_path / "run"
    assert not (run / "model.json").exists() and not (run / "metrics.json").exists()
    assert [s for s, _ in step_checkpoints(run / "checkpoints")][0] == 30
    last = latest_checkpoint(run)
    assert last.position["global_step"] == 30
    assert all_finite(last.state["engine"]["model"].values())
    assert all_finite(t for s in last.state["engine"]["optimizer"]["state"].values() for t in s.values())


def test_inf_in_the_last_layers_bias_gradient_stops_the_run(tmp_path):
    with pytest.raises(NonFiniteError, match=r"non-finite gradient at step 7 \(epoch 1, batch 7/21\)"):
        fit(load_config(None, FAST), tmp_path / "run", callbacks=[PoisonGradients([7], -math.inf, last=True)])
    assert [s for s, _ in step_checkpoints(tmp_path / "run" / "checkpoints")] == [5]


def test_skip_mode_leaves_out_bad_steps_and_finishes(tmp_path):
    run = fit(load_config(None, FAST + ["train.nonfinite=skip"]), tmp_path / "run", callbacks=[PoisonGradients([5, 6, 40])])
    assert all_finite(run.model.parameters())
    assert all(math.isfinite(h["train_loss"]) for h in run.history)
    assert run.metrics["test_accuracy"] > 0.85


def test_diverging_lr_is_named(tmp_path):
    cfg = load_config(None, FAST + ["train.optimizer.name=sgd", "train.optimizer.lr=1e6", "train.checkpoint.every_steps=0"])
    with pytest.raises(NonFiniteError, match=r"train\.optimizer\.lr=1e\+06"):
        fit(cfg, tmp_path / "run")
    for _, path in step_checkpoints(tmp_path / "run" / "checkpoints"):
        assert all_finite(latest_checkpoint(tmp_path / "run").state["engine"]["model"].values()), path


def test_all_finite_sees_nan_and_inf_but_not_large_values():
    assert all_finite([torch.full((3,), 1e38)])
    assert not all_finite([torch.tensor([1.0, math.inf])])
    assert not all_finite([torch.zeros(2), torch.tensor([math.nan])])


def test_all_finite_is_exact_where_its_one_reduction_overflows():
    huge = [torch.full((1000,), 3e38), torch.full((7, 3), -3e38)]  # their norms overflow to inf; every value is finite
    assert all_finite(huge)
    assert not all_finite(huge + [torch.tensor([0.0, -math.inf])])
    assert not all_finite([torch.ones(4, dtype=torch.bfloat16), torch.tensor([math.nan], dtype=torch.float16)])
    assert all_finite([torch.ones(3, dtype=torch.bfloat16), torch.arange(3), None, torch.empty(0)])


def test_a_diverging_scratch_run_ends_in_the_one_line_error_without_numpy_warnings(tmp_path):
    """Before: NumPy's 'overflow encountered in matmul' and 'invalid value encountered in subtract'
    warnings, quoting nnforge.scratch's source lines, came before the guard's one-line error."""
    import warnings

    cfg = load_config(None, FAST + ["engine=scratch", "train.optimizer.name=sgd", "train.optimizer.lr=1e9", "train.checkpoint.every_steps=0"])
    with warnings.catch_warnings(record=True) as caught, pytest.raises(NonFiniteError, match=r"train\.optimizer\.lr=1e\+09"):
        warnings.simplefilter("always")
        fit(cfg, tmp_path / "run")
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


def test_an_optimizer_moment_that_overflowed_keeps_the_checkpoint_out_on_scratch_too(tmp_path):
    """A gradient of 1e30 is finite, but Adam's float32 second moment (1e60) is Inf, and its weight then
    never moves again. The torch engine refused to checkpoint it; before, the scratch engine checked only
    the weights and wrote the checkpoint (the run went on with that weight frozen)."""
    class Huge(Callback):
        def on_after_backward(self, trainer):
            if trainer.global_step + 1 == 2:
                g = next(iter(trainer.engine.model.parameters())).grad
                g.data.reshape(-1)[0] = 1e30

    with pytest.raises(NonFiniteError, match="no checkpoint was written"):
        fit(load_config(None, FAST + ["engine=scratch", "train.checkpoint.every_steps=3"]), tmp_path / "run", callbacks=[Huge()])
