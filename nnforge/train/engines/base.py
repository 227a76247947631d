"""What an engine is: the adapter the one :class:`~nnforge.train.trainer.Trainer` drives.

An engine owns the model it trains, its optimizer, learning-rate schedule and loss, and does the
five things a training step needs — ``forward``, ``loss``, ``backward``, ``step``, ``zero_grad`` —
plus what callbacks need to act on any engine the same way: gradient norms and clipping, the
non-finite check, weight snapshots, ``state_dict``/``load_state_dict`` for checkpoints, and
``torch_model()``, the trained network as a torch module (what the run directory saves and serves).

Each engine also declares, as an allow-list, the recipe keys it implements (:data:`Engine.implements`).
:func:`nnforge.train.keys.check_recipe` refuses any key set away from its default that the
engine (or the task) does not list, before a run folder exists.
"""

from __future__ import annotations

from typing import Any


class Engine:
    """The interface; see :class:`~nnforge.train.engines.torch_engine.TorchEngine` for the reference."""

    name: str = ""
    #: recipe keys (dotted paths, or section prefixes ending in ``.*``) this engine implements
    implements: frozenset[str] = frozenset()
    #: keys implemented only for some values: ``{path: (accepted values...)}``
    accepts: dict[str, tuple] = {}
    model: Any = None
    device: Any = None

    # the step
    def batch(self, xb, yb):  # the loader's CPU tensors in this engine's own form
        raise NotImplementedError

    def forward(self, x): raise NotImplementedError
    def loss(self, out, y): raise NotImplementedError
    def backward(self, loss) -> None: raise NotImplementedError
    def step(self) -> None: raise NotImplementedError
    def zero_grad(self) -> None: raise NotImplementedError
    def item(self, loss) -> float: raise NotImplementedError
    def outputs(self, out): raise NotImplementedError  # detached outputs that support argmax/== (torch or NumPy)
    def train_mode(self, training: bool) -> None: raise NotImplementedError
    def predict(self, batches) -> tuple[Any, Any]: raise NotImplementedError  # (outputs, targets) as NumPy

    # the schedule
    def batch_end(self) -> None: ...
    def epoch_end(self, logs: dict) -> None: ...
    def lr(self) -> float: raise NotImplementedError
    def set_lr(self, lr: float) -> None: raise NotImplementedError

    # what callbacks act on
    def grad_norms(self) -> dict[str, float]: raise NotImplementedError
    def clip_grad_norm(self, max_norm: float) -> float: raise NotImplementedError
    def clip_grad_value(self, value: float) -> None: raise NotImplementedError
    def grads_finite(self) -> bool: raise NotImplementedError
    def weights_finite(self) -> bool: raise NotImplementedError
    def add_l1_grad(self, strength: float) -> None: raise NotImplementedError
    def set_trainable(self, names, trainable: bool) -> None: raise NotImplementedError
    def snapshot(self) -> dict: raise NotImplementedError  # a copy of the weights
    def restore(self, snapshot: dict) -> None: raise NotImplementedError
    def weights(self) -> dict: raise NotImplementedError  # the weights as torch tensors (for safetensors)

    # checkpoints
    def state_dict(self) -> dict: raise NotImplementedError
    def load_state_dict(self, state: dict) -> None: raise NotImplementedError
    def rng_state(self) -> dict: return {}
    def set_rng_state(self, state: dict) -> None: ...

    # the end
    def torch_model(self): raise NotImplementedError
