"""Attributions for tabular runs: features, not pixels; checked against what the model really uses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nnforge.cli import main
from nnforge.explain.report import explain_run
from nnforge.predictor import load
from nnforge.rundir import load_run_test_split
from tests.explain.conftest import NOISE_COLUMNS


def _accuracy_without(predictor, x: torch.Tensor, y: np.ndarray, columns: list[int]) -> float:
    """Test accuracy with ``columns`` shuffled across rows (their link to the label cut), averaged over 5 shuffles."""
    generator = torch.Generator().manual_seed(0)
    scores = []
    for _ in range(5):
        shuffled = x.clone()
        for c in columns:
            shuffled[:, c] = x[torch.randperm(len(x), generator=generator), c]
        scores.append(float((predictor.predict_stored(shuffled).argmax(1) == y).mean()))
    return float(np.mean(scores))


@pytest.mark.parametrize("method", ["ig", "shap", "lime"])
def test_feature_importance_ranks_what_the_model_uses(wine_mlp, method):
    report = explain_run(wine_mlp, [method], log=lambda _: None)
    ranking = [row["feature"] for row in report["feature_importance"][method]]
    assert len(ranking) == 16
    # The pure-noise columns rank in the lower half and one of them last (an unregularised model
    # does fit some noise, so one may sit just above a weak real measurement).
    assert all(ranking.index(name) >= 8 for name in NOISE_COLUMNS) and ranking[-1] in NOISE_COLUMNS, ranking
    # Cutting the five top-ranked features hurts the model far more than cutting the five last
    # (wine's measurements are redundant: the model survives losing any one or two of them).
    predictor = load(wine_mlp)
    dataset = load_run_test_split(wine_mlp)
    names = predictor.preprocessing.feature_names
    y = dataset.y_test.numpy()
    top = _accuracy_without(predictor, dataset.x_test, y, [names.index(f) for f in ranking[:5]])
    last = _accuracy_without(predictor, dataset.x_test, y, [names.index(f) for f in ranking[-5:]])
    assert last > 0.9 and top < last - 0.25, (top, last)


def test_explain_command_on_a_tabular_run(wine_mlp, capsys):
    assert main(["explain", str(wine_mlp), "--examples", "0,1,2"]) == 0  # default for tabular runs: shap
    out = wine_mlp / "explain"
    report = json.loads((out / "report.json").read_text())
    assert list(report["feature_importance"]) == ["shap"] and report["examples"] == [0, 1, 2]
    for name in ("importance-shap", "attributions-shap"):
        assert (out / f"{name}.png").stat().st_size > 5000
    assert "## Feature importance (shap)" in (out / "report.md").read_text()
    assert "most important features" in capsys.readouterr().out
    assert main(["explain", str(wine_mlp), "--method", "gradcam"]) == 2
    err = capsys.readouterr().err
    assert "tabular" in err and "ig, shap or lime" in err and len(err.strip().splitlines()) == 1
    assert main(["explain", str(wine_mlp), "--method", "permutation"]) == 2  # before: "'permutation' is not known"
    assert capsys.readouterr().err == ("error: --method permutation ranks the features of regression runs (test RMSE); "
                                       "this run is a classifier: use ig, shap or lime\n")


def test_the_top_losses_name_their_line_in_the_csv(wine_mlp, capsys):
    """A csv classifier's error analysis had no top losses at all (only image runs drew them); now
    report.md and report.json list them with the line of the file each row came from."""
    assert main(["explain", str(wine_mlp), "--method", "ig", "--top", "5"]) == 0
    report = json.loads((wine_mlp / "explain" / "report.json").read_text())
    csv_lines = (wine_mlp.parent / "wine-with-noise.csv").read_text().splitlines()
    x_test = load_run_test_split(wine_mlp).x_test.numpy()
    classes = load(wine_mlp).classes
    assert len(report["top_losses"]) == 5
    for row in report["top_losses"]:
        cells = csv_lines[int(row["source"].removeprefix("line ")) - 1].split(",")
        assert cells[-1] == classes[row["true"]]  # the line holds that test row: its label and its values
        assert np.allclose([float(c) for c in cells[:-1]], x_test[row["index"]], rtol=1e-5)
    md = (wine_mlp / "explain" / "report.md").read_text()
    first = report["top_losses"][0]
    assert "## Top losses" in md and f"| {first['index']} | {first['source']} | {classes[first['true']]} |" in md


def test_eval_on_a_table_refuses_tta_and_prints_strict_json(wine_mlp, capsys):
    """A table's rows have no label-preserving views: --tta is refused, not silently a plain eval."""
    assert main(["eval", str(wine_mlp), "--tta"]) == 2
    err = capsys.readouterr().err
    assert "--tta needs image runs" in err and "drop --tta" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", str(wine_mlp), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.8
