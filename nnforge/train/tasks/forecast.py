"""``task: forecast``: a real time series, predicted ``forecast.horizon`` steps ahead.

The series is standardised with the mean and std of its training part only, cut into windows
(``forecast.window`` past values -> the next ``forecast.horizon``), and split in time: windows
whose targets fall in the last ``forecast.test_fraction`` of the series form the test set, the
latest ``data.val_fraction`` of the windows whose targets all precede it the validation set (with
``horizon`` > 1, a window whose targets reach from one part into the next is left out). The model trained with MSE is compared with the
naive forecast (repeat the last observed value), which any useful model must beat;
``forecast.png`` draws both against the truth. The weights of the best epoch (validation loss,
else training loss) are kept, as a forecaster is usually chosen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnforge.data import TensorLoader
from nnforge.data.series import load_series, split_windows, windows
from nnforge.errors import ConfigError
from nnforge.report.plots import plot_forecast
from nnforge.rundir import save_model
from nnforge.train.keys import GUARDS, LOOP, OPTIMIZATION, keys
from nnforge.train.tasks.base import LossSpec, Task, TaskData


def _errors(pred: np.ndarray, truth: np.ndarray) -> dict:
    err = pred - truth
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean()))}


class Forecast(Task):
    name = "forecast"
    # a series has no classes, images or table columns: no augmentation, sampling, class weights, image sizes;
    # no distillation (no classes), no weight averaging (it keeps its best epoch), no fast_dev_run (its
    # test split is judged as a whole)
    implements = (LOOP | keys("", "deterministic device") | keys("data", "name batch_size eval_batch_size val_fraction")
                  | keys("forecast", "window horizon test_fraction") | keys("train.loss", "name")
                  | OPTIMIZATION | keys("train", "freeze unfreeze_epoch precision compile") | (GUARDS - keys("train", "fast_dev_run")))
    accepts = {"train.loss.name": ("mse",), "train.monitor": ("val_loss", "train_loss")}
    keeps_best_epoch = True  # a forecaster is chosen by its best validation epoch

    @staticmethod
    def check_model(model_cfg) -> None:
        if model_cfg["name"] not in ("lstm", "gru"):
            raise ConfigError(f"task=forecast needs a sequence model (model.name lstm or gru), got '{model_cfg['name']}'")

    def prepare(self, recipe, device) -> TaskData:
        fc, data = recipe.forecast, recipe.data
        series = load_series(data.name)
        x, y, starts = windows(series.values, fc.window, fc.horizon)
        tr, va, te, test_start = split_windows(len(series.values), starts, fc.test_fraction, data.val_fraction,
                                                horizon=fc.horizon)
        if te.sum() < 1:
            held = len(series.values) - test_start
            raise ConfigError(f"forecast.test_fraction {fc.test_fraction} holds out {held} of the {len(series.values)} values of "
                              f"'{series.name}', fewer than forecast.horizon {fc.horizon}: no test window; raise forecast.test_fraction")
        if tr.sum() < 2:
            raise ConfigError(f"series '{series.name}' ({len(series.values)} values) leaves too few windows; "
                              "lower forecast.window or forecast.test_fraction")
        train_part = series.values[:test_start]
        mean, std = float(train_part.mean()), float(train_part.std() or 1.0)
        xs, ys = (torch.from_numpy((a - mean) / std).to(device) for a in (x, y))

        def loader(mask, **kw):
            m = torch.from_numpy(mask).to(xs.device)
            return TensorLoader(xs[m], ys[m], **kw) if mask.any() else None

        train = loader(tr, batch_size=data.batch_size, shuffle=True, generator=torch.Generator().manual_seed(recipe.seed))
        val = loader(va, batch_size=data.eval_batch_size)
        test = loader(te, batch_size=data.eval_batch_size)
        extra = {"series": series, "mean": mean, "std": std, "x": x, "y": y, "starts": starts, "masks": (tr, va, te),
                 "test_start": test_start}
        return TaskData(train, val, test, (fc.window, 1), fc.horizon, "sequence", device, extra=extra)

    def loss_spec(self, recipe, data: TaskData) -> LossSpec:
        return LossSpec("regress", "mse", data.num_outputs)

    def evaluate(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        return {"loss": float(((outputs.astype(np.float64) - targets) ** 2).mean())}

    def finish(self, recipe, engine, data: TaskData, history, out: Path, train_seconds, kept=None) -> dict:
        e, fc = data.extra, recipe.forecast
        series, mean, std = e["series"], e["mean"], e["std"]
        tr, va, te = e["masks"]
        outputs, _ = engine.predict(data.test)
        pred = outputs * std + mean
        truth = e["y"][te]
        naive = np.repeat(e["x"][te][:, -1, :], fc.horizon, axis=1)
        ours, base = _errors(pred, truth), _errors(naive, truth)
        model = engine.torch_model()
        metrics = {
            "task": "forecast",
            "series": series.name,
            "test_mae": round(ours["mae"], 4), "test_rmse": round(ours["rmse"], 4),
            "naive_mae": round(base["mae"], 4), "naive_rmse": round(base["rmse"], 4),
            "skill_vs_naive": round(1 - ours["mae"] / base["mae"], 4) if base["mae"] else None,
            "test_windows": int(te.sum()), "train_windows": int(tr.sum()), "val_windows": int(va.sum()),
            "test_from": float(series.times[e["test_start"]]),
            "train_seconds": round(train_seconds, 3), "epochs": len(history),
            "parameters": sum(p.numel() for p in model.parameters()),
            "dataset": f"{series.name}: {len(series.values)} values, window {fc.window}, horizon {fc.horizon}",
        }
        meta = {"engine": recipe.engine, "task": "forecast", "model": recipe.model.to_dict(), "kind": "sequence",
                "input_shape": [fc.window, 1], "num_classes": fc.horizon, "classes": [],
                "dataset": series.name, "series": {"mean": mean, "std": std, "window": fc.window, "horizon": fc.horizon},
                "preprocessing": {"kind": "tabular", "input_shape": [fc.window, 1], "mean": [mean], "std": [std]}}
        save_model(out, model, meta)
        if self.pictures:
            steps = f" over steps 1-{fc.horizon} (drawn: 1 step ahead)" if fc.horizon > 1 else ""  # the lines show pred[:, 0]
            plot_forecast(series, e["starts"][te], pred[:, 0], naive[:, 0], history, out / "forecast.png",
                          f"{recipe.model['name']} forecast of {series.name}: MAE {ours['mae']:.2f} vs naive {base['mae']:.2f}{steps}")
        return metrics

    def summary(self, m: dict) -> str:
        return (f"{m['series']}: test MAE {m['test_mae']:.2f} (RMSE {m['test_rmse']:.2f}) vs naive last-value MAE "
                f"{m['naive_mae']:.2f} (RMSE {m['naive_rmse']:.2f}); skill {m['skill_vs_naive']:+.1%}\n"
                f"trained in {m['train_seconds']:.1f} s")
