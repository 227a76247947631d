"""Scratch beside PyTorch: the same step in NumPy (``nnforge.scratch``) and in torch, compared.

A lesson hands :func:`side_by_side` two functions that each run one step forward and backward
from the same numbers and return ``(output, [gradients])`` as arrays. It prints how far apart
the two frameworks land (largest absolute difference of the outputs and of the gradients) and
how long each takes, in one line a reader (and the notebook test) can find: ``scratch vs torch``.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from nnforge.scratch import Tensor

from ._common import one_torch_thread

Step = Callable[[], tuple[object, Sequence[object]]]


def _numpy(x) -> np.ndarray:
    if isinstance(x, Tensor):  # scratch's
        return np.asarray(x.data, dtype=np.float64)
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().cpu().numpy().astype(np.float64)
    return np.asarray(x, dtype=np.float64)


def _best_ms(fn: Step, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def side_by_side(step: str, scratch_step: Step, torch_step: Step, repeat: int = 5,
                 compared: str = "gradients") -> None:
    """Run both; print the largest differences and the best of ``repeat`` timings of each.

    ``compared`` names the second list the steps return (gradients, or the weights after updates).
    """
    s_out, s_grads = scratch_step()
    with one_torch_thread():  # both sides on one thread: the comparison is of the code, not the cores
        t_out, t_grads = torch_step()
        torch_ms = _best_ms(torch_step, repeat)
    value = float(np.abs(_numpy(s_out) - _numpy(t_out)).max())
    grads = [float(np.abs(_numpy(a) - _numpy(b)).max()) for a, b in zip(s_grads, t_grads, strict=True)]
    gradient = max(grads, default=0.0)
    scratch_ms = _best_ms(scratch_step, repeat)
    print(f"scratch vs torch, {step}: max difference {value:.1e} (values), {gradient:.1e} ({compared}); "
          f"time {scratch_ms:.2f} ms (NumPy) vs {torch_ms:.2f} ms (torch)")
