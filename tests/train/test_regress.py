"""task: regress on real tables: diabetes (by name and as a CSV), linnerud (three targets), the losses, the scratch engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nnforge.api import as_recipe
from nnforge.errors import ConfigError, DataError
from nnforge.train import run

QUICK = {"train.progress": "none", "train.checkpoint.enabled": False}


def write_diabetes_csv(path, rows=None):
    """scikit-learn's diabetes table as a user's own CSV would hold it (features and target as columns)."""
    from sklearn.datasets import load_diabetes

    b = load_diabetes(scaled=False)
    data, target = b.data[:rows], b.target[:rows]
    lines = [",".join([*b.feature_names, "progression"])]
    lines += [",".join(repr(float(v)) for v in [*r, t]) for r, t in zip(data, target)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    recipe, _ = as_recipe("diabetes_mlp", QUICK)
    out = tmp_path_factory.mktemp("regress") / "diabetes"
    return run(recipe, out)


def test_the_recipe_beats_the_training_mean_widely_and_nears_linear_regression(diabetes):
    m = diabetes.metrics
    mean, linear = m["baselines"]["training_mean"], m["baselines"]["linear_regression"]
    assert m["test_rmse"] < 0.88 * mean["rmse"] and m["test_mae"] < 0.82 * mean["mae"]
    assert m["test_r2"] > 0.2 and abs(mean["r2"]) < 0.05
    assert m["test_rmse"] < 1.1 * linear["rmse"]
    assert json.loads((diabetes.dir / "metrics.json").read_text())["baselines"] == m["baselines"]
    for picture in ("regression.png", "curves.png"):
        assert (diabetes.dir / picture).stat().st_size > 10_000


def test_predictions_come_back_in_the_targets_units(diabetes):
    import nnforge
    from nnforge.data.sources.regression import load_diabetes

    table = load_diabetes()
    model = nnforge.load(diabetes.dir)
    pred = model.predict_stored(torch.from_numpy(table.x_test))
    assert pred.shape == (len(table.x_test), 1)
    assert 100 < pred.mean() < 200 and pred.std() > 20  # progression is 25..346, mean ~152
    rmse = float(np.sqrt(((pred - table.y_test) ** 2).mean()))
    assert rmse == pytest.approx(diabetes.metrics["test_rmse"], rel=1e-4)
    one = model.predict(table.x_test[0])
    assert one.value == pytest.approx(float(pred[0, 0]), rel=1e-5) and set(one.values) == {"progression"}


def test_a_csv_with_a_numeric_target_is_the_same_table(tmp_path, diabetes):
    """The docs' `csv:houses.csv --set data.target=price`: the same rows as a CSV give the same run."""
    path = write_diabetes_csv(tmp_path / "diabetes.csv")
    recipe, _ = as_recipe("diabetes_mlp", {**QUICK, "data.name": f"csv:{path}", "data.target": "progression"})
    m = run(recipe, tmp_path / "csv").metrics
    assert m["test_rmse"] == pytest.approx(diabetes.metrics["test_rmse"], rel=1e-3)
    assert m["baselines"] == diabetes.metrics["baselines"]
    with pytest.raises(DataError, match="no column 'price'"):
        run(recipe.with_overrides({"data.target": "price"}), tmp_path / "bad")


def test_linnerud_has_three_targets(tmp_path):
    recipe, _ = as_recipe({"task": "regress", "data": {"name": "linnerud", "batch_size": 4, "val_fraction": 0.0},
                           "model": {"name": "mlp", "hidden": [8]},
                           "train": {"epochs": 30, "optimizer": {"name": "adam", "lr": 0.01}, "monitor": "train_loss"}}, QUICK)
    m = run(recipe, tmp_path / "lin").metrics
    assert m["targets"] == ["Weight", "Waist", "Pulse"] and set(m["per_target"]) == {"Weight", "Waist", "Pulse"}
    meta = json.loads((tmp_path / "lin" / "model.json").read_text())
    assert meta["task"] == "regress" and len(meta["target"]["mean"]) == 3


