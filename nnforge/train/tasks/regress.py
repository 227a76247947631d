"""``task: regress``: one number (or several) from a table row, judged by MAE, RMSE and R².

The seed's first example (a house's price from its features) and its loss (MSE, section 2.1).
Inputs and target are standardised with statistics of the training part only; the network learns
the standardised target, and every score and prediction is turned back into the target's own
units. Two baselines any useful model must beat stand beside the model in ``metrics.json``:
predicting the training mean, and scikit-learn's ``LinearRegression`` on the same rows. The run
directory gets ``regression.png`` (predicted against true, residuals against prediction, the
error histogram) and ``curves.png``; ``model.json`` holds both scalers, so ``nnforge predict``,
``serve`` and ``export`` work from the run directory alone. The best epoch by the monitor is kept;
``final_val_rmse`` is its validation RMSE (the saved model's), ``best_val_rmse`` the lowest of any epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnforge.data import TensorLoader
from nnforge.data.registry import load_table
from nnforge.report import plot_curves
from nnforge.report.regression import plot_regression
from nnforge.rundir import save_model
from nnforge.train.keys import LOOP, OPTIMIZATION, keys
from nnforge.train.tasks.base import LossSpec, Task, TaskData
from nnforge.version import __version__


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² (scikit-learn's, averaged uniformly over targets) in the target's units."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    return {"mae": float(mean_absolute_error(truth, pred)), "rmse": float(np.sqrt(mean_squared_error(truth, pred))),
            "r2": float(r2_score(truth, pred)) if len(truth) > 1 else float("nan")}


def standardised_loss(name: str, diff: np.ndarray) -> float:
    """The training loss on standardised residuals, as the engines compute it (huber's delta = 1)."""
    a = np.abs(diff.astype(np.float64))
    if name == "l1":
        return float(a.mean())
    if name == "huber":
        return float(np.where(a < 1.0, 0.5 * a * a, a - 0.5).mean())
    return float((a * a).mean())


class Regress(Task):
    name = "regress"
    implements = (LOOP | keys("", "deterministic device") | keys("data", "name target batch_size eval_batch_size val_fraction normalize")
                  | keys("train.loss", "name") | OPTIMIZATION | keys("train", "freeze unfreeze_epoch precision compile"))
    accepts = {"train.loss.name": ("mse", "l1", "huber"), "train.monitor": ("val_loss", "train_loss")}
    metrics = ("mae", "mse")  # per batch, in the target's units; val_ also gets rmse and r2
    keeps_best_epoch = True

    def prepare(self, recipe, device) -> TaskData:
        data = recipe.data
        table = load_table(data, recipe.seed).encoded_with(self.encoding)
        table = table.fold(*self.fold, recipe.seed) if self.fold else table.split_validation(data.val_fraction, recipe.seed)
        x_mean = table.x_train.mean(0) if data.normalize else np.zeros(table.x_train.shape[1], np.float32)
        x_std = np.maximum(table.x_train.std(0), 1e-6) if data.normalize else np.ones(table.x_train.shape[1], np.float32)
        self.y_mean = table.y_train.mean(0).astype(np.float32)
        self.y_std = np.maximum(table.y_train.std(0), 1e-6).astype(np.float32)
        self.loss_name = recipe.train.loss.name

        def tensors(x, y):
            return (torch.from_numpy(((x - x_mean) / x_std).astype(np.float32)).to(device),
                    torch.from_numpy(((y - self.y_mean) / self.y_std).astype(np.float32)).to(device))

        train = TensorLoader(*tensors(table.x_train, table.y_train), data.batch_size, shuffle=True,
                             generator=torch.Generator().manual_seed(recipe.seed))
        val = TensorLoader(*tensors(table.x_val, table.y_val), data.eval_batch_size) if table.x_val is not None else None
        test = TensorLoader(*tensors(table.x_test, table.y_test), data.eval_batch_size)
        extra = {"table": table, "x_mean": x_mean.astype(np.float32).tolist(), "x_std": x_std.astype(np.float32).tolist()}
        return TaskData(train, val, test, (table.x_train.shape[1],), table.y_train.shape[1], "tabular", device, extra=extra)

    def loss_spec(self, recipe, data: TaskData) -> LossSpec:
        return LossSpec("regress", recipe.train.loss.name, data.num_outputs)

    def batch_metrics(self, out, y) -> dict[str, float]:
        if isinstance(out, torch.Tensor):
            d = (out.float() - y) * torch.as_tensor(self.y_std, device=out.device)
            return {"mae": float(d.abs().mean(1).sum()), "mse": float((d * d).mean(1).sum())}
        d = (np.asarray(out, np.float64) - y) * self.y_std
        return {"mae": float(np.abs(d).mean(1).sum()), "mse": float((d * d).mean(1).sum())}

    def to_units(self, outputs: np.ndarray) -> np.ndarray:
        return np.asarray(outputs, np.float64) * self.y_std + self.y_mean

    def evaluate(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        s = scores(self.to_units(outputs), self.to_units(targets))
        return {"loss": standardised_loss(self.loss_name, outputs - targets), "mae": s["mae"], "mse": s["rmse"] ** 2,
                "rmse": s["rmse"], "r2": s["r2"]}

    def finish(self, recipe, engine, data: TaskData, history, out: Path, train_seconds, kept=None) -> dict:
        from sklearn.linear_model import LinearRegression

        table = data.extra["table"]
        outputs, targets = engine.predict(data.test)
        pred, truth = self.to_units(outputs), table.y_test.astype(np.float64)
        ours = scores(pred, truth)
        mean_pred = np.broadcast_to(table.y_train.mean(0), truth.shape)
        linear = LinearRegression().fit(table.x_train, table.y_train).predict(table.x_test)
        baselines = {"training_mean": scores(mean_pred, truth), "linear_regression": scores(linear, truth)}
        model = engine.torch_model()
        r = lambda d: {k: round(v, 4) for k, v in d.items()}  # noqa: E731
        metrics = {
            "task": "regress",
            "test_mae": round(ours["mae"], 4), "test_rmse": round(ours["rmse"], 4), "test_r2": round(ours["r2"], 4),
            "test_loss": round(standardised_loss(self.loss_name, outputs - targets), 6),
            "baselines": {k: r(v) for k, v in baselines.items()},
            "targets": table.target_names,
            "train_seconds": round(train_seconds, 3), "epochs": len(history),
            "best_val_rmse": min((h["val_rmse"] for h in history if h.get("val_rmse") is not None), default=None),
            # the saved weights' (the epoch kept by train.monitor): with l1, huber, several targets or train_loss
            # watched, the epoch of the lowest val_rmse above is often another one
            "final_val_rmse": (kept or history[-1]).get("val_rmse") if history else None,
            "parameters": sum(p.numel() for p in model.parameters()),
            "dataset": table.describe(),
        }
        if truth.shape[1] > 1:
            metrics["per_target"] = {n: r(scores(pred[:, i], truth[:, i])) for i, n in enumerate(table.target_names)}
        meta = {"nnforge_version": __version__, "engine": recipe.engine, "task": "regress", "model": recipe.model.to_dict(),
                "kind": "tabular", "input_shape": [table.x_train.shape[1]], "num_classes": truth.shape[1],
                "classes": table.target_names, "dataset": recipe.data.name,
                "target": {"names": table.target_names, "mean": self.y_mean.tolist(), "std": self.y_std.tolist()},
                "preprocessing": {"kind": "tabular", "input_shape": [table.x_train.shape[1]], "mean": data.extra["x_mean"],
                                  "std": data.extra["x_std"], "feature_names": table.feature_names}}
        if table.encoding:  # text columns and missing cells: predict, eval and serve encode raw rows the same way
            meta["preprocessing"]["encoding"] = table.encoding
        save_model(out, model, meta)
        if not self.pictures:
            return metrics
        if history:
            plot_curves(history, out / "curves.png", f"{recipe.model['name']} on {recipe.data.name}", "mse",
                        metric_label="RMSE (target units)", transform=np.sqrt, loss_label="loss (standardised target)")
        plot_regression(pred, truth, table.target_names, out / "regression.png",
                        f"{recipe.model['name']} on {recipe.data.name}: test RMSE {ours['rmse']:.3g}, R² {ours['r2']:.3f}")
        return metrics

    def summary(self, m: dict) -> str:
        b = m["baselines"]
        return (f"test RMSE {m['test_rmse']:.4g}  MAE {m['test_mae']:.4g}  R² {m['test_r2']:.3f} on {m['dataset']}\n"
                f"baselines: training mean RMSE {b['training_mean']['rmse']:.4g}; linear regression RMSE "
                f"{b['linear_regression']['rmse']:.4g} (R² {b['linear_regression']['r2']:.3f})\n"
                f"trained in {m['train_seconds']:.1f} s")
