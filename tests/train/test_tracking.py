"""Loggers read back with the trackers' own readers: TensorBoard's EventAccumulator and MLflow's
client and model loader, never nnforge's code. One torch run, one scratch run, one forecast run."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import yaml

import nnforge
from nnforge.errors import ConfigError
from nnforge.train import run
from nnforge.train.callbacks import Callback
from nnforge.train.signals import Interrupted
from nnforge.train.run import prepare

mlflow = pytest.importorskip("mlflow", reason="the track extra (mlflow) is not installed")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                        reason="the track extra (tensorboard) is not installed")

DIGITS = {"data": {"name": "digits", "batch_size": 128}, "model": {"name": "mlp", "hidden": [16]},
          "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none",
                    "loggers": ["tensorboard", "mlflow", "csv"], "gradients": {"log_norms": True}}}
SUNSPOTS = {"task": "forecast", "data": {"name": "sunspots", "batch_size": 64}, "model": {"name": "lstm", "hidden": 4},
            "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none",
                      "loggers": ["tensorboard", "mlflow"]}}


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _mlflow_run(run_dir):
    """The run MLflow holds for a run directory, found by the tag it carries, and its client."""
    uri = f"sqlite:///{run_dir.parent / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("nnforge")
    found = client.search_runs([exp.experiment_id], f"tags.`nnforge.run_dir` = '{run_dir.resolve()}'")
    assert len(found) == 1
    return client, found[0], uri


def _check_mlflow(run_dir, metric_names):
    client, logged, uri = _mlflow_run(run_dir)
    recipe = yaml.safe_load((run_dir / "config.yaml").read_text())
    expected = {k: v if isinstance(v, str) else json.dumps(v) for k, v in _flatten(recipe).items()}
    assert logged.data.params == expected  # every key of the resolved recipe: text as is, other values as JSON
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for name in metric_names:
        points = client.get_metric_history(logged.info.run_id, name)
        assert [p.step for p in points] == [h["epoch"] for h in history]
        assert [p.value for p in points] == pytest.approx([h[name] for h in history])
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"config.yaml", "metrics.json", "metrics.jsonl", "model.json", "model.safetensors", "model"} <= artifacts
    assert "checkpoints" not in artifacts
    assert logged.info.status == "FINISHED"
    mlflow.set_tracking_uri(uri)
    return mlflow.pyfunc.load_model(f"runs:/{logged.info.run_id}/model"), logged


def _check_tensorboard(run_dir, steps: int, epochs: int, images: set[str]):
    acc = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert len(acc.Scalars("step/loss")) == steps and len(acc.Scalars("step/lr")) == steps
    assert [e.step for e in acc.Scalars("epoch/train_loss")] == list(range(1, epochs + 1))
    assert len(acc.Scalars("epoch/val_loss")) == epochs
    assert images <= set(tags["images"])
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
    return acc


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_a_classifier_run_is_read_back_by_tensorboard_and_mlflow(tmp_path, engine):
    recipe = {**DIGITS, "engine": engine}
    result = run(recipe, tmp_path / "run")
    out, data = result.dir, prepare(result.config)
    acc = _check_tensorboard(out, 2 * len(data.train), 2, {"plots/confusion", "plots/curves"})
    assert any(tag.startswith("grad_norm/") for tag in acc.Tags()["scalars"])  # train.gradients.log_norms
    assert len((out / "metrics.csv").read_text().splitlines()) == 3  # csv: a header and one row per epoch

    model, logged = _check_mlflow(out, ["train_loss", "val_loss", "train_accuracy", "val_accuracy"])
    assert logged.data.metrics["test_accuracy"] == result.metrics["test_accuracy"]
    x_test = data.test.x.numpy()
    predictor = nnforge.load(out)
    expected = np.array([[p.probabilities[c] for c in predictor.classes] for p in predictor.predict(x_test)])
    np.testing.assert_allclose(model.predict(x_test), expected, atol=1e-5)
    assert (model.predict(x_test).argmax(1) == expected.argmax(1)).all()


@pytest.mark.slow
def test_a_forecast_run_logs_a_model_that_forecasts_in_the_series_units(tmp_path):
    result = run(SUNSPOTS, tmp_path / "run")
    out, data = result.dir, prepare(result.config)
    acc = _check_tensorboard(out, 2 * len(data.train), 2, {"plots/forecast"})
    assert acc.Scalars("final/test_mae")[0].value == pytest.approx(result.metrics["test_mae"])
    model, _ = _check_mlflow(out, ["train_loss", "val_loss"])
    windows, truth = data.extra["x"][data.extra["masks"][2]], data.extra["y"][data.extra["masks"][2]]
    forecast = model.predict(windows.astype(np.float32))
    assert np.abs(forecast - truth).mean() == pytest.approx(result.metrics["test_mae"], abs=1e-3)


def test_a_logger_whose_package_is_missing_is_refused_before_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ConfigError, match=r"nnforge\[track\]") as err:
        run({**DIGITS, "train": {**DIGITS["train"], "loggers": ["mlflow"]}}, tmp_path / "run")
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()


def test_an_unknown_logger_is_refused_naming_the_accepted_ones():
    with pytest.raises(ConfigError, match="'train.loggers' lists 'tensorbord' \\(did you mean 'tensorboard'\\?\\)"):
        nnforge.config.resolve({"train": {"loggers": ["tensorbord"]}})



@pytest.mark.slow
def test_a_regression_run_logs_a_model_that_predicts_in_the_target_units(tmp_path):
    recipe = {"task": "regress", "data": {"name": "diabetes", "batch_size": 64}, "model": {"name": "mlp", "hidden": [8]},
              "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none", "loggers": ["mlflow"]}}
    result = run(recipe, tmp_path / "run")
    model, _ = _check_mlflow(result.dir, ["train_loss", "val_loss"])
    table = prepare(result.config).extra["table"]
    predicted = model.predict(table.x_test.astype(np.float32))  # raw rows in, values in the target's units out
    assert predicted.shape == table.y_test.shape
    assert np.abs(predicted - table.y_test).mean() == pytest.approx(result.metrics["test_mae"], abs=1e-2)


class _Raise(Callback):
    def __init__(self, exc: BaseException, hook: str):
        self.exc, self.hook = exc, hook

    def on_epoch_end(self, trainer, epoch, logs):
        if self.hook == "on_epoch_end":
            raise self.exc

    def on_run_end(self, trainer, metrics):  # after training, while the run directory is finished
        if self.hook == "on_run_end":
            raise self.exc


@pytest.mark.parametrize("exc, hook, status", [(RuntimeError("disk on fire"), "on_epoch_end", "FAILED"),
                                               (Interrupted("SIGTERM"), "on_epoch_end", "KILLED"),
                                               (OSError("disk full"), "on_run_end", "FAILED")])
def test_a_run_that_raises_ends_its_mlflow_run_failed_or_killed(tmp_path, exc, hook, status):
    recipe = {**DIGITS, "train": {**DIGITS["train"], "loggers": ["mlflow"], "checkpoint": {"enabled": False}}}
    with pytest.raises(type(exc)):
        run(recipe, tmp_path / "run", callbacks=[_Raise(exc, hook)])
    _, logged, _ = _mlflow_run(tmp_path / "run")
    assert logged.info.status == status  # not RUNNING forever
    # a logger failing once metrics.json is written leaves a complete run, not one marked failed as well
    assert (tmp_path / "run" / "failed.json").is_file() == (status == "FAILED" and hook != "on_run_end")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "[" * 100_000 + "]" * 100_000])
def test_a_resumed_run_whose_mlflow_json_is_damaged_logs_into_a_new_mlflow_run(tmp_path, text):
    """Before: json.loads of a damaged mlflow.json (or .get on a list, RecursionError on deep nesting)
    escaped from the logger's on_train_begin as a traceback when the run was resumed."""
    from types import SimpleNamespace

    from nnforge.config import load_config
    from nnforge.train.tracking.mlflow_logger import MLflowLogger

    out = tmp_path / "run"
    out.mkdir()
    (out / "mlflow.json").write_text(text)
    logger = MLflowLogger(out, load_config(None, ["train.loggers=[mlflow]"]))
    logger.on_train_begin(SimpleNamespace(resumed=True, epochs=1))
    try:
        assert logger.run_id and logger.client.get_run(logger.run_id).info.status == "RUNNING"
    finally:
        logger.client.set_terminated(logger.run_id)
