"""The tune section: validated with the recipe, one-line errors, values decoded back to the recipe's types."""

from __future__ import annotations

import optuna
import pytest

from nnforge.config import load_config
from nnforge.errors import ConfigError
from nnforge.tune.space import parse_tune, trial_recipe


def _recipe(space, **extra):
    return {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [64]}, "tune": {"space": space, **extra}}


def test_a_tune_section_loads_and_defaults_to_validation_accuracy(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data: {name: digits}\nmodel: {name: mlp}\n"
                    "tune: {space: {train.optimizer.lr: {low: 1e-4, high: 1e-1, log: true}, model.hidden: {choices: [[64], [128]]}}}\n")
    config = load_config(path)
    spec = parse_tune(config.tune.to_dict())
    assert (spec.metric, spec.direction, spec.pruner) == ("val_accuracy", "maximize", "median")
    lr, hidden = spec.params
    assert lr.log and lr.low == pytest.approx(1e-4) and not lr.integer  # YAML's "1e-4" text is read as a number
    assert hidden.choices == ([64], [128])
    assert load_config(None).tune == {}  # no section: nothing changes for plain training


@pytest.mark.parametrize("space, extra, message", [
    ({"train.optimizer.lrr": {"low": 0.001, "high": 0.1}}, {}, "did you mean 'lr'"),
    ({"model.hiden": {"choices": [[8]]}}, {}, "did you mean 'hidden'"),
    ({"train.optimizer.lr": {"low": 0.1, "high": 0.01}}, {}, "must be below high"),
    ({"train.optimizer.lr": {"low": 0, "high": 0.1, "log": True}}, {}, "log scale needs low > 0"),
    ({"train.optimizer.name": {"choices": ["sgd", "adamm"]}}, {}, "adamm"),
    ({"train.optimizer.lr": {"lo": 0.1, "high": 1}}, {}, "did you mean 'low'"),
    ({"train.epochs": {"low": 1, "high": 3}}, {"metric": "train_accuracy"}, "held-out data"),
    ({"seed": {"low": 0, "high": 3}}, {}, "cannot change 'seed'"),
])
def test_mistakes_in_the_space_fail_before_any_trial(space, extra, message):
    """The tune section's owner checks it (run_study does this before any trial)."""
    from nnforge.tune.space import check_tune_config

    recipe = _recipe(space, **extra)
    with pytest.raises(ConfigError, match=message):
        check_tune_config(recipe["tune"], recipe)


def test_suggestions_are_typed_and_land_in_the_recipe():
    spec = parse_tune(_recipe({"train.epochs": {"low": 2, "high": 4}, "train.optimizer.lr": {"low": 1e-3, "high": 1.0, "log": True},
                               "model.hidden": {"choices": [[32], [64, 32]]}})["tune"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        values = spec.suggest(study.ask())
        assert isinstance(values["train.epochs"], int) and 2 <= values["train.epochs"] <= 4
        assert 1e-3 <= values["train.optimizer.lr"] <= 1.0
        assert values["model.hidden"] in ([32], [64, 32])
        recipe = trial_recipe(_recipe({}), values)
        assert "tune" not in recipe and recipe["model"]["hidden"] == values["model.hidden"]
    grid = spec.grid()
    assert grid["train.epochs"] == [2, 3, 4] and len(grid["train.optimizer.lr"]) == 3
    assert grid["train.optimizer.lr"][1] == pytest.approx(10 ** -1.5)  # log-spaced


@pytest.mark.parametrize("space, message", [
    ({"train.optimizer.lr": {"low": 0.01, "high": 0.1, "points": 10**9}}, "gives 1e\\+09 grid values"),
    ({"train.optimizer.lr": {"low": 0.0001, "high": 0.1, "step": 1e-300}}, "gives 9.99e\\+298 grid values"),
    ({"train.optimizer.lr": {"low": 0.01, "high": 0.1, "points": 1000}, "train.optimizer.momentum": {"low": 0.0, "high": 0.9, "points": 1000}},
     "gives 1e\\+03 x 1e\\+03 = 1e\\+06 grid combinations"),
])
def test_a_grid_too_large_to_list_is_one_line(space, message):
    """Before: the grid sampler built every value (and Optuna every combination) in memory; a step
    of 1e-300 or points: 1000000000 ran the machine out of memory."""
    from nnforge.tune.search import make_sampler

    spec = parse_tune(_recipe(space)["tune"])
    with pytest.raises(ConfigError, match=message + ".*at most 100,000"):
        make_sampler("grid", spec, 0, 3)
    make_sampler("tpe", spec, 0, 3)  # other samplers draw from the range: no limit


@pytest.mark.parametrize("base, values, dropped", [
    ({"optimizer": {"name": "sgd", "momentum": 0.9}}, {"train.optimizer.name": "adam"}, "train.optimizer.momentum"),
    ({"swa": {"start_epoch": 2, "lr": 0.01}}, {"train.swa.start_epoch": 0}, "train.swa.lr"),
])
def test_a_trial_leaves_out_the_options_its_values_switch_off(base, values, dropped):
    """A training run refuses an option whose feature is off (momentum for Adam, swa.lr without
    averaging); a search that switches the feature off in some trials runs those trials without it."""
    from nnforge.config import resolve
    from nnforge.train.keys import inapplicable_keys

    raw = {**_recipe({}), "train": {"epochs": 3, **base}}
    trial = resolve(trial_recipe(raw, values))
    assert inapplicable_keys(trial) == [] and trial.at(dropped) == resolve({}).at(dropped)
    kept = resolve(trial_recipe(raw, {}))  # the trial that keeps the feature on keeps its option
    assert kept.at(dropped) != resolve({}).at(dropped)
