"""What the page draws, computed from the session: one JSON-ready frame.

One forward pass over a grid of the plane gives every picture at once: each input feature's,
each hidden neuron's (after its activation) and the output's (2·P(blue) − 1, so −1 is orange and
+1 blue, as in TensorFlow Playground). Grids travel as base64 bytes, value v in [−1, 1] as
round((v + 1)·127.5); a neuron whose output leaves [−1, 1] (ReLU) is divided by its largest |value|
on the grid, and its true range is sent beside it so that hovering can say so.
"""

from __future__ import annotations

import base64

import numpy as np

from nnforge import scratch
from nnforge.data.sources.toy2d import DOMAIN, feature_columns
from nnforge.playground.network import linear_layers
from nnforge.scratch import nn

GRID = 50  # boundary resolution; neuron pictures use every second point (25 x 25)


def plane(n: int) -> np.ndarray:
    """n x n points covering [-6, 6]², row by row from the top (x2 = +6) down, as an image is."""
    ticks = np.linspace(-DOMAIN, DOMAIN, n)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def encode(values: np.ndarray) -> str:
    return base64.b64encode(np.round((np.clip(values, -1, 1) + 1) * 127.5).astype(np.uint8).tobytes()).decode()


def _picture(column: np.ndarray) -> dict:
    lo, hi = float(column.min()), float(column.max())
    scale = max(abs(lo), abs(hi))
    shown = column / scale if scale > 1 else column
    return {"image": encode(shown.reshape(GRID, GRID)[::2, ::2]), "min": lo, "max": hi}


def _array(t) -> list | None:
    return None if t is None else np.asarray(t.data).tolist()


def frame(session, playing: bool = False) -> dict:
    """Boundary, neuron pictures, weights with their last gradients, losses and counters."""
    grid = plane(GRID)
    columns = feature_columns(grid, session.data.features)
    pictures = [[_picture(columns[:, j]) for j in range(columns.shape[1])]]
    with scratch.no_grad():
        h = scratch.tensor(columns, dtype=scratch.float64)
        modules = list(session.model)
        for i, module in enumerate(modules):
            h = module(h)
            last_of_layer = i + 1 == len(modules) or isinstance(modules[i + 1], nn.Linear)
            if last_of_layer and i + 1 < len(modules):
                out = h.numpy()
                pictures.append([_picture(out[:, j]) for j in range(out.shape[1])])
        blue = h.softmax(-1).numpy()[:, 1]
    train_loss, test_loss = session.losses()
    layers = linear_layers(session.model)
    return {
        "type": "frame", "playing": playing, "step": session.steps, "epoch": session.epoch,
        "batches_per_epoch": session.batches_per_epoch, "train_loss": train_loss, "test_loss": test_loss,
        "batch_loss": session.batch_loss, "grid": GRID, "boundary": encode(2 * blue.reshape(GRID, GRID) - 1),
        "neurons": pictures,
        "weights": [_array(m.weight) for m in layers], "biases": [_array(m.bias) for m in layers],
        "weight_grads": [_array(m.weight.grad) for m in layers], "bias_grads": [_array(m.bias.grad) for m in layers],
    }


def points(session) -> dict:
    """The dataset for the page (sent once per configuration): coordinates and labels, train and test."""
    p = session.points
    return {"type": "points", "train": {"xy": np.round(p.xy_train, 4).tolist(), "label": p.y_train.tolist()},
            "test": {"xy": np.round(p.xy_test, 4).tolist(), "label": p.y_test.tolist()}}
