"""What a task is: what a run learns, and how it is judged.

A task prepares the data (loaders of CPU or device tensors), builds the torch model for it, says
which loss it trains with (:class:`LossSpec`, which each engine implements), measures batches and
splits, says what "better" means for monitoring, and writes what is particular to it into the run
directory at the end (``metrics.json``, plots, ``model.json``). Like engines, tasks declare the
recipe keys they implement (:data:`implements`, :data:`accepts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnforge.models import build_model


@dataclass(frozen=True)
class LossSpec:
    """The loss a task trains with, in terms every engine can implement.

    ``kind``: ``classify`` (logits against class indices: cross-entropy, focal, or MSE on softmax
    against one-hot), ``regress`` (MSE of the outputs against real targets) or ``contrastive``
    (NT-Xent over a batch of paired views, labels unused).
    """

    kind: str
    name: str
    num_outputs: int
    label_smoothing: float = 0.0
    class_weight: np.ndarray | None = None
    focal_gamma: float = 2.0
    temperature: float = 0.5  # contrastive: NT-Xent's temperature


@dataclass
class TaskData:
    """The loaders a run trains and is judged on, and the shape of its model's inputs and outputs."""

    train: Any
    val: Any | None
    test: Any
    input_shape: tuple
    num_outputs: int
    kind: str
    device: Any = None
    dataset: Any = None  # classify: the split Dataset
    preprocessing: Any = None  # classify: the fitted Preprocessing
    extra: dict = field(default_factory=dict)  # what else a task keeps for its own finish()


class Task:
    name: str = ""
    implements: frozenset[str] = frozenset()
    accepts: dict[str, tuple] = {}
    #: per-batch metrics besides the loss (``accuracy`` for classifiers), logged as train_/val_ NAME
    metrics: tuple[str, ...] = ()
    #: end every run with the weights of its best epoch by the monitor, even without early stopping
    keeps_best_epoch: bool = False
    #: draw the run's pictures in finish(); ``run(..., pictures=False)`` skips them (nnforge.sklearn's
    #: fits, whose run directory is temporary: the plots were over half of a small fit's time)
    pictures: bool = True
    #: (k, K): validate on fold k of K folds of the training split instead of data.val_fraction
    #: (``nnforge tune --cv K``; set through ``run(..., fold=(k, K))``)
    fold: tuple[int, int] | None = None
    #: a saved model's csv encoding (``model.json``'s ``preprocessing.encoding``) to encode the rows with
    #: instead of learning one from the rows that train: re-preparing a run's data (``nnforge compress``)
    #: then gives the model the features it trained on, whichever validation part or fold it held out
    encoding: dict | None = None

    def prepare(self, recipe, device) -> TaskData: raise NotImplementedError
    def loss_spec(self, recipe, data: TaskData) -> LossSpec: raise NotImplementedError

    def build_model(self, recipe, data: TaskData):
        """The zoo model the recipe names, for this data's inputs and outputs."""
        return build_model(recipe.model, data.input_shape, data.num_outputs, data.kind)

    def batch_metrics(self, out, y) -> dict[str, float]:
        """Sums over one batch of each of :data:`metrics` (divided by the epoch's examples later)."""
        return {}

    def evaluate(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """``loss`` and each of :data:`metrics` over a whole split, from the model's outputs."""
        raise NotImplementedError

    def monitor(self, recipe) -> str:
        """The metric that early stopping, best-model saving and plateau schedules watch."""
        return recipe.train.monitor

    def finish(self, recipe, engine, data: TaskData, history: list[dict], out, train_seconds: float,
               kept: dict | None = None) -> dict:
        """Evaluate on the test split and write this task's files; return ``metrics.json``'s content.

        ``kept``: the row of ``history`` whose weights the model holds (the best epoch where the run
        keeps it, :func:`nnforge.train.run.kept_epoch`; None: the last); what ``metrics.json`` says of
        "the final" epoch describes it, so that it agrees with the weights saved."""
        raise NotImplementedError

    def summary(self, metrics: dict) -> str:
        """What the command line prints when a run ends."""
        raise NotImplementedError
