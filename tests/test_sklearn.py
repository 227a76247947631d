"""nnforge.sklearn: recipes as scikit-learn estimators, checked by scikit-learn's own tools."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_linnerud
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nnforge.sklearn import NNForgeClassifier, NNForgeRegressor

FAST = {"threads": 1}
#: scikit-learn's checks that do not run, and why (none fails): check_array_api_input is skipped
#: by scikit-learn itself unless SCIPY_ARRAY_API=1 is set; the estimators take NumPy arrays (and
#: anything np.asarray reads), not array-API namespaces such as CuPy or torch tensors.
SKIPPED = {"check_array_api_input": "SCIPY_ARRAY_API is not set; the estimators take NumPy arrays"}


@pytest.mark.slow
@parametrize_with_checks([NNForgeClassifier(train__epochs=20, **FAST), NNForgeRegressor(train__epochs=20, **FAST)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_grid_search_over_two_learning_rates_on_the_digits(digits):
    x, y = digits
    search = GridSearchCV(NNForgeClassifier("digits_mlp", train__epochs=4, **FAST), {"train__optimizer__lr": [0.0003, 0.003]}, cv=3)
    search.fit(x, y)
    assert search.best_params_["train__optimizer__lr"] in (0.0003, 0.003)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and scores.max() > 0.9 and scores.max() - scores.min() > 0.02  # the lr matters: a real ranking
    assert search.best_estimator_.train__optimizer__lr == search.best_params_["train__optimizer__lr"]
    assert list(search.best_estimator_.classes_) == list(range(10))
    proba = search.predict_proba(x[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_cross_val_score_gives_k_scores(digits):
    x, y = digits
    scores = cross_val_score(NNForgeClassifier("digits_mlp", train__epochs=3, **FAST), x, y,
                             cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert len(scores) == 3 and scores.min() > 0.85


def test_a_pipeline_with_a_scaler_and_a_randomized_search_on_diabetes():
    x, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), NNForgeRegressor("diabetes_mlp", train__epochs=30, **FAST))
    search = RandomizedSearchCV(model, {"nnforgeregressor__train__optimizer__lr": [0.001, 0.003, 0.01]}, n_iter=2, cv=2,
                                random_state=0)
    search.fit(x[:350], y[:350])
    r2 = search.score(x[350:], y[350:])
    mean_r2 = 1 - ((y[350:] - y[350:].mean()) ** 2).sum() / ((y[350:] - y[:350].mean()) ** 2).sum()
    assert r2 > 0.3 and r2 > mean_r2 + 0.3  # far better than predicting the training mean
    pred = search.predict(x[350:])
    assert pred.shape == (92,) and 50 < pred.mean() < 250  # the target's units (progression, about 25-346)


def test_params_clone_and_pickle_through_safetensors():
    x, y = load_linnerud(return_X_y=True)
    est = NNForgeRegressor(model__hidden=[8], train__epochs=50, **FAST)
    assert est.get_params() == {"recipe": None, "model__hidden": [8], "train__epochs": 50, "threads": 1}
    copy = clone(est).set_params(train__epochs=5, recipe=None)
    assert copy.get_params()["train__epochs"] == 5 and est.get_params()["train__epochs"] == 50
    est.fit(x, y)
    assert est.predict(x).shape == (20, 3) and est.n_features_in_ == 3
    data = pickle.dumps(est)
    state = est.__getstate__()
    assert isinstance(state["weights_safetensors_"], bytes) and "predictor_" not in state
    assert not any(type(v).__module__.startswith("torch") for v in state.values())  # no tensor or module is pickled
    again = pickle.loads(data)
    assert np.array_equal(again.predict(x), est.predict(x))


def test_a_bad_recipe_key_is_the_usual_one_line_error():
    from nnforge.errors import ConfigError

    x, y = load_linnerud(return_X_y=True)
    with pytest.raises(ConfigError, match="train.optimiser"):
        NNForgeRegressor(train__optimiser__lr=0.1).fit(x, y)


def test_another_model_than_the_default_mlp_does_not_inherit_its_hidden_sizes():
    from nnforge.errors import ConfigError

    X, y = np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2
    # before: "'model.hidden' is [64]; accepted: a int like 128", about a key the caller never set (the default MLP's)
    with pytest.raises(ConfigError, match="model 'cnn' takes image inputs but the dataset is tabular"):
        NNForgeClassifier(model__name="cnn").fit(X, y)


def test_setting_an_override_as_an_attribute_is_what_fit_trains_with():
    """Before: ``est.train__epochs = 2`` landed in the instance's __dict__, get_params still said 50
    and fit silently trained with the old value (clone and GridSearchCV copied the old one too)."""
    x, y = load_linnerud(return_X_y=True)
    est = NNForgeRegressor(model__hidden=[4], train__epochs=50, **FAST)
    est.train__epochs = 2
    est.seed = 1
    assert est.get_params()["train__epochs"] == 2 and clone(est).get_params()["seed"] == 1
    assert len(est.fit(x, y).history_) == 2
    assert est.n_features_in_ == 3 and "n_features_in_" not in est.get_params()  # fitted attributes stay attributes


def test_values_beyond_float32_are_a_clear_value_error():
    """Before: 1e300 became inf in float32 and training stopped on a 'non-finite loss' blaming the lr."""
    x, y = load_linnerud(return_X_y=True)
    with pytest.raises(ValueError, match="X has values beyond its range"):
        NNForgeRegressor(train__epochs=1, **FAST).fit(x * 1e300, y)
    with pytest.raises(ValueError, match="y has values beyond its range"):
        NNForgeRegressor(train__epochs=1, **FAST).fit(x, y * 1e300)


@pytest.mark.parametrize("override", [{"data__name": "digits"}, {"data__target": "label"}, {"task": "regress"}, {"data": {"name": "digits"}}])
def test_an_override_of_the_data_or_the_task_is_refused_not_ignored(override):
    """Before: fit replaced data.name, data.target and task with its own without a word, so
    ``data__name="digits"`` trained on X as if it were not there."""
    from nnforge.errors import ConfigError

    x, y = load_digits(return_X_y=True)
    with pytest.raises(ConfigError, match=f"'{next(iter(override))}' is set on NNForgeClassifier, but .* remove it") as err:
        NNForgeClassifier(train__epochs=1, **override, **FAST).fit(x[:40], y[:40])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("labels", [[1, "a"], np.array([1, "a"], dtype=object)], ids=["list", "object-array"])
def test_labels_that_mix_numbers_and_text_are_one_value_error(labels):
    """Before: a list became text (predict answered '1' for the label 1), an object array ended in
    scikit-learn's 'Unknown label type: unknown ... continuous values'."""
    x, _ = load_digits(return_X_y=True)
    y = np.resize(np.asarray(labels, dtype=object), 40)
    with pytest.raises(ValueError, match=r"y mixes class labels of types number and str \(e.g. 1 and 'a'\)"):
        NNForgeClassifier(train__epochs=1, **FAST).fit(x[:40], list(y) if isinstance(labels, list) else y)
