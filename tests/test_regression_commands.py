"""Every command on one small regression run (diabetes): eval, predict, explain, tune, export, compress, serve, report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nnforge.cli import main
from tests.train.test_regress import QUICK, write_diabetes_csv


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from nnforge.api import as_recipe
    from nnforge.train import run

    recipe, _ = as_recipe("diabetes_mlp", {**QUICK, "train.epochs": 40})
    return run(recipe, tmp_path_factory.mktemp("regression") / "diabetes").dir


@pytest.fixture(scope="module")
def table():
    from nnforge.data.sources.regression import load_diabetes

    return load_diabetes()


def test_eval_scores_in_the_targets_units(run_dir, capsys):
    assert main(["eval", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert result["task"] == "regress" and result["examples"] == 89
    assert result["rmse"] == pytest.approx(metrics["test_rmse"], rel=1e-4)
    assert result["r2"] == pytest.approx(metrics["test_r2"], abs=1e-4)
    assert main(["eval", str(run_dir), "--tta"]) == 2  # test-time augmentation is for images


def test_predict_reads_csv_rows_and_prints_numbers(run_dir, tmp_path, capsys):
    import nnforge

    path = write_diabetes_csv(tmp_path / "patients.csv", rows=5)  # the target column is there too: ignored
    assert main(["predict", str(run_dir), str(path), "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    from sklearn.datasets import load_diabetes

    rows = load_diabetes(scaled=False).data[:5].astype(np.float32)
    expected = nnforge.load(run_dir).predict_stored(torch.from_numpy(rows))[:, 0]
    assert [a["input"] for a in answers] == [f"{path}:{i}" for i in range(2, 7)]
    assert np.allclose([a["value"] for a in answers], expected, rtol=1e-5)
    assert all(25 < a["value"] < 350 and set(a["values"]) == {"progression"} for a in answers)  # the target's own range


def test_explain_attributes_the_value_in_target_units(run_dir, table):
    from nnforge.explain.attribution import attribute
    from nnforge.explain.report import explain_run
    from nnforge.predictor import load

    report = explain_run(run_dir, ["ig", "permutation"], log=lambda _: None)
    for name in ("importance-ig.png", "attributions-ig.png", "importance-permutation.png", "errors.png", "report.md"):
        assert (run_dir / "explain" / name).stat().st_size > 500
    perm = report["feature_importance"]["permutation"]
    assert {perm[0]["feature"], perm[1]["feature"]} & {"bmi", "s5"}  # the two known strong predictors of progression
    assert perm[0]["rmse_increase"] > 5 * max(perm[-1]["rmse_increase"], 0.1)  # shuffling it hurts; the weakest barely
    # integrated gradients' completeness, in the target's units: a row's attributions add up to
    # its prediction minus the prediction for the training mean row (the baseline)
    p = load(run_dir)
    x = p.preprocessing(torch.from_numpy(table.x_test[:4]))
    maps = attribute(p.model, x, torch.zeros(4, dtype=torch.long), "ig", n_steps=256, probabilities=False).numpy() * p.target_std[0]
    at_mean = p.predict_stored(torch.tensor([p.preprocessing.mean]))[0, 0]
    assert np.allclose(maps.sum(1), p.predict_stored(torch.from_numpy(table.x_test[:4]))[:, 0] - at_mean, atol=0.5)


def test_export_onnx_matches_torch(run_dir, table):
    from nnforge.compress.export import export_onnx, onnx_session
    from nnforge.predictor import load

    path = export_onnx(run_dir, run_dir / "exported.onnx")
    p = load(run_dir)
    x = p.preprocessing(torch.from_numpy(table.x_test)).numpy()
    session = onnx_session(path)
    onnx_out = session.run(None, {"input": x})[0]
    with torch.inference_mode():
        torch_out = p.model(torch.from_numpy(x)).numpy()
    assert np.abs(onnx_out - torch_out).max() < 1e-4
    target = json.loads(session.get_modelmeta().custom_metadata_map["nnforge.target"])
    values = onnx_out * np.array(target["std"]) + np.array(target["mean"])
    assert np.allclose(values, p.predict_stored(torch.from_numpy(table.x_test)), rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_compress_scores_variants_by_rmse(run_dir):
    from nnforge.compress.pipeline import compress_run

    table = compress_run(run_dir, prune=0.5, quantize="int8", methods=("magnitude",), log=lambda _: None)
    rows = {r["model"].split(" (")[0]: r for r in table["rows"]}
    original = json.loads((run_dir / "metrics.json").read_text())["test_rmse"]
    assert table["metric"] == "test_rmse" and rows["original"]["test_rmse"] == pytest.approx(original, rel=1e-4)
    assert rows["fp32"]["test_rmse"] == pytest.approx(original, rel=1e-4)
    assert all(r["test_rmse"] < 1.2 * original for r in table["rows"])  # still a useful model after pruning / int8


def test_tune_minimises_validation_rmse(run_dir, tmp_path):
    from nnforge.config import read_yaml
    from nnforge.rundir import recipe_path
    from nnforge.tune.search import run_study

    raw = read_yaml(recipe_path("diabetes_mlp_tune"))
    raw["train"]["epochs"] = 8
    raw["tune"]["space"] = {"train.optimizer.lr": {"choices": [0.0003, 0.01]}}
    result = run_study(raw, tmp_path / "study", trials=2, sampler="grid", storage=f"sqlite:///{tmp_path}/s.db", log=lambda _: None)
    study = json.loads((tmp_path / "study" / "study.json").read_text())
    assert (study["metric"], study["direction"]) == ("val_rmse", "minimize")
    values = {t["params"]["train.optimizer.lr"]: t["value"] for t in study["trials"]}
    assert set(values) == {0.0003, 0.01} and result.best_value == min(values.values())
    assert all(t["test_rmse"] > 20 for t in study["trials"])  # in the target's units (progression 25..346)


def test_serve_answers_a_number_and_explains_it(run_dir, table):
    from nnforge.predictor import load
    from tests.serve.conftest import Server

    expected = load(run_dir).predict_stored(torch.from_numpy(table.x_test[:3]))
    server = Server(run_dir)
    try:
        status, meta = server.request("GET", "/metadata")
        assert status == 200 and meta["task"] == "regress" and meta["classes"] == ["progression"] and meta["test_rmse"] > 0
        body = json.dumps({"inputs": table.x_test[0].tolist()}).encode()
        status, answer = server.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        assert status == 200 and answer["value"] == pytest.approx(float(expected[0, 0]), rel=1e-4)
        body = json.dumps({"inputs": table.x_test[:3].tolist()}).encode()
        status, batch = server.request("POST", "/v1/predict/batch", body, {"Content-Type": "application/json"})
        assert status == 200 and np.allclose([p["value"] for p in batch["predictions"]], expected[:, 0], rtol=1e-4)
        body = json.dumps({"inputs": table.x_test[0].tolist()}).encode()
        status, why = server.request("POST", "/v1/explain", body, {"Content-Type": "application/json"})
        assert status == 200 and why["explained_target"] == "progression"
        assert sum(f["attribution"] for f in why["features"]) == pytest.approx(why["value"] - why["baseline_value"], abs=1.0)
        status, docs = server.request("GET", "/openapi.json")
        assert "Estimate" in docs["components"]["schemas"]
    finally:
        server.close()


def test_report_shows_the_baselines(run_dir):
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    assert "linear regression (scikit-learn)" in page and "predict the training mean" in page and "test R²" in page


@pytest.mark.slow
def test_the_page_shows_the_value(run_dir, table, tmp_path):
    """The served page on a regression run: paste a row, read the predicted progression and the features' shares."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from nnforge.predictor import load
    from tests.serve.test_soak_and_browser import served_page

    expected = float(load(run_dir).predict_stored(torch.from_numpy(table.x_test[:1]))[0, 0])
    with served_page(run_dir, tmp_path) as (driver, _):
        assert "predicts progression" in driver.find_element(By.ID, "model-info").text
        driver.find_element(By.ID, "row").send_keys(", ".join(repr(float(v)) for v in table.x_test[0]))
        driver.find_element(By.ID, "predict-row").click()
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return !!document.body.dataset.predicted"))
        assert float(driver.execute_script("return document.body.dataset.predicted")) == pytest.approx(expected, rel=1e-4)
        assert driver.find_element(By.ID, "answer").text.startswith(f"{expected:.5g}"[:4])
        assert len(driver.find_elements(By.CSS_SELECTOR, "#features .feature")) == 10
        assert "moving progression from" in driver.find_element(By.ID, "method").text


