"""An ensemble of runs (`nnforge eval RUN1 RUN2 ...`) scores at least as well as its best member."""

import json

import numpy as np
import pandas as pd
import pytest

from nnforge.cli import main
from nnforge.train import fit
from nnforge.compress.ensemble import evaluate_runs

from .conftest import fast_config


def test_ensemble_is_at_least_as_good_as_its_best_member(tmp_path, capsys):
    runs = [str(fit(fast_config(f"seed={s}", "train.epochs=5"), tmp_path / f"r{s}").dir) for s in range(3)]
    mean = evaluate_runs(runs)
    best_member = max(m["accuracy"] for m in mean["members"])
    assert mean["accuracy"] >= best_member
    assert evaluate_runs(runs, combine="vote")["accuracy"] >= min(m["accuracy"] for m in mean["members"])
    assert main(["eval", *runs]) == 0
    assert "ensemble of 3 runs" in capsys.readouterr().out


def test_a_vote_reports_no_loss_instead_of_one_its_shares_cannot_have(tmp_path, capsys):
    """Before: the cross-entropy of vote shares, -log(1e-12) for every unanimous mistake: two copies of
    one run (loss ~0.3) "scored" a loss several times higher than either."""
    run = str(fit(fast_config("train.epochs=2"), tmp_path / "r").dir)
    single = evaluate_runs([run])
    assert single["loss"] < 5 and evaluate_runs([run, run], combine="vote")["loss"] is None
    assert main(["eval", run, run, "--vote"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"accuracy {single['accuracy']:.2%}  (no loss: a vote gives no probabilities)"


@pytest.mark.parametrize("task, recipe", [("classify", "digits_mlp"), ("regress", "diabetes_mlp")])
def test_each_member_of_a_csv_ensemble_reads_the_rows_with_its_own_encoding(tmp_path, task, recipe):
    """Two runs of one csv, one with a validation part and one without, learn other medians (and a
    category only some rows hold). Before: every member was fed the rows encoded with the first run's
    encoding (another median in the second's empty cells, or a refusal of its wider rows); now each
    member scores in the ensemble as it scores alone."""
    from nnforge.api import as_recipe
    from nnforge.train import run

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(5, 5, 120).round(2), "kind": rng.choice(["x", "y"], 120)})
    frame.loc[rng.choice(120, 40, replace=False), "a"] = np.nan
    frame.loc[3, "kind"] = "rare"
    value = frame["a"].fillna(0) / 10 + (frame["kind"] == "x") + rng.normal(0, 0.3, 120)
    frame["target"] = value.round(3) if task == "regress" else np.where(value > 0.8, "high", "low")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    runs = []
    for name, val in (("val", 0.5), ("all", 0.0)):
        config, _ = as_recipe(recipe, {"task": task, "data.name": f"csv:{path}", "data.target": "target", "data.val_fraction": val,
                                       "train.epochs": 2, "train.progress": "none", "train.checkpoint.enabled": False})
        runs.append(str(run(config, tmp_path / name, pictures=False).dir))
    encodings = [json.loads((tmp_path / n / "model.json").read_text())["preprocessing"]["encoding"] for n in ("val", "all")]
    assert encodings[0] != encodings[1]
    metric = "rmse" if task == "regress" else "accuracy"
    alone = [evaluate_runs([r]) for r in runs]
    together = evaluate_runs(runs)
    for member, single in zip(together["members"], alone):
        assert member[metric] == pytest.approx(single[metric], abs=1e-9)
    if task == "regress":
        assert together["mae"] <= max(s["mae"] for s in alone) + 1e-9
