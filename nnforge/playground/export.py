"""The page's network as text a learner can take away: runnable scratch code, and an nnforge recipe.

``python_code`` is the session's own loop (:meth:`TrainingSession.step`) written out with the
page's settings; running it for the page's step count reproduces the page's weights bit for bit
(tests/playground/test_export.py runs it). ``recipe`` is the same network, data and optimiser as
a YAML recipe for ``nnforge train``; it trains the same architecture, though its batches come from
nnforge's loader, so its numbers are close to the page's rather than identical.
"""

from __future__ import annotations

import math

import yaml

from nnforge.data.sources.toy2d import DataSpec
from nnforge.playground.network import ACTIVATIONS, MOMENTUM, NetSpec


def _model_lines(net: NetSpec, inputs: int) -> list[str]:
    sizes = net.layer_sizes(inputs)
    lines = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        hidden = i < len(sizes) - 2
        act = f" nn.{ACTIVATIONS[net.activation]}()," if hidden and ACTIVATIONS[net.activation] else ""
        note = "" if hidden else "  # two logits: orange, blue"
        lines.append(f"    nn.Linear({n_in}, {n_out}),{act}{note}")
    return lines


def _optimizer_line(net: NetSpec) -> str:
    if net.optimizer == "adam":
        return f"optimizer = optim.Adam(model.parameters(), lr={net.lr!r}, weight_decay={net.l2!r})  # weight_decay: L2"
    momentum = MOMENTUM if net.optimizer == "momentum" else 0.0
    return f"optimizer = optim.SGD(model.parameters(), lr={net.lr!r}, momentum={momentum!r}, weight_decay={net.l2!r})  # weight_decay: L2"


def python_code(data: DataSpec, net: NetSpec, steps: int) -> str:
    """A script that trains the page's network for ``steps`` mini-batches and prints its losses."""
    l1 = [
        "    for p in model.parameters():  # L1: the penalty l1 * sum|w| adds l1 * sign(w) to each weight's gradient",
        "        if p.ndim > 1:",
        "            p.grad.data += L1 * np.sign(p.data)",
    ] if net.l1 else []
    return "\n".join([
        '"""The playground\'s network in nnforge.scratch: this trains exactly what the page trained."""',
        "import math",
        "",
        "import numpy as np",
        "",
        "from nnforge import scratch",
        "from nnforge.data.sources.toy2d import DataSpec, make_dataset",
        "from nnforge.scratch import nn, optim",
        "from nnforge.scratch.nn import functional as F",
        "",
        f"data = make_dataset(DataSpec(kind={data.kind!r}, samples={data.samples}, noise={data.noise!r}, "
        f"train_ratio={data.train_ratio}, seed={data.seed}, features={tuple(data.features)!r}))",
        "",
        f"scratch.manual_seed({data.seed})  # the initial weights",
        "model = nn.Sequential(",
        *_model_lines(net, len(data.features)),
        ").double()",
        _optimizer_line(net),
        *([f"L1 = {net.l1!r}"] if net.l1 else []),
        f"BATCH, STEPS = {net.batch_size}, {steps}",
        "",
        "x, y = data.x_train, data.y_train",
        "batches_per_epoch = math.ceil(len(y) / BATCH)",
        f"order_rng = np.random.default_rng({data.seed})",
        "for step in range(STEPS):",
        "    i = step % batches_per_epoch",
        "    if i == 0:",
        "        order = order_rng.permutation(len(y))  # a new shuffle each epoch",
        "    idx = order[i * BATCH:(i + 1) * BATCH]",
        "    loss = F.cross_entropy(model(scratch.tensor(x[idx], dtype=scratch.float64)), y[idx])",
        "    optimizer.zero_grad()",
        "    loss.backward()",
        *l1,
        "    optimizer.step()",
        "",
        "with scratch.no_grad():",
        "    test_loss = F.cross_entropy(model(scratch.tensor(data.x_test, dtype=scratch.float64)), data.y_test).item()",
        "print(f'after {STEPS} steps ({STEPS / batches_per_epoch:.1f} epochs): test loss {test_loss:.4f}')",
        "",
    ])


def recipe(data: DataSpec, net: NetSpec, epochs: int) -> str:
    """A YAML recipe for ``nnforge train``: the page's data, network and optimiser, ``epochs`` epochs."""
    hidden = list(net.hidden) if ACTIVATIONS[net.activation] else []
    optimizer = {"name": "adam", "lr": net.lr} if net.optimizer == "adam" else \
        {"name": "sgd", "lr": net.lr, "momentum": MOMENTUM if net.optimizer == "momentum" else 0.0}
    optimizer["weight_decay"] = net.l2
    doc = {
        "engine": "scratch",
        "seed": data.seed,
        "data": {"name": f"playground:{data.query()}", "batch_size": net.batch_size, "val_fraction": 0.0, "normalize": False},
        "model": {"name": "mlp", "hidden": hidden, **({"activation": net.activation} if hidden else {})},
        "train": {"epochs": max(1, int(epochs)), "loss": {"name": "cross_entropy"}, "optimizer": optimizer,
                  **({"l1": net.l1} if net.l1 else {}), "monitor": "train_loss"},
    }
    notes = ["# The playground's network as an nnforge recipe:  nnforge train THIS_FILE.yaml",
             "# data: the page's points (nnforge.data.sources.toy2d), as a tabular dataset of its input features."]
    if not ACTIVATIONS[net.activation] and net.hidden:
        notes.append(f"# linear hidden layers {list(net.hidden)} compose to one linear map: the same functions as hidden: [].")
    return "\n".join(notes) + "\n" + yaml.safe_dump(doc, sort_keys=False)


def epochs_for(steps: int, batches_per_epoch: int) -> int:
    """The page's epochs, rounded up; a recipe for an untrained page gets 100."""
    return math.ceil(steps / batches_per_epoch) if steps else 100
