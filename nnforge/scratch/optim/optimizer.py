"""``Optimizer``: parameter groups, per-parameter state and ``zero_grad``.

Updates run under no autograd and modify ``param.data`` in place with preallocated buffers:
a step allocates nothing after the first, which is most of what makes it fast in NumPy.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable as _Iterable
from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (lists of parameters with their hyperparameters) like PyTorch,
    so learning-rate schedulers can change ``group['lr']`` between steps."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        self.defaults = defaults
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)) or not isinstance(params, _Iterable):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts (e.g. model.parameters()), "
                            f"got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{name} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict[str, Any]] = []
        for g in groups:
            if not isinstance(g, dict) or "params" not in g:
                raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, got {g!r:.80}")
            ps = [g["params"]] if isinstance(g["params"], Tensor) else list(g["params"])
            for p in ps:
                if not isinstance(p, Tensor):
                    raise TypeError(f"{name} can only optimize Tensors, but one of the params is {type(p).__name__}")
            group = {**defaults, **g, "params": ps}
            for key in ("lr", "eps", "weight_decay", "momentum", "alpha", "dampening", "lr_decay",
                        "initial_accumulator_value"):
                v = group.get(key)
                if v is not None and not (isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 0):
                    raise ValueError(f"{name}: invalid {key} {v!r}: it must be a number >= 0")
            if "betas" in group:
                b = group["betas"]
                if len(b) != 2 or not all(isinstance(x, numbers.Real) and 0.0 <= x < 1.0 for x in b):
                    raise ValueError(f"{name}: invalid betas {b!r}: two numbers in [0, 1) are expected")
            self.param_groups.append(group)
        self.state: dict[int, dict[str, Any]] = {}
        self._work: dict[int, np.ndarray] = {}  # per-parameter temporaries: reused, never checkpointed

    def _work_buffer(self, p: Tensor) -> np.ndarray:
        """A preallocated array shaped like ``p`` for an update's intermediate values (not part of
        the optimizer's state: a checkpoint need not copy or store it)."""
        buf = self._work.get(id(p))
        if buf is None:
            buf = self._work[id(p)] = np.empty_like(p.data)
        return buf

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def _state(self, p: Tensor) -> dict[str, Any]:
        return self.state.setdefault(id(p), {})

    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.data, self._state(p), group)

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-parameter buffers (indexed by position), for checkpoints."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        return {"state": {index[k]: {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in s.items()}
                          for k, s in self.state.items() if k in index},
                "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; it is checked against this optimizer's parameters
        first (group count, parameter positions, buffer shapes), so a refused one changes nothing."""
        name = type(self).__name__
        if not isinstance(state, dict) or not isinstance(state.get("state"), dict) \
                or not isinstance(state.get("param_groups"), list):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                             f"(from Optimizer.state_dict()), got {type(state).__name__}"
                             + (f" with keys {sorted(map(str, state))}" if isinstance(state, dict) else ""))
        if len(state["param_groups"]) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(state['param_groups'])} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        params = [p for g in self.param_groups for p in g["params"]]
        restored = {}
        for i, s in state["state"].items():
            if not 0 <= int(i) < len(params):
                raise ValueError(f"{name}.load_state_dict: the state names parameter {i}, this optimizer "
                                 f"has {len(params)} parameters")
            p = params[int(i)]
            buffers = {n: (np.array(v) if isinstance(v, (np.ndarray, list)) else v) for n, v in s.items()}
            for n, v in buffers.items():
                if isinstance(v, np.ndarray) and v.ndim and v.shape != p.shape:
                    raise ValueError(f"{name}.load_state_dict: {n} of parameter {i} has shape {v.shape}, "
                                     f"the parameter has shape {p.shape} (a state from another model?)")
            restored[id(p)] = buffers
        for group, saved in zip(self.param_groups, state["param_groups"]):
            group.update(saved)
        self.state = restored
