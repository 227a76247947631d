"""Recurrent layers (seed section 4.2): ``RNN`` and ``LSTM``, unrolled over time with autograd.

Parameter names and shapes follow PyTorch (``weight_ih_l0`` is (gates*hidden, input), gate order
i, f, g, o for the LSTM), so a torch state dict loads unchanged. Unrolling is a Python loop over
time steps -- the dependency of h_t on h_{t-1} is the whole point of a recurrent net.
"""
from __future__ import annotations

import math

import numpy as np

from ...ops.activation import relu, sigmoid, tanh
from ...ops.linear import linear
from ...tensor import Tensor, stack
from .. import init
from ..parameter import Parameter
from .module import Module


class _RNNBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dtype=np.float32):
        super().__init__()
        if hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size must be greater than zero, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: num_layers must be greater than zero, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        bound = 1 / math.sqrt(hidden_size)
        rows = self._gates * hidden_size
        for k in range(num_layers):
            fan = input_size if k == 0 else hidden_size
            shapes = {f"weight_ih_l{k}": (rows, fan), f"weight_hh_l{k}": (rows, hidden_size)}
            if bias:
                shapes.update({f"bias_ih_l{k}": (rows,), f"bias_hh_l{k}": (rows,)})
            for name, shape in shapes.items():
                p = Parameter(np.empty(shape, dtype=dtype))
                init.uniform_(p, -bound, bound)
                setattr(self, name, p)

    def _layer(self, k: int):
        return (getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}"),
                getattr(self, f"bias_ih_l{k}", None) if self.bias else None,
                getattr(self, f"bias_hh_l{k}", None) if self.bias else None)

    def _zeros(self, batch: int, like: Tensor) -> Tensor:
        return Tensor._wrap(np.zeros((self.num_layers, batch, self.hidden_size), dtype=like.dtype))

    def _time_major(self, x: Tensor) -> Tensor:
        if x.ndim != 3:
            layout = "(batch, seq, feature)" if self.batch_first else "(seq, batch, feature)"
            raise ValueError(f"{type(self).__name__}: expected a 3-D {layout} input, got shape {x.shape}")
        if x.shape[2] != self.input_size:
            raise RuntimeError(f"{type(self).__name__}: input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {x.shape[2]}")
        return x.transpose(0, 1) if self.batch_first else x

    def _check_state(self, name: str, h: Tensor, batch: int) -> None:
        expected = (self.num_layers, batch, self.hidden_size)
        if tuple(h.shape) != expected:
            raise RuntimeError(f"{type(self).__name__}: expected {name} of shape {expected} "
                               f"(num_layers, batch, hidden_size), got {tuple(h.shape)}")

    def _output(self, steps: list[Tensor]) -> Tensor:
        return stack(steps, dim=1 if self.batch_first else 0)


class RNN(_RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or ReLU)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False, dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}: select 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        seq = self._time_major(x)
        if h0 is None:
            h0 = self._zeros(seq.shape[1], x)
        else:
            self._check_state("h0", h0, seq.shape[1])
        act = tanh if self.nonlinearity == "tanh" else relu
        inputs = [seq[t] for t in range(seq.shape[0])]
        finals = []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer(k)
            h = h0[k]
            outs = []
            for x_t in inputs:
                h = act(linear(x_t, w_ih, b_ih) + linear(h, w_hh, b_hh))
                outs.append(h)
            inputs, finals = outs, finals + [h]
        return self._output(inputs), stack(finals, 0)


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997): gates decide what the cell state
    forgets (f), takes in (i, g) and shows (o), which keeps gradients alive over long spans."""
    _gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        seq = self._time_major(x)
        n = seq.shape[1]
        if state is None:
            h0, c0 = self._zeros(n, x), self._zeros(n, x)
        else:
            h0, c0 = state
            self._check_state("h0", h0, n)
            self._check_state("c0", c0, n)
        hs = self.hidden_size
        inputs = [seq[t] for t in range(seq.shape[0])]
        final_h, final_c = [], []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer(k)
            h, c = h0[k], c0[k]
            outs = []
            for x_t in inputs:
                gates = linear(x_t, w_ih, b_ih) + linear(h, w_hh, b_hh)
                i = sigmoid(gates[:, :hs])
                f = sigmoid(gates[:, hs:2 * hs])
                g = tanh(gates[:, 2 * hs:3 * hs])
                o = sigmoid(gates[:, 3 * hs:])
                c = f * c + i * g
                h = o * tanh(c)
                outs.append(h)
            inputs = outs
            final_h.append(h)
            final_c.append(c)
        return self._output(inputs), (stack(final_h, 0), stack(final_c, 0))
