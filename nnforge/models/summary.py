"""A model's size and cost, layer by layer, measured on its actual forward pass.

:func:`layer_summary` runs the model once on one input under PyTorch's
``torch.utils.flop_counter.FlopCounterMode`` and records each module's output with forward hooks:
multiply-accumulates (MACs, half of the counted FLOPs of matrix products, convolutions and
attention) are attributed to the innermost module that ran them, so a row's MACs are its own and the
rows add up to the whole pass; nothing is looked up in a table of layer formulas that could drift
from the model. Element-wise work (activations, pooling, normalisation) is not a multiply-accumulate
and counts zero, as in every MAC count; fused recurrent kernels (``aten.lstm``/``gru``) are not
counted by FlopCounterMode, and their rows say so (``macs`` is ``None``).

:func:`count_params` and :func:`measure_latency` are the small helpers budgets are made of (an
architecture search can call them directly): latency is measured by the clock, never estimated.
"""

from __future__ import annotations

import inspect
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, _FlopCounterMode

#: module types whose forward may run a fused op FlopCounterMode does not count (LSTM on the CPU; GRU decomposes)
UNCOUNTED = (nn.RNNBase,)


class _EagerDispatch(_FlopCounterMode):
    """torch's FLOP-counting dispatch mode, minus the ``torch._disable_dynamo`` wrapper that
    ``TorchDispatchMode`` puts around every subclass's ``__torch_dispatch__``: the wrapper only
    matters to code compiled under the mode (nothing here compiles), and its first call imports
    ``torch._dynamo``, about 1 s on a 2-core machine that every training run paid when it wrote
    ``summary.json``. The counting is torch's own (the formulas, the module attribution);
    tests/models/test_summary.py checks the counts against FlopCounterMode's."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:  # TorchDispatchMode.__init_subclass__: leave __torch_dispatch__ unwrapped
        return False

    __torch_dispatch__ = inspect.unwrap(_FlopCounterMode.__torch_dispatch__)


class _FlopCounter(FlopCounterMode):
    """FlopCounterMode entering :class:`_EagerDispatch` in place of its own dispatch mode (torch
    2.13's ``__enter__``, with that one class changed)."""

    def __enter__(self):
        self.flop_counts.clear()
        self.mod_tracker.__enter__()
        self.mode = _EagerDispatch(self)
        self.mode.__enter__()
        return self


def count_params(model: nn.Module) -> tuple[int, int]:
    """``(trainable, frozen)`` parameter counts (shared parameters counted once)."""
    trainable = frozen = 0
    for p in model.parameters():
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return trainable, frozen


def measure_latency(model: Callable, input_shape: Sequence[int], batch: int = 1, *, make_input: Callable[[int], Any] | None = None,
                    warmup: int = 1, min_repeats: int = 3, budget_s: float = 0.3) -> float:
    """Seconds per input of ``model`` on a batch of ``batch`` inputs of ``input_shape``, by the clock.

    The model runs ``warmup`` times unmeasured, then at least ``min_repeats`` times and until
    ``budget_s`` has passed; the median call is divided by ``batch``. A torch module runs in eval
    mode under ``torch.inference_mode`` (its mode is restored); any other callable is timed as it is,
    on ``make_input(batch)`` (default: a random float tensor of the shape on the CPU).
    """
    x = make_input(batch) if make_input is not None else torch.rand(batch, *input_shape)
    is_module = isinstance(model, nn.Module)
    was = model.training if is_module else None
    if is_module:
        model.eval()
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            times: list[float] = []
            start = time.perf_counter()
            while len(times) < min_repeats or time.perf_counter() - start < budget_s:
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
    finally:
        if is_module:
            model.train(was)
    return statistics.median(times) / batch


@dataclass
class LayerRow:
    """One module: its own parameters and MACs (its children's are in their rows)."""

    name: str
    type: str
    output_shape: list | None  # for one input (the batch dimension left out); None if it did not run
    trainable: int
    frozen: int
    macs: int | None  # None: the module runs an op the FLOP counter cannot see
    activation_bytes: int  # its outputs for one batch


@dataclass
class ModelSummary:
    rows: list[LayerRow]
    input_shape: list
    batch_size: int
    total_macs: int
    trainable: int
    frozen: int
    activation_bytes: int
    macs_complete: bool = True  # False when a row could not be counted
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _main_output(out) -> torch.Tensor | None:
    """A module's output tensor; of a tuple (a recurrent layer's output and states), the first."""
    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    return out if isinstance(out, torch.Tensor) else None


def _module_macs(counts: dict, root_key: str) -> dict[str, int]:
    """FlopCounterMode's per-module totals (keyed ``ClassName.path``) as MACs by module path."""
    out = {}
    for key, ops in counts.items():
        if key == "Global":
            continue
        path = "" if key == root_key else key[len(root_key) + 1:]
        out[path] = sum(ops.values()) // 2
    return out


def layer_summary(model: nn.Module, input_shape: Sequence[int], batch_size: int = 1,
                  example: torch.Tensor | None = None) -> ModelSummary:
    """The per-layer table of ``model`` for inputs of ``input_shape`` (on the CPU, in eval mode).

    Rows are the modules that ran, in the order they were called, that are leaves or have
    parameters or MACs of their own. ``batch_size`` scales the activation memory (outputs of one
    batch); MACs are for one input. ``example`` replaces the random input (integer token ids,
    say). The model's mode and device are restored.
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was = model.training
    model.eval().cpu()
    names = {m: n for n, m in model.named_modules()}
    order: list[str] = []
    outputs: dict[str, Any] = {}
    hooks = []

    def called(module, args, name):  # hooks return None: a returned value would replace the module's input or output
        if name not in order:
            order.append(name)

    def returned(module, args, out, name):
        outputs.setdefault(name, out)  # a module called twice (one ReLU for every layer) shows its first output

    for module, name in names.items():
        hooks.append(module.register_forward_pre_hook(lambda m, a, n=name: called(m, a, n)))
        hooks.append(module.register_forward_hook(lambda m, a, out, n=name: returned(m, a, out, n)))
    x = example if example is not None else torch.rand(1, *input_shape)
    try:
        with torch.no_grad(), _FlopCounter(display=False) as counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was).to(device)
    total_macs = counter.get_total_flops() // 2
    macs = _module_macs(counter.get_flop_counts(), type(model).__name__)
    modules = dict(model.named_modules())
    rows: list[LayerRow] = []
    for name in order:
        module = modules[name]
        children = [n for n, _ in module.named_children()]
        own_macs = macs.get(name, 0) - sum(macs.get(f"{name}.{c}" if name else c, 0) for c in children)
        own = list(module.parameters(recurse=False))
        trainable = sum(p.numel() for p in own if p.requires_grad)
        frozen = sum(p.numel() for p in own if not p.requires_grad)
        leaf = not children
        if not (leaf or own_macs or own):
            continue
        uncounted = isinstance(module, UNCOUNTED) and own_macs == 0  # a fused kernel (LSTM on the CPU), not zero work
        out = _main_output(outputs.get(name))
        rows.append(LayerRow(name or type(model).__name__, type(module).__name__, list(out.shape[1:]) if out is not None else None,
                             trainable, frozen, None if uncounted else own_macs,
                             out[0].numel() * out.element_size() * batch_size if out is not None and out.dim() else 0))
    trainable, frozen = count_params(model)
    return ModelSummary(rows, list(input_shape), batch_size, total_macs, trainable, frozen,
                        sum(r.activation_bytes for r in rows), not any(r.macs is None for r in rows))
