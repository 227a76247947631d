"""``gradcheck``: does autograd agree with the definition of a derivative?

Every input element is nudged by +-eps and the central difference (f(x+eps) - f(x-eps)) / 2eps
is compared with what ``backward`` produced. A non-scalar output is first reduced to a scalar
with fixed random weights, so one backward pass checks the whole Jacobian-vector product.
Use float64 inputs: in float32 the rounding error of the difference quotient swamps the check.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Autograd and finite differences disagree; the message holds the per-input table."""


def _scalar(out: Tensor, weights: np.ndarray) -> Tensor:
    return (out * Tensor._wrap(weights)).sum()


def gradcheck(f: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              seed: int = 0) -> bool:
    """Compare ``backward`` gradients of ``f(*inputs)`` with central finite differences.

    Returns True when every input that requires a gradient agrees within
    ``|analytic - numeric| <= atol + rtol * |numeric|``. Otherwise raises
    :class:`GradcheckError` with a table of the max absolute and relative error per input (or
    returns False when ``raise_exception=False``; the table is then printed).
    """
    inputs = list(inputs)
    with no_grad():
        probe = f(*inputs)
    weights = np.random.default_rng(seed).standard_normal(probe.shape).astype(probe.dtype)

    for t in inputs:
        t.grad = None
    _scalar(f(*inputs), weights).backward()

    rows = []
    ok = True
    for k, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        analytic = np.zeros_like(t.data) if t.grad is None else t.grad.data.copy()
        numeric = np.zeros_like(t.data)
        flat = t.data.reshape(-1)  # a view: writing to it nudges the input in place
        num_flat = numeric.reshape(-1)
        with no_grad():
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                up = float(_scalar(f(*inputs), weights).data)
                flat[i] = orig - eps
                down = float(_scalar(f(*inputs), weights).data)
                flat[i] = orig
                num_flat[i] = (up - down) / (2 * eps)
        abs_err = np.abs(analytic - numeric)
        rel_err = abs_err / np.maximum(np.abs(numeric), 1e-12)
        passed = bool(np.all(abs_err <= atol + rtol * np.abs(numeric)))
        ok &= passed
        rows.append((k, t.shape, float(abs_err.max(initial=0)), float(rel_err.max(initial=0)), passed))

    if ok:
        return True
    table = _format(rows, t_dtype=inputs[0].dtype)
    if raise_exception:
        raise GradcheckError("gradcheck failed: autograd disagrees with finite differences\n" + table)
    print(table)
    return False


def _format(rows: list[tuple], t_dtype: np.dtype) -> str:
    head = f"{'input':>5}  {'shape':<16} {'max abs err':>12} {'max rel err':>12}  ok"
    lines = [head, "-" * len(head)]
    for k, shape, a, r, passed in rows:
        lines.append(f"{k:>5}  {str(tuple(shape)):<16} {a:>12.3e} {r:>12.3e}  {'yes' if passed else 'NO'}")
    if t_dtype != np.float64:
        lines.append("(inputs are not float64: finite differences may be too coarse to trust)")
    return "\n".join(lines)
