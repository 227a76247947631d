"""Architecture search: a two-objective study whose front is non-dominated, within budget, and ready to train."""
from __future__ import annotations

import pytest
import torch
import yaml

from nnforge.config import load_config
from nnforge.errors import ConfigError
from nnforge.models import build_model
from nnforge.train import run
from nnforge.tune.nas import dominates, model_cost, run_nas
from nnforge.tune.space import parse_tune

RECIPE = {"seed": 0, "data": {"name": "digits", "batch_size": 64, "val_fraction": 0.2},
          "model": {"name": "convnet", "channels": [8], "kernel": 3},
          "train": {"epochs": 1, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none"},
          "tune": {"metric": "val_accuracy", "objectives": ["val_accuracy", "params"], "budget": {"params": 3000},
                   "space": {"model.channels": {"choices": [[4], [8], [16], [32, 64]]},
                             "model.block": {"choices": ["plain", "residual"]}, "model.norm": {"choices": ["none", "batch"]}}}}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nas")
    lines: list[str] = []
    return run_nas(RECIPE, tmp / "out", 8, storage=f"sqlite:///{tmp / 'nas.db'}", study_name="t", log=lines.append), lines


@pytest.mark.slow
def test_the_front_is_non_dominated_and_every_trial_respects_the_budget(study):
    result, lines = study
    trained = [r for r in result.trials if r["state"] == "complete" and r["same_as"] is None]
    assert result.front and len(result.trials) == 8
    for r in result.trials:
        if r["state"] == "complete":
            assert r["cost"]["params"] <= 3000  # nothing over the budget was trained
        else:
            assert r["over_budget"] and r["run_dir"] is None
    assert any(r["over_budget"] for r in result.trials) or all(r["params"]["model.channels"] != [32, 64] for r in result.trials)
    points = {r["number"]: (r["metric"], r["cost"]["params"]) for r in trained}
    front = {r["number"] for r in result.front}
    for n in front:
        assert not any(dominates(points[o], points[n]) for o in points)
    for n in set(points) - front:  # and everything left off is beaten by a front member
        assert any(dominates(points[f], points[n]) or points[f] == points[n] for f in front)
    assert (result.out / "front.png").read_bytes()[:4] == b"\x89PNG" and "| trial |" in (result.out / "front.md").read_text()


@pytest.mark.slow
def test_each_front_member_is_a_recipe_that_trains(study, tmp_path):
    result, _ = study
    member = result.front[0]
    recipe = load_config(member["recipe"])
    assert "tune" not in yaml.safe_load(open(member["recipe"])) and recipe.model["channels"] == member["params"]["model.channels"]
    trained = run(recipe.with_overrides({"train.progress": "none"}), tmp_path / "again")
    assert trained.metrics["parameters"] == member["cost"]["params"]


def test_latency_is_measured_and_bigger_is_slower():
    torch.manual_seed(0)
    small = build_model({"name": "convnet", "channels": [4]}, (1, 8, 8), 10)
    big = build_model({"name": "convnet", "channels": [64, 128], "kernel": 5}, (1, 8, 8), 10)
    a, b = model_cost(small, (1, 8, 8), {"latency_ms"}), model_cost(big, (1, 8, 8), {"latency_ms"})
    assert 0 < a["latency_ms"] < b["latency_ms"] and a["params"] < b["params"]


def test_convnet_blocks_and_their_refusals():
    plain = build_model({"name": "convnet", "channels": [8, 16], "block": "plain"}, (1, 8, 8), 10)
    residual = build_model({"name": "convnet", "channels": [8, 16], "block": "residual", "norm": "group"}, (1, 8, 8), 10)
    assert plain(torch.zeros(2, 1, 8, 8)).shape == residual(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert sum(p.numel() for p in residual.parameters()) > sum(p.numel() for p in plain.parameters())
    with pytest.raises(ConfigError, match="'model.norm' is 'layer'; accepted: none, batch, group"):
        build_model({"name": "convnet", "norm": "layer"}, (1, 8, 8), 10)
    with pytest.raises(ConfigError, match="odd positive integer"):
        build_model({"name": "convnet", "kernel": 4}, (1, 8, 8), 10)


@pytest.mark.parametrize("tune, message", [
    ({"objectives": ["val_accuracy", "flops"]}, "accepted: \\[val_accuracy, params\\] or \\[val_accuracy, latency_ms\\]"),
    ({"objectives": "params"}, "'tune.objectives' is 'params'"),
    ({"objectives": ["val_accuracy", "params"], "budget": {"memory": 3}}, "unknown key 'tune.budget.memory'"),
    ({"objectives": ["val_accuracy", "params"], "budget": {"params": -1}}, "accepted: a positive number"),
])
def test_a_wrong_objective_or_budget_is_one_line(tune, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_tune({**tune, "space": {"model.kernel": [3, 5]}})
    assert "\n" not in str(err.value)


def test_resuming_with_another_recipe_or_cost_is_one_line_before_any_trial(tmp_path):
    """A rerun with train.epochs=2, or latency_ms for params, ranked its trials with the study's 1-epoch ones
    (and latencies with parameter counts) on one front."""
    storage = f"sqlite:///{tmp_path / 'nas.db'}"
    run_nas(RECIPE, tmp_path / "out", 1, storage=storage, study_name="t", log=lambda _: None)
    longer = {**RECIPE, "train": {**RECIPE["train"], "epochs": 2}}
    with pytest.raises(ConfigError, match="study 't' in .* ran its trials with train.epochs = 1; this run gives 2"):
        run_nas(longer, tmp_path / "out", 2, storage=storage, study_name="t", log=lambda _: None)
    slower = {**RECIPE, "tune": {**RECIPE["tune"], "objectives": ["val_accuracy", "latency_ms"], "budget": {"latency_ms": 5}}}
    with pytest.raises(ConfigError, match="ran its trials with tune.objectives = \\['val_accuracy', 'params'\\]"):
        run_nas(slower, tmp_path / "out", 2, storage=storage, study_name="t", log=lambda _: None)
    assert len(run_nas(RECIPE, tmp_path / "out", 1, storage=storage, study_name="t", log=lambda _: None).trials) == 1
