"""The team set-up on a real PostgreSQL server: two `nnforge tune` workers share one Optuna study,
and every trial is an MLflow run (nested under the study's run) in a PostgreSQL-backed store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.postgres import postgres_server

optuna = pytest.importorskip("optuna")
mlflow = pytest.importorskip("mlflow", reason="the track extra (mlflow) is not installed")


@pytest.mark.slow
def test_two_workers_share_a_postgres_study_and_log_nested_mlflow_runs(tmp_path):
    from optuna.trial import TrialState

    from nnforge.tune.search import run_study

    with postgres_server(("optuna", "mlflow")) as urls:
        recipe = {"seed": 0, "data": {"name": "digits", "batch_size": 64, "val_fraction": 0.2},
                  "model": {"name": "mlp", "hidden": [16]},
                  "train": {"epochs": 1, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none",
                            "loggers": ["mlflow"], "mlflow": {"tracking_uri": urls["mlflow"], "experiment": "team"}},
                  "tune": {"metric": "val_accuracy", "direction": "maximize", "pruner": "none",
                           "space": {"train.optimizer.lr": {"low": 0.0005, "high": 0.05, "log": True},
                                     "model.hidden": {"choices": [[8], [16], [32]]}}}}
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe))
        out = tmp_path / "out"
        worker = str(Path(__file__).parent / "two_workers.py")  # each worker's first trial waits for the other's
        cmd = [sys.executable, worker, "tune", str(path), "--trials", "6", "--sampler", "random",
               "--storage", urls["optuna"], "--study", "shared", "--out", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
        outputs = [w.communicate(timeout=400)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs

        study = optuna.load_study(study_name="shared", storage=urls["optuna"])
        finished = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
        assert 6 <= len(finished) <= 7  # a worker may finish the trial it had started when the 6th completed
        numbers = [t.number for t in study.get_trials()]
        assert len(numbers) == len(set(numbers))  # no trial handed out twice
        assert len({json.dumps(t.params, sort_keys=True) for t in finished}) == len(finished)  # none trained twice
        assert len({t.user_attrs["worker"] for t in finished}) == 2  # both processes did work, side by side
        result = run_study(recipe, out, trials=6, sampler="random", storage=urls["optuna"], study_name="shared", log=lambda _: None)
        best = max(finished, key=lambda t: t.value)
        assert result.best_value == best.value and f"(trial {best.number}" in result.best_recipe.read_text()

        client = mlflow.MlflowClient(tracking_uri=urls["mlflow"])
        exp = client.get_experiment_by_name("team").experiment_id
        parents = client.search_runs([exp], "tags.`nnforge.study` = 'shared'")
        assert len(parents) == 1  # one parent run for the study, whichever worker made it
        children = client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")
        by_dir = {c.data.tags["nnforge.run_dir"]: c for c in children}
        assert set(by_dir) == {str(Path(t.user_attrs["run_dir"]).resolve()) for t in finished}
        for trial in finished:
            logged = by_dir[str(Path(trial.user_attrs["run_dir"]).resolve())]
            trained = yaml.safe_load((Path(trial.user_attrs["run_dir"]) / "config.yaml").read_text())
            assert float(logged.data.params["train.optimizer.lr"]) == trained["train"]["optimizer"]["lr"]
            assert float(logged.data.params["train.optimizer.lr"]) == pytest.approx(trial.params["train.optimizer.lr"], rel=1e-2)
            history = client.get_metric_history(logged.info.run_id, "val_accuracy")
            assert [(h.step, h.value) for h in history] == [(1, pytest.approx(trial.value))]
            assert logged.info.status == "FINISHED"