def test_the_losses_train_differently_and_a_classifier_recipe_naming_a_table_is_refused(tmp_path):
    base = {"task": "regress", "data": {"name": "diabetes"}, "model": {"name": "mlp", "hidden": [8]},
            "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}}}
    got = {}
    for loss in ("mse", "l1", "huber"):
        recipe, _ = as_recipe(base, {**QUICK, "train.loss.name": loss})
        got[loss] = run(recipe, tmp_path / loss).metrics["test_loss"]
    assert len(set(got.values())) == 3
    with pytest.raises(ConfigError, match="accepted with task regress: mse, l1, huber"):
        run(as_recipe(base, {**QUICK, "train.loss.name": "focal"})[0], tmp_path / "focal")
    with pytest.raises(DataError, match="set task=regress"):
        run(as_recipe({"data": {"name": "diabetes"}, "model": {"name": "mlp"}}, QUICK)[0], tmp_path / "classify")
    with pytest.raises(DataError, match="not one"):
        run(as_recipe({**base, "data": {"name": "digits"}}, QUICK)[0], tmp_path / "digits")


def test_the_scratch_engine_regresses_with_mse_and_refuses_huber_in_one_line(tmp_path):
    base = {"task": "regress", "data": {"name": "diabetes"}, "model": {"name": "mlp", "hidden": [16]},
            "train": {"epochs": 15, "optimizer": {"name": "adam", "lr": 0.01}}}
    m = run(as_recipe(base, {**QUICK, "engine": "scratch"})[0], tmp_path / "scratch").metrics
    torch_m = run(as_recipe(base, QUICK)[0], tmp_path / "torch").metrics
    assert m["test_rmse"] < 0.9 * m["baselines"]["training_mean"]["rmse"]
    assert m["test_rmse"] == pytest.approx(torch_m["test_rmse"], rel=0.05)  # same start, same batches, same formulas
    with pytest.raises(ConfigError) as err:
        run(as_recipe(base, {**QUICK, "engine": "scratch", "train.loss.name": "huber"})[0], tmp_path / "huber")
    assert "\n" not in str(err.value) and not (tmp_path / "huber").exists()


def test_metrics_json_gives_the_validation_rmse_of_the_kept_epoch(tmp_path):
    """A regression keeps its best epoch by val_loss (the standardised loss, averaged over the targets);
    with three targets the epoch of the lowest val_rmse is another one. Before: metrics.json held only
    that lowest val_rmse, which the saved model does not have; now final_val_rmse is the saved model's."""
    import nnforge
    from nnforge.rundir import read_history, read_metrics
    from nnforge.train import prepare
    from nnforge.train.tasks.regress import Regress, scores

    recipe, _ = as_recipe({"task": "regress", "data": {"name": "linnerud", "val_fraction": 0.3}, "model": {"name": "mlp", "hidden": [8]},
                           "train": {"epochs": 8, "optimizer": {"name": "adam", "lr": 0.03}}}, QUICK)
    result = run(recipe, tmp_path / "lin", pictures=False)
    history, metrics = read_history(result.dir), read_metrics(result.dir)
    kept = min(history, key=lambda h: h["val_loss"])
    assert kept["val_rmse"] != metrics["best_val_rmse"]  # the test can tell the kept epoch from the lowest val_rmse
    assert metrics["final_val_rmse"] == kept["val_rmse"]
    task = Regress()
    val = prepare(recipe, task).val
    model = nnforge.load(result.dir).model.eval()
    with torch.no_grad():
        outputs = torch.cat([model(x) for x, _ in val]).numpy()
    truth = task.to_units(torch.cat([y for _, y in val]).numpy())
    assert scores(task.to_units(outputs), truth)["rmse"] == pytest.approx(metrics["final_val_rmse"], rel=1e-5)