def test_runs_lists_it_by_its_test_rmse(run_dir, capsys):
    assert main(["runs", str(run_dir.parent)]) == 0
    out = capsys.readouterr().out
    rmse = json.loads((run_dir / "metrics.json").read_text())["test_rmse"]
    assert "diabetes" in out and f"RMSE {rmse:.4g}" in out


def test_a_regression_model_folder_without_its_recipe_is_evaluated_on_its_dataset(run_dir, tmp_path, capsys):
    """model.json names the dataset; before, a folder without config.yaml was scored on the default recipe's mnist-sample."""
    import shutil

    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.json", "model.safetensors"):
        shutil.copy(run_dir / name, folder / name)
    assert main(["eval", str(folder)]) == 0
    assert "RMSE" in capsys.readouterr().out


def test_permutation_importance_of_a_csv_shuffles_each_raw_column_whole(tmp_path):
    """Before: each one-hot category (and each missing indicator) was shuffled alone, making rows with
    two categories or none, and the ranking listed 'kind=x', 'kind=y' where the table has 'kind'. Now
    each raw column is shuffled with the features it was encoded as, as scikit-learn's
    permutation_importance does on the raw table (checked against it)."""
    import pandas as pd
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split

    import nnforge
    from nnforge.api import as_recipe
    from nnforge.explain.report import explain_run
    from nnforge.train import run

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=200).round(2), "kind": rng.choice(["x", "y", "z"], 200)})
    frame.loc[rng.choice(200, 20, replace=False), "a"] = np.nan
    frame["target"] = (3.0 * (frame["kind"] == "x") - 2.0 * (frame["kind"] == "z") + rng.normal(0, 0.3, 200)).round(3)
    frame.to_csv(tmp_path / "t.csv", index=False)
    recipe, _ = as_recipe("diabetes_mlp", {**QUICK, "train.epochs": 30, "data.name": f"csv:{tmp_path / 't.csv'}",
                                           "data.target": "target"})
    run_dir = run(recipe, tmp_path / "run").dir
    report = explain_run(run_dir, ["permutation"], log=lambda _: None)
    perm = report["feature_importance"]["permutation"]
    assert [r["feature"] for r in perm] == ["kind", "a"]
    for row in report["largest_errors"]:  # each names the line of the file its test row came from (the header is line 1)
        assert frame["target"].iloc[int(row["source"].removeprefix("line ")) - 2] == pytest.approx(row["true"][0])

    predictor = nnforge.load(run_dir)
    test = frame.iloc[train_test_split(np.arange(200), test_size=0.2, random_state=0)[1]]  # regression's fixed split

    class Raw:  # the raw table's rows, encoded by the run itself
        def fit(self, *a):
            return self

    def rmse(_est, rows, y):
        records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict("records")]
        return -float(np.sqrt(np.mean((np.array([e.value for e in predictor.predict(records)]) - y) ** 2)))

    want = permutation_importance(Raw(), test[["a", "kind"]], test["target"].to_numpy(), scoring=rmse, n_repeats=10, random_state=0)
    assert perm[0]["rmse_increase"] == pytest.approx(want.importances_mean[1], rel=0.2)
    assert abs(perm[1]["rmse_increase"]) < 0.1 * perm[0]["rmse_increase"]
