"""What a study leaves for a person: best.yaml with only the keys that apply, readable numbers,
importances only when there are enough trials to estimate them, and pruned trials on the history."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial
from PIL import Image

from nnforge.cli import RECIPES
from nnforge.config import load_config, read_yaml
from nnforge.tune.search import summarize
from nnforge.tune.space import parse_tune

RAW = read_yaml(RECIPES / "digits_mlp_tune.yaml")  # sgd with momentum 0.9; searches lr, optimizer, width
SPEC = parse_tune(RAW["tune"])
DISTRIBUTIONS = {"train.optimizer.lr": FloatDistribution(0.001, 0.3, log=True),
                 "train.optimizer.name": CategoricalDistribution(["sgd", "adam"]),
                 "model.hidden": CategoricalDistribution(["[32]", "[64]", "[128]"])}


def _study(trials: list[tuple]) -> optuna.Study:
    """A real in-memory study holding the given (state, value, lr, optimizer, width[, reported]) trials."""
    study = optuna.create_study(direction="maximize", study_name="s")
    for state, value, lr, name, width, *reported in trials:
        params = {"train.optimizer.lr": lr, "train.optimizer.name": name, "model.hidden": width}
        study.add_trial(create_trial(state=state, value=value if state == TrialState.COMPLETE else None, params=params,
                                     distributions=DISTRIBUTIONS,
                                     intermediate_values=dict(enumerate(reported[0])) if reported else {}))
    return study


SIX = [(TrialState.COMPLETE, 0.91, 0.05, "sgd", "[64]"),
       (TrialState.COMPLETE, 0.95, 0.012345678901234567, "adam", "[128]"),
       (TrialState.COMPLETE, 0.90, 0.2, "sgd", "[32]"),
       (TrialState.PRUNED, None, 0.001, "sgd", "[32]", [0.41]),
       (TrialState.COMPLETE, 0.93, 0.003, "adam", "[64]"),
       (TrialState.COMPLETE, 0.89, 0.1, "adam", "[32]")]


def test_best_yaml_keeps_only_the_keys_the_winning_optimizer_reads(tmp_path):
    result = summarize(_study(SIX), RAW, SPEC, tmp_path)
    text = result.best_recipe.read_text()
    best = yaml.safe_load(text)
    assert best["train"]["optimizer"] == {"name": "adam", "lr": 0.0123}  # no momentum under Adam
    assert "{name: adam, lr: 0.0123}" in text and result.best_params["train.optimizer.lr"] == 0.0123
    assert load_config(result.best_recipe).train.optimizer.momentum == 0.0  # a valid recipe


def test_an_sgd_winner_keeps_its_momentum(tmp_path):
    trials = [(s, 0.99 if i == 0 else v, lr, n, w, *r) for i, (s, v, lr, n, w, *r) in enumerate(SIX)]
    best = yaml.safe_load(summarize(_study(trials), RAW, SPEC, tmp_path).best_recipe.read_text())
    assert best["train"]["optimizer"] == {"name": "sgd", "lr": 0.05, "momentum": 0.9}


def test_sampled_floats_have_three_significant_digits_and_the_baseline_is_exact():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = [SPEC.suggest(study.ask())["train.optimizer.lr"] for _ in range(20)]
    assert all(0.001 <= v <= 0.3 and float(f"{v:.3g}") == v for v in values)
    assert len(set(values)) == 20
    study.enqueue_trial({"train.optimizer.lr": 0.0123456}, user_attrs={"baseline": True})
    assert SPEC.suggest(study.ask())["train.optimizer.lr"] == 0.0123456


def test_six_trials_are_too_few_for_importances_and_twelve_are_enough(tmp_path):
    summarize(_study(SIX), RAW, SPEC, tmp_path)
    note = json.loads((tmp_path / "study.json").read_text())["importances"]
    assert "5 completed trials: too few to estimate parameter importances" in note["skipped"]
    assert (tmp_path / "importances.png").stat().st_size > 0

    rng = np.random.default_rng(0)  # the value depends on the learning rate only
    lrs = np.exp(rng.uniform(np.log(0.001), np.log(0.3), 12))
    many = [(TrialState.COMPLETE, float(1 - abs(np.log10(lr) + 1.5) / 3), float(lr), ["sgd", "adam"][i % 2],
             ["[32]", "[64]", "[128]"][i % 3]) for i, lr in enumerate(lrs)]
    summarize(_study(many), RAW, SPEC, tmp_path / "many")
    importances = json.loads((tmp_path / "many" / "study.json").read_text())["importances"]["importances"]
    assert max(importances, key=importances.get) == "train.optimizer.lr"


def _orange_pixels(path) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    return int((np.abs(pixels - (255, 127, 14)).max(1) <= 10).sum())  # matplotlib's tab:orange


def test_the_history_marks_pruned_trials(tmp_path):
    summarize(_study(SIX), RAW, SPEC, tmp_path / "pruned")
    summarize(_study([t for t in SIX if t[0] == TrialState.COMPLETE]), RAW, SPEC, tmp_path / "complete")
    assert _orange_pixels(tmp_path / "pruned" / "history.png") > 20  # the orange cross and its legend entry
    assert _orange_pixels(tmp_path / "complete" / "history.png") == 0


@pytest.mark.parametrize("scheduler, kept", [({"name": "step", "step_size": 5, "gamma": 0.5, "min_lr": 0.001},
                                              {"name": "step", "step_size": 5, "gamma": 0.5}),
                                             ({"name": "cosine", "step_size": 5, "min_lr": 0.001, "warmup_epochs": 1},
                                              {"name": "cosine", "min_lr": 0.001, "warmup_epochs": 1})])
def test_scheduler_keys_that_do_not_apply_are_dropped(scheduler, kept):
    from nnforge.tune.best import applicable_recipe

    assert applicable_recipe({"train": {"scheduler": scheduler}})["train"]["scheduler"] == kept


def test_a_study_without_a_completed_trial_says_what_its_trials_became():
    """Before: "no trial finished; nothing to report", also when every trial had finished, pruned."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from nnforge.tune.command import _nothing_completed

    study = optuna.create_study()
    assert _nothing_completed(study) == "no trial completed (the study holds none); nothing to report"
    lr = {"lr": FloatDistribution(0.001, 0.1)}
    for state in (TrialState.PRUNED, TrialState.PRUNED, TrialState.FAIL):
        study.add_trial(create_trial(state=state, params={"lr": 0.01}, distributions=lr, intermediate_values={0: 0.5}))
    assert _nothing_completed(study) == "no trial completed (1 failed, 2 pruned); nothing to report"
