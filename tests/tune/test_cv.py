"""`nnforge tune --cv K`: trials scored by k-fold cross-validation of the training split (the seed's GridSearchCV(cv=3))."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from nnforge.cli import main
from nnforge.config import read_yaml
from nnforge.rundir import recipe_path

TINY = {"train.epochs": 2, "threads": 1}


def tiny_recipe() -> dict:
    raw = read_yaml(recipe_path("digits_grid_cv"))
    raw["train"]["epochs"] = TINY["train.epochs"]
    raw["threads"] = 1
    return raw


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The seed's grid (adam, sgd) with cv=3 through the command line, 2 epochs per fold."""
    tmp = tmp_path_factory.mktemp("cv")
    (tmp / "grid.yaml").write_text(json.dumps(tiny_recipe()))
    assert main(["tune", str(tmp / "grid.yaml"), "--sampler", "grid", "--cv", "3", "--trials", "2", "--out", str(tmp / "study"),
                 "--storage", f"sqlite:///{tmp}/study.db"]) == 0
    return tmp / "study"


def test_each_trial_is_the_mean_of_k_fold_runs_and_reports_its_spread(study, capsys):
    summary = json.loads((study / "study.json").read_text())
    assert {t["params"]["train.optimizer.name"] for t in summary["trials"]} == {"adam", "sgd"}
    for t in summary["trials"]:
        assert len(t["cv_scores"]) == 3 and t["value"] == pytest.approx(statistics.fmean(t["cv_scores"]))
        assert t["cv_std"] == pytest.approx(statistics.pstdev(t["cv_scores"]))
        folds = sorted((study.parent / "study" / f"trial-{t['number']:03d}").glob("fold-*"))
        assert [f.name for f in folds] == ["fold-1", "fold-2", "fold-3"]
        sizes = [json.loads((f / "metrics.json").read_text())["dataset"] for f in folds]
        assert all("958 train, 479 val, 360 test" in s or "959 train, 478 val, 360 test" in s for s in sizes), sizes


def test_the_same_best_trial_as_the_folds_run_by_hand(study):
    """By hand: each candidate trained on each fold through nnforge.train.run, the mean taken here."""
    from nnforge.api import as_recipe
    from nnforge.train import run

    summary = json.loads((study / "study.json").read_text())
    by_hand = {}
    for name in ("adam", "sgd"):
        recipe, _ = as_recipe(tiny_recipe(), {"train.optimizer.name": name})
        scores = [run(recipe, study / f"hand-{name}-{k}", fold=(k, 3), pictures=False).history[-1]["val_accuracy"] for k in range(3)]
        by_hand[name] = statistics.fmean(scores)
    trials = {t["params"]["train.optimizer.name"]: t["value"] for t in summary["trials"]}
    assert trials == pytest.approx(by_hand, abs=1e-12)
    assert summary["best"]["params"]["train.optimizer.name"] == max(by_hand, key=by_hand.get)


@pytest.mark.slow
def test_grid_search_cv_ranks_the_optimizers_as_tune_does(study):
    """The same grid through scikit-learn's GridSearchCV over NNForgeClassifier, on the same folds of the same rows."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from nnforge.data import load_dataset
    from nnforge.sklearn import NNForgeClassifier

    ds = load_dataset({"name": "digits"})
    x, y = ds.x_train.reshape(len(ds.x_train), -1).numpy().astype(np.float32), ds.y_train.numpy()
    search = GridSearchCV(NNForgeClassifier(tiny_recipe()), {"train__optimizer__name": ["adam", "sgd"]},
                          cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(x, y)
    sklearn_scores = dict(zip([p["train__optimizer__name"] for p in search.cv_results_["params"]], search.cv_results_["mean_test_score"]))
    tune_scores = {t["params"]["train.optimizer.name"]: t["value"] for t in json.loads((study / "study.json").read_text())["trials"]}
    assert sorted(sklearn_scores, key=sklearn_scores.get) == sorted(tune_scores, key=tune_scores.get)
    assert search.best_params_["train__optimizer__name"] == "adam"


def test_pruning_acts_on_the_running_mean(tmp_path):
    import optuna

    from nnforge.api import as_recipe
    from nnforge.tune.cv import cross_validate

    recipe, _ = as_recipe(tiny_recipe(), {"train.optimizer.name": "sgd"})
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.9))
    trial = study.ask()
    result = cross_validate(recipe, tmp_path / "t", 3, "val_accuracy", trial)
    assert result.pruned_after == 1 and len(result.scores) == 1 and not (tmp_path / "t" / "fold-2").exists()
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {0: result.scores[0]}


def test_folds_are_refused_for_a_forecast_and_a_bad_k(tmp_path):
    from nnforge.errors import ConfigError, UserError
    from nnforge.tune.search import run_study

    with pytest.raises(UserError, match="--cv is 1"):
        run_study(tiny_recipe(), tmp_path / "s", 1, sampler="grid", storage=f"sqlite:///{tmp_path}/s.db", cv=1)
    from nnforge.api import as_recipe
    from nnforge.train import run

    forecast, _ = as_recipe({"task": "forecast", "data": {"name": "sunspots"}, "model": {"name": "lstm"}})
    with pytest.raises(ConfigError, match="k-fold cross-validation is for task classify or regress"):
        run(forecast, tmp_path / "f", fold=(0, 3))
    # `tune --cv` on a forecast: refused before a study, its database or its folder exist (not by its first trial)
    raw = {"task": "forecast", "data": {"name": "sunspots"}, "model": {"name": "lstm"},
           "tune": {"space": {"train.optimizer.lr": {"low": 0.001, "high": 0.1}}}}
    with pytest.raises(ConfigError, match="k-fold cross-validation is for task classify or regress"):
        run_study(raw, tmp_path / "fs", 1, storage=f"sqlite:///{tmp_path}/fs.db", cv=3, log=lambda line: None)
    assert not (tmp_path / "fs").exists() and not (tmp_path / "fs.db").exists()
