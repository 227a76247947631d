"""nnforge inside scikit-learn: recipes as estimators (the seed's ``GridSearchCV(..., cv=3)``).

``NNForgeClassifier(recipe=..., **overrides)`` and ``NNForgeRegressor`` are scikit-learn
estimators over the one training loop: ``fit(X, y)`` hands the arrays to the loop as an in-memory
dataset (:mod:`nnforge.data.sources.arrays`), trains the recipe in a temporary run directory
that is removed afterwards, and keeps the model (``model.json``'s content and the weights) in
memory. Recipe keys are parameters spelled with double underscores, as scikit-learn spells nested
parameters: ``train__optimizer__lr=0.01`` is ``train.optimizer.lr``. So ``GridSearchCV``,
``RandomizedSearchCV``, ``cross_val_score``, ``clone`` and ``Pipeline`` work unchanged.

Every row passed to ``fit`` trains (``data.val_fraction`` is 0 unless a parameter sets it): the
caller holds out what it wants, as cross-validation does. Pickling goes through safetensors:
the pickled state holds the weights as safetensors bytes and ``model.json`` as a mapping, never
a pickled tensor or module.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

#: the recipe when none is given: a small MLP that trains in about a second on a few hundred rows
DEFAULT_RECIPE = {"seed": 0, "model": {"name": "mlp", "hidden": [64]},
                  "data": {"batch_size": 32},
                  "train": {"epochs": 40, "optimizer": {"name": "adam", "lr": 0.01}}}
#: what every fit sets, below the user's overrides: quiet, no checkpoints, every row trains
FIT_DEFAULTS = {"data.val_fraction": 0.0, "train.progress": "none", "train.checkpoint.enabled": False}


def dotted(name: str) -> str:
    """``train__optimizer__lr`` -> ``train.optimizer.lr``."""
    return name.replace("__", ".")


class _NNForgeEstimator(BaseEstimator):
    _task = ""

    def __init__(self, recipe: Any = None, **overrides):
        self.recipe = recipe
        self._overrides = dict(overrides)

    # -- parameters: the recipe, and every recipe key given, spelled with __ ---------------
    def get_params(self, deep: bool = True) -> dict:
        return {"recipe": self.recipe, **self._overrides}

    def set_params(self, **params):
        for name, value in params.items():
            if name == "recipe":
                self.recipe = value
            else:
                self._overrides[name] = value
        return self

    def __sklearn_clone__(self):
        return type(self)(**self.get_params(deep=False))

    def __setattr__(self, name: str, value) -> None:
        """``est.train__epochs = 3`` (or ``est.threads = 1``) sets that override, as ``set_params`` does:
        every public name but ``recipe`` is a recipe key; fitted attributes end with ``_``."""
        if "_overrides" in self.__dict__ and name != "recipe" and not name.startswith("_") and not name.endswith("_"):
            self._overrides[name] = value
        else:
            super().__setattr__(name, value)

    def __getattr__(self, name: str):  # ``est.train__optimizer__lr`` reads an override
        overrides = self.__dict__.get("_overrides", {})
        if name in overrides:
            return overrides[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    # -- training through the one loop -----------------------------------------------------
    def _resolved(self, data_name: str):
        from nnforge.api import as_recipe

        from nnforge.errors import ConfigError

        for name, value in self._overrides.items():
            key = dotted(name)
            given = {key: value} if key != "data" or not isinstance(value, dict) else {f"data.{k}": v for k, v in value.items()}
            fixed = [k for k in given if k in ("data.name", "data.target", "task")]
            if fixed:
                other = "NNForgeRegressor" if self._task == "classify" else "NNForgeClassifier"
                why = (f"{type(self).__name__} always trains task {self._task} (for the other, use {other})" if fixed[0] == "task"
                       else "the data is the X and y given to fit")
                raise ConfigError(f"'{name}' is set on {type(self).__name__}, but {why}, so it would be ignored; remove it")
        recipe = DEFAULT_RECIPE if self.recipe is None else self.recipe
        if self.recipe is None and self._overrides.get("model__name", "mlp") != "mlp":  # the default MLP's hidden sizes are not another model's
            recipe = {**DEFAULT_RECIPE, "model": {"name": self._overrides["model__name"]}}
        # the arrays are the data: their name, their own target, this estimator's task
        overrides = {**FIT_DEFAULTS, **{dotted(k): v for k, v in self._overrides.items()}, "data.name": data_name,
                     "data.target": None, "task": self._task}
        resolved, _ = as_recipe(recipe, overrides)
        return resolved

    def _train(self, x: np.ndarray, y: np.ndarray, classes=None, targets=None) -> None:
        from nnforge.data.sources.arrays import register_arrays, release_arrays
        from nnforge.predictor import Predictor
        from nnforge.rundir import load_state, read_model_meta
        from nnforge.train import run

        name = register_arrays(x, y, classes=classes, feature_names=getattr(self, "_feature_names", None), target_names=targets)
        try:
            recipe = self._resolved(name)
            with tempfile.TemporaryDirectory(prefix="nnforge-sklearn-") as tmp:
                result = run(recipe, f"{tmp}/run", pictures=False)
                meta = read_model_meta(result.dir)
                state = load_state(result.dir / "model.safetensors")
        finally:
            release_arrays(name)
        self.model_json_ = meta
        self.history_ = result.history
        self.predictor_ = Predictor.from_state(meta, state)
        self._double = _in_double(self.predictor_)

    def _rows(self, X) -> np.ndarray:
        check_is_fitted(self, "predictor_")
        x = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return np.array(x, dtype=np.float64)  # a writable copy (torch.from_numpy warns on read-only arrays)

    def _outputs(self, X) -> np.ndarray:
        """Probabilities or values, computed in float64: float32 products round differently with the
        batch's size, and scikit-learn expects a row's prediction not to depend on the rows beside it."""
        import torch

        rows = self._rows(X)  # first: an unfitted estimator raises NotFittedError
        p, (model, mean, std) = self.predictor_, self._double
        with torch.inference_mode():
            out = model((torch.from_numpy(rows).double() - mean) / std)
            if p.regression:
                return (out * torch.from_numpy(p.target_std).double() + torch.from_numpy(p.target_mean).double()).numpy()
            return torch.softmax(out, 1).numpy()

    # -- pickling through safetensors ------------------------------------------------------
    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("predictor_", "_double")}
        if "predictor_" in self.__dict__:
            from safetensors.torch import save

            weights = {k: v.detach().cpu().contiguous() for k, v in self.predictor_.model.state_dict().items()}
            state["weights_safetensors_"] = save(weights)
        return state

    def __setstate__(self, state: dict) -> None:
        weights = state.pop("weights_safetensors_", None)
        self.__dict__.update(state)
        if weights is not None:
            from safetensors.torch import load

            from nnforge.predictor import Predictor

            self.predictor_ = Predictor.from_state(self.model_json_, load(weights))
            self._double = _in_double(self.predictor_)


def _in_double(predictor):
    """A float64 copy of the model and of the input standardisation."""
    import copy

    import torch

    pre = predictor.preprocessing
    return (copy.deepcopy(predictor.model).double().eval(), torch.tensor(pre.mean, dtype=torch.float64),
            torch.tensor(pre.std, dtype=torch.float64))


def _check_rows(estimator, X, y, **kw):
    x, y = validate_data(estimator, X, y, dtype=[np.float32, np.float64], **kw)
    if len(x) < 2:
        raise ValueError(f"{type(estimator).__name__} needs at least 2 samples to train; got 1 sample")
    estimator._feature_names = [str(c) for c in getattr(estimator, "feature_names_in_", [])] or None
    return _float32(estimator, "X", x), y


def _float32(estimator, name: str, a) -> np.ndarray:
    """``a`` in float32, the loop's precision; a value past its range would become inf there."""
    with np.errstate(over="ignore"):
        a32 = np.asarray(a, dtype=np.float32)
    if not np.isfinite(a32).all():
        raise ValueError(f"{type(estimator).__name__} trains in float32; {name} has values beyond its range (about 3.4e38); "
                         "scale it (e.g. StandardScaler)")
    return a32


