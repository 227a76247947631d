"""What happens to the gradients between backward and the optimizer step: the L1 penalty, clipping
by norm or value, per-layer norms, and vanishing/exploding warnings.

L2 is the optimizer's ``weight_decay``; L1 is :class:`L1Penalty`. Its (sub)gradient ``l1 * sign(w)``
is added to the weights' gradients after backward — the same update as adding ``l1 * sum(|w|)`` to
the loss, without a second pass over the parameters in the forward. Only weight matrices and
kernels are penalised (parameters with 2+ dimensions): biases and normalisation scales are left
alone, as is usual. It runs before :class:`GradientControl`, so the penalty is measured and clipped
with the rest of the gradient.

:class:`GradientControl` runs after every backward pass. It measures each layer's gradient norm *before*
clipping (what the network actually produced), warns once per layer and kind when a norm is
below ``vanish_below`` or above ``explode_above`` (or not finite), then clips. Per-layer norms
averaged over each epoch go to ``grad_norms.jsonl``.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from pathlib import Path

import torch

from nnforge import io
from nnforge.train.callbacks import Callback


class GradientWarning(UserWarning):
    """A layer's gradients vanished or exploded."""


def layer_grad_norms(model: torch.nn.Module) -> dict[str, float]:
    """L2 norm of the gradient of each layer (parameters grouped by their module's name)."""
    squares: dict[str, float] = defaultdict(float)
    named = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    if not named:
        return {}
    norms = torch._foreach_norm([p.grad.float() for _, p in named])
    for (name, _), norm in zip(named, torch.stack(norms).tolist()):
        squares[name.rsplit(".", 1)[0]] += norm * norm
    return {layer: math.sqrt(s) for layer, s in squares.items()}


class L1Penalty(Callback):
    def __init__(self, strength: float):
        self.strength = strength

    def on_after_backward(self, trainer):
        trainer.engine.add_l1_grad(self.strength)


class GradientControl(Callback):
    def __init__(self, clip_norm: float | None = None, clip_value: float | None = None, log_path: str | Path | None = None,
                 check: bool = False, vanish_below: float = 1e-7, explode_above: float = 1e3):
        self.clip_norm, self.clip_value = clip_norm, clip_value
        self.log_path = Path(log_path) if log_path else None
        self.check, self.vanish_below, self.explode_above = check, vanish_below, explode_above
        self.warned: set[tuple[str, str]] = set()
        self.sums: dict[str, float] = {}  # a plain dict: the checkpoint restores it as one
        self.count = 0
        self.max_norm_after_clip = 0.0
        self.epoch_norms: dict[str, float] = {}

    def on_train_begin(self, trainer):
        if self.log_path and not trainer.resumed:
            self.log_path.unlink(missing_ok=True)

    def on_after_backward(self, trainer):
        engine = trainer.engine
        if self.log_path or self.check:
            norms = engine.grad_norms()
            if self.log_path:
                for layer, n in norms.items():
                    self.sums[layer] = self.sums.get(layer, 0.0) + n
                self.count += 1
            if self.check:
                self._check(norms, trainer.global_step + 1)
        if self.clip_value is not None:
            engine.clip_grad_value(self.clip_value)
        if self.clip_norm is not None:
            engine.clip_grad_norm(self.clip_norm)
        if self.clip_norm is not None or self.clip_value is not None:
            self.max_norm_after_clip = max(self.max_norm_after_clip, engine.total_grad_norm())

    def _check(self, norms: dict[str, float], step: int) -> None:
        for layer, n in norms.items():
            if not math.isfinite(n) or n > self.explode_above:
                kind, why = "exploding", f"norm {n:.3g} > {self.explode_above:g}"
            elif n < self.vanish_below:
                kind, why = "vanishing", f"norm {n:.3g} < {self.vanish_below:g}"
            else:
                continue
            if (layer, kind) not in self.warned:
                self.warned.add((layer, kind))
                warnings.warn(f"gradients {kind} in layer '{layer}' at step {step}: {why}", GradientWarning, stacklevel=2)

    def on_epoch_end(self, trainer, epoch, logs):
        self.epoch_norms = {k: v / self.count for k, v in self.sums.items()} if self.count else {}  # loggers read it
        if self.log_path and self.count:
            io.append_jsonl(self.log_path, {"epoch": epoch + 1, "layers": self.epoch_norms})
        self.sums.clear()
        self.count = 0
