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
    # before: OverflowError (an int of 400 digits is no float; 1.0 / 5e-324 steps is infinitely many)
    ({"train.optimizer.lr": {"low": 0, "high": 10**400}}, {}, "'tune.space.train.optimizer.lr.high' is 1000.*accepted: a finite number"),
    ({"train.optimizer.weight_decay": {"low": 0, "high": 1.0, "step": 5e-324}}, {}, "holds too many steps to count"),
    ({"train.optimizer.weight_decay": {"low": -10**308, "high": 10**308, "step": 1}}, {}, "holds too many steps to count"),
    # before: accepted, and the study stopped at its first trial of 1.5 (or 2.0) epochs
    ({"train.epochs": {"low": 1, "high": 3, "step": 0.5}}, {}, "'train.epochs' is 1.0 \\(float\\).*must all be integers"),
    ({"train.epochs": {"low": 1, "high": 3.0}}, {}, "'train.epochs' is 1.0 \\(float\\)"),
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


AUGMENTED = {"data": {"name": "digits", "val_fraction": 0.2, "augment": {"rotate": 10, "clean_epochs": 2}},
             "model": {"name": "mlp", "hidden": [8]}, "train": {"epochs": 3, "progress": "none"}}


@pytest.mark.parametrize("space, message", [
    ({"train.epochs": {"low": 1, "high": 10}}, r"'tune.space.train.epochs' \(1..10\) reaches a trial of 1 epoch with "
     r"data.augment.clean_epochs = 2, .*accepted: tune.space.train.epochs from 3, or data.augment.clean_epochs of at most 0 \(off\)"),
    ({"train.epochs": {"choices": [1, 2, 5]}}, r"\(choices \[1, 2, 5\]\) reaches a trial of 1 epoch.*train.epochs from 3"),
    ({"data.augment.clean_epochs": {"low": 0, "high": 4, "step": 2}}, r"\(0..4 step 2\) reaches a trial of 3 epochs with "
     r"data.augment.clean_epochs = 4.*train.epochs of at least 5 in the recipe, or tune.space.data.augment.clean_epochs up to 2"),
    ({"train.epochs": {"low": 3, "high": 8}, "data.augment.clean_epochs": {"low": 1, "high": 4}},
     r"'tune.space.train.epochs' \(3..8\) and 'tune.space.data.augment.clean_epochs' \(1..4\) reach a trial of 3 epochs"),
    ({"train.scheduler.warmup_epochs": {"low": 0, "high": 3}}, r"warmup_epochs = 3, .*warmup_epochs up to 2"),
    ({"train.swa.start_epoch": {"choices": [0, 4]}}, r"start_epoch = 4, .*must be at most train.epochs.*start_epoch up to 3"),
], ids=["epochs range", "epochs choices", "clean step range", "both", "warmup", "swa"])
def test_a_space_reaching_epoch_counts_a_run_refuses_is_one_line_before_the_study(tmp_path, space, message):
    """Before: the trials that drew such values failed one by one after the study started (the first one
    stopped the study after Optuna's traceback, leaving study.db rows and trial folders); now the space's
    bounds are checked against the recipe and the study is never made."""
    from nnforge.tune.search import run_study

    recipe = {**AUGMENTED, "tune": {"space": space}}
    storage = tmp_path / "study.db"
    with pytest.raises(ConfigError, match=message):
        run_study(recipe, tmp_path / "out", trials=2, sampler="grid", storage=f"sqlite:///{storage}", log=lambda line: None)
    assert not (tmp_path / "out").exists() and not storage.exists()


@pytest.mark.parametrize("space", [
    {"train.epochs": {"low": 3, "high": 10}},
    {"train.epochs": {"low": 5, "high": 8}, "data.augment.clean_epochs": {"low": 0, "high": 4}},
    {"train.epochs": {"low": 1, "high": 4}, "data.augment.rotate": {"choices": [0]}},  # no augmentation: clean_epochs is left out
    {"train.swa.start_epoch": {"choices": [0, 3]}, "train.scheduler.warmup_epochs": {"low": 0, "high": 2, "step": 1}},
])
def test_a_space_whose_every_trial_fits_its_epochs_is_accepted(space):
    from nnforge.tune.space import check_tune_config

    recipe = {**AUGMENTED, "tune": {"space": space}}
    check_tune_config(recipe["tune"], recipe)


def test_every_packaged_search_passes_its_own_checks():
    from nnforge.config import read_yaml
    from nnforge.rundir import recipe_path
    from nnforge.tune.space import check_tune_config

    for name in ("digits_mlp_tune", "diabetes_mlp_tune", "digits_grid_cv", "digits_nas"):
        raw = read_yaml(recipe_path(name))
        check_tune_config(raw["tune"], raw)


