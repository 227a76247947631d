"""The autograd engine: grad mode, graph nodes and the reverse sweep.

Every operation that produces a :class:`~nnforge.scratch.tensor.Tensor` records its parents and a
closure that maps the output's gradient to one gradient per parent. ``backward`` walks that graph
once in reverse topological order, summing gradients where paths meet, exactly the chain rule a
textbook writes down. Gradients are plain NumPy arrays inside the sweep; only leaves receive a
``.grad`` Tensor, as in PyTorch.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .tensor import Tensor

_GRAD_ENABLED = True


def is_grad_enabled() -> bool:
    """Whether new operations are being recorded for ``backward``."""
    return _GRAD_ENABLED


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, enabled
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


def no_grad(func: Callable | None = None):
    """Stop recording: evaluation and optimizer updates need values, not graphs. As in torch, a
    ``with`` block, a decorator ``@no_grad()``, or the bare decorator ``@no_grad``."""
    return _grad_mode(False) if func is None else _grad_mode(False)(func)


def enable_grad(func: Callable | None = None):
    """Record again inside a ``no_grad`` block (``with``, ``@enable_grad()`` or ``@enable_grad``)."""
    return _grad_mode(True) if func is None else _grad_mode(True)(func)


BackwardFn = Callable[[np.ndarray], Sequence["np.ndarray | None"]]


def attach(out: "Tensor", parents: tuple["Tensor", ...], backward: BackwardFn) -> "Tensor":
    """Make ``out`` a graph node if grad mode is on and any parent needs a gradient.

    ``backward(g)`` must return one array (or None) per parent, shaped like that parent, and must
    never modify ``g`` in place: the same array may be handed to several parents.
    """
    if _GRAD_ENABLED and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = parents
        out._backward = backward
    return out


def _topological_order(root: "Tensor") -> list["Tensor"]:
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:  # iterative DFS: deep RNN graphs would overflow Python's recursion limit
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in seen:
                stack.append((parent, False))
    return order


SECOND_BACKWARD = ("Trying to backward through the graph a second time: its saved values were used by the first "
                   "backward(); recompute the forward pass, or call backward(retain_graph=True) the first time")


def run_backward(root: "Tensor", gradient: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``gradient`` (d out / d root) to every leaf that requires a gradient.

    As in torch, a sweep uses up the graph it walks: a second ``backward`` through any of its
    operations is refused (it used to add the same gradients to ``.grad`` again, silently doubling
    them) unless the first one passed ``retain_graph=True``. The check comes before any gradient is
    added, so a refused call changes no ``.grad``. Unlike torch, which frees only the values an
    operation saved, every operation counts (``(x + 1).sum()`` twice is refused too)."""
    from .tensor import Tensor

    order = _topological_order(root)
    if any(node._graph_freed for node in order):
        raise RuntimeError(SECOND_BACKWARD)
    grads: dict[int, np.ndarray] = {id(root): gradient}
    handed_to_leaves: set[int] = set()
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._backward is None or node._retains_grad:
            # A leaf owns its .grad; copy when the array is shared or a read-only view.
            if id(g) in handed_to_leaves or g.base is not None or not g.flags.writeable:
                g = np.array(g, dtype=node.data.dtype, copy=True)
            elif g.dtype != node.data.dtype:
                g = g.astype(node.data.dtype)
            handed_to_leaves.add(id(g))
            if node.grad is None:
                node.grad = Tensor._wrap(g)
            else:
                node.grad.data = node.grad.data + g
        if node._backward is None:
            continue
        for parent, pg in zip(node._parents, node._backward(g)):
            if pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.data.shape:
                raise RuntimeError(f"gradient shape {pg.shape} != tensor shape {parent.data.shape}")
            key = id(parent)
            grads[key] = pg if key not in grads else grads[key] + pg
    if not retain_graph:
        for node in order:
            if node._backward is not None:
                node._graph_freed = True
