"""Training: the loop, callbacks, losses, optimizers and schedules, and ``fit(config) -> Run``."""

from nnforge.train.callbacks import Callback
from nnforge.train.fit import Prepared, Run, fit, prepare
from nnforge.train.loop import Trainer

__all__ = ["Callback", "Prepared", "Run", "Trainer", "fit", "prepare"]
