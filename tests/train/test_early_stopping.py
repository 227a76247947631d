"""Early stopping stops when validation stops improving and restores the best weights;
the best-model checkpoint and the CSV log are written alongside."""

import csv

import pytest
import torch

from nnforge.rundir import load_state
from nnforge.train import fit
from nnforge.train.evaluate import evaluate
from nnforge.train import prepare

from .conftest import fast_config


def test_early_stopping_stops_and_restores_best_weights(tmp_path):
    cfg = fast_config("train.epochs=60", "data.val_fraction=0.2", "train.early_stopping.patience=3",
                      "train.save_best=true", "train.log_csv=true")
    run = fit(cfg, tmp_path / "run")
    losses = [h["val_loss"] for h in run.history]
    best_epoch = losses.index(min(losses)) + 1
    # it stopped long before 60 epochs, exactly `patience` epochs after the best one
    assert len(run.history) < 60
    assert len(run.history) == best_epoch + 3
    assert all(v >= min(losses) for v in losses[best_epoch:])
    # the model holds the best epoch's weights: its validation loss is the best one, not the last
    val = evaluate(run.model, prepare(cfg).val)
    assert abs(val.loss - min(losses)) < 1e-4
    assert val.loss < losses[-1]
    # best_model.safetensors holds the same weights; metrics.csv has one row per epoch
    best = load_state(run.dir / "best_model.safetensors")
    assert all(torch.equal(best[k], v) for k, v in run.model.state_dict().items())
    rows = list(csv.DictReader((run.dir / "metrics.csv").open()))
    assert len(rows) == len(run.history) and abs(float(rows[0]["val_loss"]) - losses[0]) < 1e-9


def test_defaults_keep_every_technique_off(tmp_path):
    run = fit(fast_config("train.epochs=2"), tmp_path / "run")
    assert len(run.history) == 2
    assert not (run.dir / "metrics.csv").exists() and not (run.dir / "best_model.safetensors").exists()
    assert not (run.dir / "grad_norms.jsonl").exists()


def test_metrics_json_describes_the_restored_epoch_not_the_last_one(tmp_path):
    """Before: final_val_accuracy and final_train_accuracy were the last epoch's, while restore_best
    saved the best epoch's weights, so metrics.json disagreed with the model beside it."""
    import nnforge
    from nnforge.rundir import read_history, read_metrics
    from nnforge.train import run as train_run

    cfg = fast_config("train.epochs=20", "train.optimizer.lr=0.05", "data.val_fraction=0.2", "train.early_stopping.patience=1",
                      "train.log_csv=true", "train.checkpoint.enabled=false")
    run = train_run(cfg, tmp_path / "run", pictures=False)
    history = read_history(run.dir)
    kept = min(history, key=lambda h: h["val_loss"])
    assert kept is not history[-1] and kept["val_accuracy"] != history[-1]["val_accuracy"]  # the test can tell them apart
    metrics = read_metrics(run.dir)
    assert metrics["final_val_accuracy"] == kept["val_accuracy"]
    assert metrics["final_train_accuracy"] == kept["train_accuracy"]
    row = next(r for r in csv.DictReader((run.dir / "metrics.csv").open()) if int(r["epoch"]) == kept["epoch"])
    assert float(row["val_accuracy"]) == metrics["final_val_accuracy"]
    # the saved weights score exactly that on the validation split
    saved = evaluate(nnforge.load(run.dir).model, prepare(cfg).val)
    assert saved.accuracy == pytest.approx(metrics["final_val_accuracy"], abs=1e-12)
    assert saved.loss == pytest.approx(kept["val_loss"], abs=1e-6)
