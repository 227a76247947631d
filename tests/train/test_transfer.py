"""Transfer learning: weights from a run or a file (no pickle), frozen layers do not change,
the head is replaced, discriminative LRs; and pretraining beats scratch on a small real split."""

import pytest
import torch

from nnforge.errors import UnsafeFileError, UserError
from nnforge.models import build_model, check_model_config
from nnforge.train import fit
from nnforge.train.transfer import load_pretrained, param_groups

from .conftest import fast_config


def test_frozen_layers_do_not_change_and_unfreeze_later(tmp_path):
    source = fit(fast_config("train.epochs=2"), tmp_path / "src")
    cfg = fast_config("train.epochs=2", f"train.init.weights={source.dir}", "train.freeze=['layers.0.*']")
    run = fit(cfg, tmp_path / "frozen")
    before = source.model.state_dict()
    after = run.model.state_dict()
    assert torch.equal(after["layers.0.weight"], before["layers.0.weight"])
    assert torch.equal(after["layers.0.bias"], before["layers.0.bias"])
    assert not torch.equal(after["layers.2.weight"], before["layers.2.weight"])
    thawed = fit(fast_config("train.epochs=2", f"train.init.weights={source.dir}", "train.freeze=['layers.0.*']",
                             "train.unfreeze_epoch=2"), tmp_path / "thawed")
    assert not torch.equal(thawed.model.state_dict()["layers.0.weight"], before["layers.0.weight"])


def test_head_of_another_shape_is_replaced_and_pt_files_load_weights_only(tmp_path):
    src = build_model(check_model_config({"name": "mlp", "hidden": [16]}), (1, 8, 8), 10)
    torch.save(src.state_dict(), tmp_path / "w.pt")
    dst = build_model(check_model_config({"name": "mlp", "hidden": [16]}), (1, 8, 8), 3)
    report = load_pretrained(dst, tmp_path / "w.pt")
    assert report.mismatched == ["layers.2.weight", "layers.2.bias"]
    assert torch.equal(dst.layers[0].weight, src.layers[0].weight)
    torch.save({"model": src}, tmp_path / "pickled.pt")  # a whole pickled module: refused
    with pytest.raises(UnsafeFileError):
        load_pretrained(dst, tmp_path / "pickled.pt")


def test_discriminative_learning_rates():
    model = build_model(check_model_config({"name": "mlp", "hidden": [16]}), (1, 8, 8), 10)
    groups = {g["lr_mult"]: g for g in param_groups(model, 0.01, {"layers.0.*": 0.1})}
    assert groups[0.1]["lr"] == pytest.approx(0.001) and len(groups[0.1]["params"]) == 2
    assert groups[1.0]["lr"] == 0.01 and len(groups[1.0]["params"]) == 2


@pytest.mark.parametrize("mult", ["abc", -1, True, float("nan"), float("inf")])  # NaN/Inf: non-finite weights at step 1, before
def test_a_bad_lr_multiplier_is_one_line_even_when_its_pattern_matches(mult):
    model = build_model(check_model_config({"name": "mlp", "hidden": [16]}), (1, 8, 8), 10)
    with pytest.raises(UserError, match="'train.optimizer.lr_mult' for 'layers.0.\\*'"):
        param_groups(model, 0.01, {"layers.0.*": mult})


@pytest.mark.parametrize("lr_mult, message", [({"layer.0.*": 0.1}, r"patterns \['layer.0.\*'\] match no parameter"),
                                              ({"layers.*": 0.1, "layers.0.*": 0.5}, r"patterns \['layers.0.\*'\] match no parameter"),
                                              ({"*": 0}, "gives every parameter a multiplier of 0, so nothing would train")])
def test_an_lr_multiplier_that_changes_nothing_or_stops_everything_is_one_line_before_the_run_folder(tmp_path, lr_mult, message):
    """Before: a misspelt pattern (or one an earlier pattern shadows) left its layers at the base lr, and
    multipliers of 0 everywhere trained nothing (digits test accuracy ~0.07); both with no word said."""
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError, match=f"'train.optimizer.lr_mult' {message}"):
        fit(fast_config("train.epochs=1", f"train.optimizer.lr_mult={lr_mult}"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("unfreeze", [0, 2])
def test_freezing_every_parameter_is_one_line_before_the_run_folder(tmp_path, unfreeze):
    """Before: every parameter frozen (train.freeze: ['*']), the first backward raised RuntimeError
    ("element 0 of tensors does not require grad") after the run folder was written."""
    from nnforge.errors import ConfigError

    with pytest.raises(ConfigError, match="'train.freeze' patterns .* match every parameter, so nothing would train"):
        fit(fast_config("train.epochs=2", "train.freeze=['*']", f"train.unfreeze_epoch={unfreeze}"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_freezing_every_parameter_until_epoch_1_trains(tmp_path):
    run = fit(fast_config("train.epochs=1", "train.freeze=['*']", "train.unfreeze_epoch=1"), tmp_path / "run")
    assert run.metrics["test_accuracy"] > 0.5
