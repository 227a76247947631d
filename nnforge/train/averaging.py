"""Weight averaging: an exponential moving average of the weights (``train.ema``) and stochastic
weight averaging (``train.swa``), both with :mod:`torch.optim.swa_utils`.

**EMA** keeps ``average = decay * average + (1 - decay) * weights`` every ``every`` optimizer
steps (the first update copies the weights; BatchNorm statistics are averaged too). Validation
and the test split are evaluated with the average and the run directory saves it, while the
checkpoint keeps the raw weights beside the average, so a resumed run continues both.

**SWA** (Izmailov et al., 2018) trains from ``start_epoch`` on at a constant learning rate
(``lr``, default ``optimizer.lr``; it overrides the schedule) and averages the weights at the end
of each of those epochs with equal weight. BatchNorm statistics of an average of weights are not
the average of the statistics, so at the end they are recomputed by one pass over the training
batches (``update_bn``) before the model is evaluated and saved. Validation during training sees
the raw weights.

Both are torch-engine techniques; a best epoch chosen by early stopping or ``save_best`` would be
a raw epoch, so they are refused together (:func:`check_averaging`).
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from nnforge.errors import ConfigError
from nnforge.train.accumulate import stepped
from nnforge.train.callbacks import Callback


def check_averaging(recipe) -> None:
    """One-line refusal of combinations whose result would be ambiguous."""
    train = recipe.train
    ema, swa = train.ema.decay is not None, train.swa.start_epoch > 0
    if ema and swa:
        raise ConfigError("'train.ema' and 'train.swa' both average the weights; choose one")
    if not (ema or swa):
        return
    which = "train.ema" if ema else "train.swa"
    if ema and train.ema.decay >= 1:  # the average would stay the initial weights, and evaluation and the saved model use it
        raise ConfigError(f"'train.ema.decay' is {train.ema.decay}; the average would never move from the untrained weights; "
                          "accepted: a decay below 1 (e.g. 0.99)")
    if train.early_stopping.patience or train.save_best:
        raise ConfigError(f"'{which}' saves the averaged weights, while early stopping and save_best keep a raw epoch's; "
                          "use one or the other")
    if swa and train.swa.start_epoch > train.epochs:
        raise ConfigError(f"'train.swa.start_epoch' is {train.swa.start_epoch}, after the last epoch ({train.epochs}); "
                          "nothing would be averaged")


class EMA(Callback):
    """Exponential moving average of the weights; evaluation and the saved model use it."""

    def __init__(self, decay: float, every: int = 1):
        self.decay, self.every = decay, every
        self.average: AveragedModel | None = None
        self.steps = 0
        self._raw: dict | None = None

    def on_train_begin(self, trainer):
        if self.average is None:
            self.average = AveragedModel(trainer.engine.torch_model(), multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)

    def on_batch_end(self, trainer, step, logs):
        if stepped(trainer, step, logs):
            self.steps += 1
            if self.steps % self.every == 0:
                self.average.update_parameters(trainer.engine.torch_model())

    def on_validation_begin(self, trainer):
        if int(self.average.n_averaged):
            self._raw = trainer.engine.snapshot()
            trainer.engine.torch_model().load_state_dict(self.average.module.state_dict())

    def on_validation_end(self, trainer):
        if self._raw is not None:
            trainer.engine.restore(self._raw)
            self._raw = None

    def on_train_end(self, trainer):
        if int(self.average.n_averaged):  # the test split and the run directory get the average
            trainer.engine.torch_model().load_state_dict(self.average.module.state_dict())

    def state_dict(self) -> dict:
        return {"average": dict(self.average.state_dict()), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state["average"])
        self.steps = state["steps"]


class SWA(Callback):
    """Stochastic weight averaging from ``start_epoch`` (1-based) at a constant ``lr``; BatchNorm recomputed at the end."""

    def __init__(self, start_epoch: int, lr: float, train_batches):
        self.start, self.lr, self.batches = start_epoch, lr, train_batches
        self.average: AveragedModel | None = None
        self.averaged_epoch = -1

    def on_train_begin(self, trainer):
        if self.average is None:
            self.average = AveragedModel(trainer.engine.torch_model())

    def _active(self, epoch: int) -> bool:
        return epoch + 1 >= self.start

    def on_epoch_begin(self, trainer, epoch):
        if self._active(epoch):
            trainer.engine.set_lr(self.lr)

    def on_batch_end(self, trainer, step, logs):
        if self._active(trainer.epoch):
            trainer.engine.set_lr(self.lr)  # after the schedule's own per-batch step

    def _add(self, trainer, epoch: int) -> None:
        """Average in the epoch's weights, once an epoch."""
        if self._active(epoch) and self.averaged_epoch != epoch:
            self.average.update_parameters(trainer.engine.torch_model())
            self.averaged_epoch = epoch

    def on_validation_begin(self, trainer):  # the epoch's weights, before any other callback sees the epoch's end
        self._add(trainer, trainer.epoch)

    def on_epoch_end(self, trainer, epoch, logs):  # no validation split
        self._add(trainer, epoch)

    def on_train_end(self, trainer):
        if not int(self.average.n_averaged):
            return
        model = trainer.engine.torch_model()
        model.load_state_dict(self.average.module.state_dict())
        with torch.no_grad():
            update_bn((trainer.engine.batch(xb, yb)[0] for xb, yb in self.batches), model)

    def state_dict(self) -> dict:
        return {"average": dict(self.average.state_dict()), "averaged_epoch": self.averaged_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state["average"])
        self.averaged_epoch = state["averaged_epoch"]
