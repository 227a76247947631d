"""One tab's training: the points, the scratch network, its optimiser and the mini-batch loop.

``step()`` is one mini-batch, written as plainly as the code ``export.python_code`` shows the
learner; a test runs that shown code and checks it lands on bit-identical weights. Batches are a
fresh seeded permutation of the training points each epoch, the last one possibly short
(``DataLoader(shuffle=True)``'s behaviour). L1 adds ``l1 * sign(w)`` to each weight matrix's
gradient after backward, as a recipe's ``train.l1`` does; L2 is the optimiser's weight decay.
"""

from __future__ import annotations

import math

import numpy as np

from nnforge import scratch
from nnforge.data.sources.toy2d import DataSpec, make_dataset
from nnforge.playground.network import NetSpec, build_model, build_optimizer
from nnforge.scratch.nn import functional as F


class TrainingSession:
    """A network being trained on one dataset; ``reset()`` puts back the start exactly."""

    def __init__(self, data: DataSpec | None = None, net: NetSpec | None = None):
        self.configure(data or DataSpec(), net or NetSpec())

    def configure(self, data: DataSpec, net: NetSpec) -> None:
        """New settings: new points (if the data changed) and a fresh network."""
        if getattr(self, "data", None) != data:
            self.points = make_dataset(data)
        self.data, self.net = data, net
        self.reset()

    def reset(self) -> None:
        self.model = build_model(self.net, len(self.data.features), seed=self.data.seed)
        self.optimizer = build_optimizer(self.net, self.model.parameters())
        self.order_rng = np.random.default_rng(self.data.seed)
        self.order = np.arange(len(self.points.y_train))
        self.steps = 0
        self.batch_loss: float | None = None

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.points.y_train) / self.net.batch_size)

    @property
    def epoch(self) -> float:
        """Epochs done, fractional: steps / batches per epoch."""
        return self.steps / self.batches_per_epoch

    def step(self) -> float:
        """Train on the next mini-batch; returns its loss (before the update)."""
        x, y, size = self.points.x_train, self.points.y_train, self.net.batch_size
        i = self.steps % self.batches_per_epoch
        if i == 0:
            self.order = self.order_rng.permutation(len(y))
        idx = self.order[i * size:(i + 1) * size]
        loss = F.cross_entropy(self.model(scratch.tensor(x[idx], dtype=scratch.float64)), y[idx])
        self.optimizer.zero_grad()
        loss.backward()
        if self.net.l1:
            for p in self.model.parameters():
                if p.ndim > 1:
                    p.grad.data += self.net.l1 * np.sign(p.data)
        self.optimizer.step()
        self.steps += 1
        self.batch_loss = loss.item()
        return self.batch_loss

    def losses(self) -> tuple[float, float]:
        """Cross-entropy on all training and all test points (no penalty term)."""
        with scratch.no_grad():
            return tuple(F.cross_entropy(self.model(scratch.tensor(x, dtype=scratch.float64)), y).item()
                         for x, y in ((self.points.x_train, self.points.y_train), (self.points.x_test, self.points.y_test)))
