"""What an engine is: the adapter the one :class:`~nnforge.train.trainer.Trainer` drives.

An engine owns the model it trains (``model``), its ``optimizer``, learning-rate schedule and
``loss_fn``, and does what a training step needs — ``batch`` (the loader's CPU tensors in the
engine's own form), ``forward``, ``loss``, ``backward``, ``step``, ``zero_grad``, ``item`` — plus
what callbacks need to act on any engine the same way: ``grad_norms``, ``clip_grad_norm``,
``clip_grad_value``, ``total_grad_norm``, ``grads_finite``, ``weights_finite``, ``add_l1_grad``,
``set_trainable``, ``snapshot``/``restore`` (a copy of the weights), ``weights`` (as torch tensors,
for safetensors), ``predict`` (outputs and targets of a split, as NumPy), ``state_dict`` /
``load_state_dict`` and ``rng_state`` for checkpoints, and ``torch_model()``: the trained network
as a torch module, which is what the run directory saves and serves.

Both engines' optimizers keep torch's ``param_groups`` and both schedules are a
:class:`~nnforge.train.optim.Schedule`, so the step, the learning rate and checkpoint state are
written once, here, over ``network()`` (the model without a DDP or compile wrapper). Each engine declares, key by key, the recipe keys it implements
(``implements``, and ``accepts`` for keys implemented only for some values);
:func:`nnforge.train.keys.check_recipe` refuses any other key set away from its default.
"""

from __future__ import annotations

from typing import Any


class Engine:
    name: str = ""
    implements: frozenset[str] = frozenset()
    accepts: dict[str, tuple] = {}
    model: Any = None
    optimizer: Any = None
    loss_fn: Any = None
    device: Any = None
    schedule: Any = None  # the LR schedule (:class:`nnforge.train.optim.Schedule`)

    def forward(self, x):
        return self.model(x)

    def close(self) -> None:
        """When the run is over (finished or failed): undo what the engine set for the whole process."""

    def loss(self, out, y):
        return self.loss_fn(out, y)

    def backward(self, loss) -> None:
        loss.backward()

    def step(self) -> None:
        self.optimizer.step()

    def item(self, loss) -> float:
        return loss.item()

    def train_mode(self, training: bool) -> None:
        self.model.train(training)

    def batch_end(self) -> None:
        """After each optimizer step (per-batch schedules)."""

    def epoch_end(self, logs: dict) -> None:
        """After each epoch (per-epoch schedules), with the epoch's logs."""
        self.schedule.epoch_end(logs)

    def network(self):
        """The network whose weights train, without a DDP or compile wrapper: what snapshots and checkpoints hold."""
        return self.model

    def restore(self, snapshot: dict) -> None:
        self.network().load_state_dict(snapshot)

    def state_dict(self) -> dict:
        return {"model": self.network().state_dict(), "optimizer": self.optimizer.state_dict(), "scheduler": self.schedule.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.network().load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def set_lr(self, lr: float) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)

    def rng_state(self) -> dict:
        return {}

    def set_rng_state(self, state: dict) -> None:
        """Engines with a random generator of their own restore it here."""