def _one_label_type(y) -> None:
    """ValueError for class labels that mix numbers and text (``[1, "a", 2]``): NumPy would turn the
    numbers into text (``predict`` answering ``"1"`` for 1), or scikit-learn refuse an 'unknown' label type."""
    import numbers

    if getattr(y, "dtype", object) != object:  # a NumPy/pandas array of one type
        return
    try:
        values = np.asarray(y, dtype=object).ravel()
    except (TypeError, ValueError):
        return  # validation says what is wrong with it
    first: dict[str, Any] = {}
    for v in values:
        first.setdefault("number" if isinstance(v, numbers.Number) else type(v).__name__, v)
        if len(first) > 1:
            (a, va), (b, vb) = first.items()
            raise ValueError(f"NNForgeClassifier: y mixes class labels of types {a} and {b} (e.g. {va!r} and {vb!r}); "
                             "use labels of one type (all numbers or all strings)")


class NNForgeClassifier(ClassifierMixin, _NNForgeEstimator):
    """A recipe trained as a classifier: ``NNForgeClassifier("digits_mlp", train__optimizer__lr=0.01)``.

    ``recipe``: a packaged recipe's name, a YAML path, a mapping or a resolved recipe (default: a
    small MLP); ``**overrides``: recipe keys, dots spelled ``__``. After ``fit``: ``classes_``,
    ``n_features_in_``, ``history_`` (the loop's per-epoch logs) and ``model_json_``.
    """

    _task = "classify"

    def fit(self, X, y):
        _one_label_type(y)
        x, y = _check_rows(self, X, y)
        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"NNForgeClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})")
        self._train(x, index.astype(np.int64), classes=[str(c) for c in self.classes_])
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._outputs(X).astype(np.float64)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: an unfitted estimator raises NotFittedError
        return self.classes_[proba.argmax(1)]


class NNForgeRegressor(RegressorMixin, _NNForgeEstimator):
    """A recipe trained as a regression (``task: regress``): ``NNForgeRegressor("diabetes_mlp")``.

    Inputs and target are standardised on the rows given to ``fit`` and predictions come back in
    the target's units; ``y`` may have several columns (one output each).
    """

    _task = "regress"

    def fit(self, X, y):
        x, y = _check_rows(self, X, y, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim = y.ndim
        self._train(x, _float32(self, "y", y.reshape(len(y), -1)))
        return self

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X).astype(np.float64)
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


__all__ = ["NNForgeClassifier", "NNForgeRegressor"]
