"""draw_graph shows the graph autograd recorded: one node per operation, its real parents, real gradients."""
from collections import Counter

import numpy as np

from nnforge import scratch
from nnforge.lessons._figcheck import figure_problems
from nnforge.scratch.graph import draw_graph, graph_of, retain_grads
from nnforge.scratch.nn import functional as F


def two_layer_loss():
    rng = np.random.default_rng(0)
    x = scratch.tensor(rng.standard_normal((5, 3)), dtype=scratch.float64)
    W1, b1, W2, b2 = (scratch.tensor(a, dtype=scratch.float64, requires_grad=True) for a in
                      (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)), rng.standard_normal(2)))
    hidden = F.relu(x @ W1 + b1)
    loss = F.cross_entropy(hidden @ W2 + b2, np.array([0, 1, 1, 0, 1]))
    return loss, {"x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2}


def test_one_node_per_operation_and_edges_follow_the_parents():
    loss, t = two_layer_loss()
    nodes = graph_of(loss)
    ops = Counter(n.op for n in nodes.values())
    assert ops == Counter({"leaf": 4, "input": 1, "matmul": 2, "add": 2, "relu": 1, "cross_entropy": 1})
    by_op = {n.op: n for n in nodes.values() if n.op in ("relu", "cross_entropy")}
    relu_input = nodes[by_op["relu"].parents[0]]
    assert relu_input.op == "add" and id(t["b1"]) in relu_input.parents
    first_matmul = nodes[[p for p in relu_input.parents if p != id(t["b1"])][0]]
    assert first_matmul.op == "matmul" and first_matmul.parents == [id(t["x"]), id(t["W1"])]
    assert nodes[by_op["cross_entropy"].parents[0]].parents[1] == id(t["b2"])
    assert max(n.depth for n in nodes.values()) == nodes[id(loss)].depth == 6  # matmul, add, relu, matmul, add, loss


def test_the_drawing_shows_each_leaf_gradient_and_reads_cleanly():
    loss, t = two_layer_loss()
    retain_grads(loss)
    loss.backward()
    fig = draw_graph(loss, names={id(v): k for k, v in t.items()})
    texts = [text.get_text() for text in fig.axes[0].texts]
    for name in ("W1", "b1", "W2", "b2"):
        grad = t[name].grad.data
        assert any(s.startswith(f"{name} (leaf)") and f"grad max |g| {np.abs(grad).max():.3g}" in s for s in texts)
    assert any(s.startswith("cross_entropy") and f"{loss.item():.4g}" in s and "grad 1" in s for s in texts)
    assert figure_problems(fig) == []
