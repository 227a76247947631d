"""Recurrent networks (LSTM, GRU) for sequences: forecasting a series, or classifying a sequence.

The input is read as a sequence of steps: a (T, F) window of a time series as is; an image
(C, H, W) row by row (H steps of C*W features — the classic "MNIST as a sequence"); a
tabular row (F,) as F steps of one feature. The network's state after the last step goes
through optional BatchNorm and dropout to a linear head with ``num_classes`` outputs (class
scores, or the ``horizon`` future values when forecasting).
"""

from __future__ import annotations

import math

import torch
from torch import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    def __init__(self, input_shape, num_classes: int, cell: str = "lstm", hidden: int = 64, layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, batch_norm: bool = False):
        super().__init__()
        if cell not in CELLS:
            from nnforge.errors import ConfigError, shown

            raise ConfigError(f"'model.cell' is {shown(cell)}; accepted: {', '.join(CELLS)}")
        shape = tuple(input_shape)
        self.features = shape[-1] if len(shape) == 2 else (shape[0] * shape[2] if len(shape) == 3 else 1)
        self.rnn = CELLS[cell](self.features, hidden, num_layers=layers, batch_first=True,
                               dropout=dropout if layers > 1 else 0.0, bidirectional=bidirectional)
        width = hidden * (2 if bidirectional else 1)
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(width, num_classes)

    def as_sequence(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # (N, C, H, W) -> (N, H, C*W)
            return x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1)
        if x.dim() == 2:  # (N, F) -> (N, F, 1)
            return x.unsqueeze(-1)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = self.as_sequence(x)
        if seq.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # CPU autocast sends an LSTM to oneDNN's bfloat16 kernel, which many CPUs lack ("could not
            # create a primitive descriptor"); the recurrence runs in float32 there, as a GRU's already does
            with torch.autocast("cpu", enabled=False):
                out, _ = self.rnn(seq.float())
        else:
            out, _ = self.rnn(seq)
        return self.head(self.dropout(self.norm(out[:, -1])))


def n_parameters(model: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in model.parameters())