def test_a_searched_augmentation_counts_its_clean_epochs():
    """clean_epochs is left out of a trial without augmentation, and checked in one that has it."""
    from nnforge.tune.space import check_tune_config

    recipe = {**AUGMENTED, "data": {"name": "digits", "val_fraction": 0.2, "augment": {"clean_epochs": 2}},
              "tune": {"space": {"train.epochs": {"low": 1, "high": 4}, "data.augment.rotate": {"choices": [0, 10]}}}}
    with pytest.raises(ConfigError, match="reaches a trial of 1 epoch with data.augment.clean_epochs = 2"):
        check_tune_config(recipe["tune"], recipe)


def test_a_fractional_warm_up_range_is_checked_against_the_fewest_epochs():
    """train.scheduler.warmup_epochs may be a fraction: 2.5 fits a run of 3 epochs, 3.5 does not."""
    from nnforge.tune.space import check_tune_config

    fits = {**AUGMENTED, "tune": {"space": {"train.scheduler.warmup_epochs": {"low": 0.0, "high": 2.5}}}}
    check_tune_config(fits["tune"], fits)
    longer = {**AUGMENTED, "tune": {"space": {"train.scheduler.warmup_epochs": {"low": 0.0, "high": 3.5}}}}
    with pytest.raises(ConfigError, match=r"warmup_epochs = 3.5, .*accepted: train.epochs of at least 4 in the recipe, "
                                          r"or tune.space.train.scheduler.warmup_epochs below 3$"):
        check_tune_config(longer["tune"], longer)


def test_a_searched_swa_start_that_switches_on_a_refused_combination_is_one_line():
    """SWA switched on by the space beside save_best: every trial that draws it would fail; said before the study."""
    from nnforge.tune.space import check_tune_config

    recipe = {**_recipe({"train.swa.start_epoch": {"choices": [0, 2]}}), "train": {"epochs": 3, "save_best": True}}
    with pytest.raises(ConfigError, match="tune.space gives a trial with train.swa.start_epoch = 2: 'train.swa' saves the averaged weights"):
        check_tune_config(recipe["tune"], recipe)


@pytest.mark.parametrize("recipe, message", [
    ({"engine": "scratch", "tune": {"space": {"train.scheduler.name": ["none", "onecycle"]}}},
     r"^tune.space gives a trial with train.scheduler.name = 'onecycle': 'train.scheduler.name' is 'onecycle', which engine 'scratch'"),
    ({"engine": "scratch", "train": {"scheduler": {"name": "onecycle"}}, "tune": {"space": {"train.optimizer.lr": {"low": 0.01, "high": 0.1}}}},
     r"^every trial of tune.space would be refused: 'train.scheduler.name' is 'onecycle'"),
    ({"data": {"name": "digits", "augment": {"rotate": 10, "clean_epochs": 3}}, "train": {"epochs": 3},
      "tune": {"space": {"train.optimizer.lr": {"low": 0.01, "high": 0.1}}}},
     r"^every trial of tune.space would be refused: 'data.augment.clean_epochs' is 3, but the run has 3 epochs"),
    ({"tune": {"space": {"engine": ["torch", "scratch"], "train.scheduler.name": ["cosine", "onecycle"]}}},
     r"^tune.space gives a trial with engine = 'scratch', train.scheduler.name = 'onecycle': .* engine 'scratch' does not implement"),
    ({"tune": {"space": {"engine": ["torch", "scratch"], "train.scheduler.name": ["cosine", "onecycle"],
                         **{k: {"low": 0.001, "high": 0.01} for k in ("train.optimizer.lr", "train.optimizer.weight_decay", "train.l1")},
                         **{f"data.augment.{k}": {"low": 0.0, "high": 0.1} for k in ("shift", "scale", "rotate", "noise")}}}},
     r"^tune.space gives a trial with engine = 'scratch', train.scheduler.name = 'onecycle'"),
], ids=["a searched value the engine lacks", "the recipe's own key the engine lacks", "the recipe's own clean epochs",
        "two searched values together (every combination)", "two searched values together (every pair of 512 combinations)"])
def test_a_space_whose_trials_a_run_refuses_is_one_line_before_the_study(recipe, message):
    """Before: the study started and its first such trial failed after Optuna's traceback."""
    from nnforge.tune.space import check_tune_config

    recipe = {**_recipe({}), **recipe}
    with pytest.raises(ConfigError, match=message):
        check_tune_config(recipe["tune"], recipe)
    # a recipe value outside the space is no trial: the search over [none, step] runs
    fine = {**recipe, "tune": {"space": {"train.scheduler.name": ["none", "step"]}}}
    if recipe.get("engine") == "scratch":
        check_tune_config(fine["tune"], fine)
