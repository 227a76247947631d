"""``Module``: the container that knows its parameters, buffers and sub-modules.

Attribute assignment does the bookkeeping (as in PyTorch): a :class:`Parameter` becomes a
parameter, a ``Module`` a child, and names are dotted paths (``features.0.weight``), so a state
dict from a scratch model and one from the equivalent torch model have the same keys.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, Mapping

import numpy as np

from ...tensor import Tensor
from ..parameter import Parameter


class StateDictError(KeyError):
    """A KeyError (as before) whose message prints as a sentence, not as a quoted key."""

    __str__ = BaseException.__str__


class Module:
    """Base class of every layer and model; subclasses define ``forward``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(table)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """State that is saved with the model but not trained (e.g. BatchNorm running stats)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        self.__dict__.pop(name, None)
        self._parameters[name] = value

    def add_module(self, name: str, module: "Module") -> None:
        self._modules[name] = module

    # ---------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for mod_name, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> "Module":
        """Training mode: dropout drops, batch norm uses and updates batch statistics."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def requires_grad_(self, flag: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def apply(self, fn) -> "Module":
        for m in self.modules():
            fn(m)
        return self

    def to(self, dtype: Any) -> "Module":
        """Convert every floating parameter and buffer in place (e.g. to ``scratch.float64``)."""
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer as NumPy arrays, keyed by dotted name."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, t in table.items():
                    if t is not None:
                        out[f"{mod_name}.{name}" if mod_name else name] = t.data.copy()
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy values in by name. Accepts NumPy arrays, scratch tensors or CPU torch tensors.

        Every key and shape is checked before anything is copied, so a refused state dict leaves
        the module as it was.
        """
        cls_name = type(self).__name__
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict of {cls_name}: expected a dict-like state dict (name -> array), "
                            f"got {type(state).__name__}")
        own: dict[str, Tensor] = {}
        for mod_name, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, t in table.items():
                    if t is not None:
                        own[f"{mod_name}.{name}" if mod_name else name] = t
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"Error(s) in loading state_dict for {cls_name}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        arrays: dict[str, np.ndarray] = {}
        for key, t in own.items():
            if key not in state:
                continue
            value = state[key]
            arr = value.data if isinstance(value, Tensor) else np.asarray(
                value.detach().cpu().numpy() if hasattr(value, "detach") else value)
            if arr.shape != t.data.shape:
                raise ValueError(f"size mismatch for {key}: copying a value of shape {arr.shape} from the "
                                 f"state dict, the shape in the current {cls_name} is {t.data.shape}")
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{key}: expected a numeric array, got dtype {arr.dtype}")
            arrays[key] = arr
        for key, arr in arrays.items():
            t = own[key]
            t.data = np.array(arr, dtype=t.data.dtype, copy=True)

    # ------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
