"""``scratch.optim``: optimizers and learning-rate schedules with PyTorch's update rules."""
from . import lr_scheduler
from .adaptive import Adagrad, Adam, AdamW, RMSprop
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
