"""torch.optim's optimizers without the one-second import of ``torch._dynamo`` that they trigger.

Every ``torch.optim`` optimizer imports ``torch._dynamo`` (the compiler's front end) the first time
it is used: ``add_param_group``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` are wrapped in
``torch._disable_dynamo``, which imports it on first call, and ``step`` in
``_use_grad_for_differentiable``, which imports it and places graph breaks for ``torch.compile``.
nnforge never compiles an optimizer step (``train.compile`` compiles the model), so those wrappers
only cost the import. :func:`eager` returns a subclass of the torch class whose methods call the
functions the wrappers wrap (functools keeps them as ``__wrapped__``): the same class for
``isinstance``, the same arithmetic, the same ``state_dict``, and the step still runs with
gradients off, as torch's wrapper sets it.

Measured on this project's 2-core machine (AMD EPYC, torch 2.13.0, 3 alternating pairs): a
script that imports torch and takes one AdamW step with a OneCycle schedule reaches that step
in 1.56-2.12 s instead of 2.78-3.51 s, with bit-identical weights. ``tests/train/test_eager_optim.py``
checks the arithmetic against torch's own classes and that a run's first step leaves
``torch._dynamo`` unimported. torch is pinned (``torch==2.13.0``); should a release stop keeping
``__wrapped__``, the methods stay torch's wrapped ones: a slower start, the same results.
"""

from __future__ import annotations

import functools
import inspect

import torch
from torch.optim import Optimizer

_GUARDED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


@functools.cache
def eager(cls: type[Optimizer]) -> type[Optimizer]:
    """``cls`` (a ``torch.optim`` optimizer class) with its dynamo-importing wrappers bypassed."""
    raw_step = inspect.unwrap(cls.step)  # under torch's step hook (if a cls was built before) and its _use_grad wrapper

    def step(self, closure=None):
        with torch.set_grad_enabled(self.defaults.get("differentiable", False)):
            return raw_step(self, closure)

    methods = {name: inspect.unwrap(getattr(Optimizer, name)) for name in _GUARDED}
    return type(cls.__name__, (cls,), {**methods, "step": step, "__module__": __name__,
                                       "__doc__": f"torch.optim.{cls.__name__}, without importing torch._dynamo."})
