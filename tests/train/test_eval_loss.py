"""A classifier's val_loss and test_loss are the criterion it trained with (train.loss), without
class weights, and `nnforge eval` reports the same number training wrote for the test split."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nnforge
from nnforge.cli import main
from nnforge.compress.ensemble import evaluate_runs
from nnforge.train import prepare, run
from nnforge.train.imbalance import focal_loss

from .conftest import fast_config


def _logits(model, loader):
    model.eval()
    with torch.no_grad():
        xs, ys = zip(*loader)
        return model(torch.cat(xs)).float(), torch.cat(ys)


@pytest.mark.parametrize("loss, reference", [
    (["train.loss.name=focal", "train.loss.focal_gamma=2"], lambda z, y: focal_loss(z, y, 2.0)),
    (["train.loss.name=focal", "train.loss.class_weight=balanced"], lambda z, y: focal_loss(z, y, 2.0)),  # weights: training only
    (["train.loss.label_smoothing=0.2"], lambda z, y: F.cross_entropy(z, y, label_smoothing=0.2)),
    (["train.loss.name=mse"], lambda z, y: F.mse_loss(torch.softmax(z, 1), F.one_hot(y, z.shape[1]).float())),
], ids=["focal", "focal-class-weights", "label-smoothing", "mse"])
def test_val_and_test_loss_are_the_training_criterion_of_the_saved_model(tmp_path, capsys, loss, reference):
    """Before: val_loss and test_loss were plain cross-entropy whatever train.loss was, so early
    stopping and the best model on val_loss watched another quantity than the one trained."""
    cfg = fast_config("train.epochs=2", "data.val_fraction=0.2", "train.checkpoint.enabled=false", *loss)
    result = run(cfg, tmp_path / "run", pictures=False)
    saved = nnforge.load(result.dir).model  # the weights in model.safetensors
    data = prepare(cfg)
    val_logits, val_y = _logits(saved, data.val)
    expected, plain = float(reference(val_logits, val_y)), float(F.cross_entropy(val_logits, val_y))
    assert result.history[-1]["val_loss"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert abs(expected - plain) > 1e-3  # the test can tell the criterion from cross-entropy
    test_loss = float(reference(*_logits(saved, data.test)))
    assert result.metrics["test_loss"] == pytest.approx(test_loss, rel=1e-5, abs=2e-6)
    # nnforge eval scores the test split as training did
    evaluated = evaluate_runs([str(result.dir)])
    assert evaluated["loss"] == pytest.approx(result.metrics["test_loss"], abs=2e-6)
    assert main(["eval", str(result.dir)]) == 0
    assert "the training criterion" in capsys.readouterr().out.splitlines()[-1]


def test_plain_cross_entropy_is_reported_as_before(tmp_path, capsys):
    """The default criterion keeps its numbers: -log of the clipped probability of the true class."""
    cfg = fast_config("train.epochs=1", "data.val_fraction=0.2", "train.checkpoint.enabled=false")
    result = run(cfg, tmp_path / "run", pictures=False)
    val_logits, val_y = _logits(nnforge.load(result.dir).model, prepare(cfg).val)
    picked = torch.softmax(val_logits, 1)[torch.arange(len(val_y)), val_y].numpy()

    assert result.history[-1]["val_loss"] == float(-np.log(np.clip(picked, 1e-12, None)).mean())
    assert evaluate_runs([str(result.dir)])["loss_name"] == "cross_entropy"
    assert main(["eval", str(result.dir)]) == 0
    assert re.fullmatch(r"accuracy \S+%  loss \d+\.\d{4}", capsys.readouterr().out.splitlines()[-1])  # no criterion named
