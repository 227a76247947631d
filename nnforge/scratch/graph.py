"""The computation graph behind a scratch tensor, listed and drawn (micrograd's ``draw_dot``, for tensors).

Every scratch operation records its parents and a backward closure (``scratch.autograd.attach``);
:func:`graph_of` walks those links from a result back to the leaves and names each node's
operation after the closure's defining function (``matmul``, ``add``, ``relu`` ...).
:func:`draw_graph` draws the nodes in layers from the inputs (left) to the result (right), each
box showing the operation, the value (a scalar) or shape, and the gradient after ``.backward()``:
a leaf's ``.grad``, and an inner node's where :func:`retain_grads` asked for it before the
backward pass (as PyTorch's ``retain_grad``). Drawn with matplotlib, so no graphviz is needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from typing import TYPE_CHECKING

from .tensor import Tensor

if TYPE_CHECKING:  # matplotlib is imported only when drawing
    from matplotlib.figure import Figure


@dataclass
class Node:
    """One tensor in the graph: ``op`` is ``'leaf'`` (a parameter), ``'input'`` (no gradient) or the operation."""

    tensor: Tensor
    op: str
    parents: list[int] = field(default_factory=list)  # ids (``id(tensor)``) of the tensors it was computed from
    depth: int = 0


_REFLECTED = {"radd", "rsub", "rmul", "rtruediv", "rmatmul", "rpow"}


def _op_name(t: Tensor) -> str:
    if t._backward is None:
        return "leaf" if t.requires_grad else "input"
    name = t._backward.__qualname__.split(".<locals>")[0].split(".")[-1].strip("_")
    return name[1:] if name in _REFLECTED else name  # 2 * x is recorded by __rmul__: still a mul


def graph_of(root: Tensor) -> dict[int, Node]:
    """Every tensor ``root`` was computed from, keyed by ``id``, with its parents and depth (leaves 0)."""
    nodes: dict[int, Node] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in nodes:
            continue
        nodes[id(t)] = Node(t, _op_name(t), [id(p) for p in t._parents])
        stack.extend(t._parents)
    order = _topological(nodes)
    for key in order:  # an operation sits one column after its latest input
        node = nodes[key]
        node.depth = 1 + max((nodes[p].depth for p in node.parents), default=-1)
    for key in reversed(order):  # a leaf sits just before the first operation that uses it
        node = nodes[key]
        users = [n.depth for n in nodes.values() if key in n.parents]
        if not node.parents and users:
            node.depth = min(users) - 1
    return nodes


def _topological(nodes: dict[int, Node]) -> list[int]:
    order, done = [], set()
    for start in nodes:
        stack = [(start, False)]
        while stack:
            key, expanded = stack.pop()
            if expanded:
                if key not in done:
                    done.add(key)
                    order.append(key)
                continue
            if key in done:
                continue
            stack.append((key, True))
            stack.extend((p, False) for p in nodes[key].parents if p not in done)
    return order


def retain_grads(root: Tensor) -> None:
    """Keep every inner node's gradient through the next ``backward()``, so the drawing can show it."""
    for node in graph_of(root).values():
        if node.tensor._backward is not None:
            node.tensor.retain_grad()


def _describe(a: np.ndarray) -> str:
    return f"{float(a):.4g}" if a.ndim == 0 else "shape " + "x".join(map(str, a.shape))


def _label(node: Node, names: dict[int, str]) -> str:
    t = node.tensor
    title = names.get(id(t), node.op)
    lines = [title if title == node.op else f"{title} ({node.op})", _describe(t.data)]
    if t.grad is not None:
        g = t.grad.data
        lines.append(f"grad {float(g):.3g}" if g.ndim == 0 else f"grad max |g| {np.abs(g).max():.3g}")
    return "\n".join(lines)


def draw_graph(root: Tensor, names: dict[int, str] | None = None) -> "Figure":
    """The graph behind ``root`` as a figure; ``names`` maps ``id(tensor)`` to a label such as ``'W1'``."""
    nodes = graph_of(root)
    names = names or {}
    layers: dict[int, list[int]] = {}
    for key in _topological(nodes):
        layers.setdefault(nodes[key].depth, []).append(key)
    tallest = max(len(v) for v in layers.values())
    from matplotlib.figure import Figure  # only when drawing: the rest of nnforge.scratch is NumPy alone

    fig = Figure(figsize=(1.9 * len(layers) + 1, 1.1 * tallest + 1), layout="constrained")
    axes = fig.subplots(1, 1, squeeze=False)
    ax = axes[0, 0]
    position = {}
    for depth, keys in layers.items():
        for row, key in enumerate(keys):
            position[key] = (depth, (tallest - 1) / 2 - row + (len(keys) - 1) / 2)
    colours = {"leaf": "#fde7c8", "input": "#e8e8e8"}
    boxes = {key: ax.text(*position[key], _label(node, names), ha="center", va="center", fontsize=8,
                          bbox=dict(boxstyle="round", facecolor=colours.get(node.op, "#d6e6f5"), edgecolor="#555"))
             for key, node in nodes.items()}
    for key, node in nodes.items():
        for parent in node.parents:  # clipped to the two boxes, so every arrowhead shows
            ax.annotate("", xy=position[key], xytext=position[parent],
                        arrowprops=dict(arrowstyle="-|>", color="#666", shrinkA=2, shrinkB=2,
                                        patchA=boxes[parent].get_bbox_patch(), patchB=boxes[key].get_bbox_patch()))
    ax.set_xlim(-0.6, len(layers) - 0.4)
    ax.set_ylim(-0.7, tallest - 0.3)
    ax.axis("off")
    ax.set_title("Computation graph: inputs and parameters (left) to the result (right)")
    return fig
