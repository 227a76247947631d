"""Fully connected layers and the seed's single neuron."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ...ops import activation as A
from ...ops.linear import embedding, linear
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module


class Linear(Module):
    """y = x W^T + b with W stored (out_features, in_features), PyTorch's layout and default
    initialisation (uniform in +-1/sqrt(in_features)), so weights move freely between the two."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors, initialised N(0, 1) as in PyTorch."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight)

    def forward(self, indices: Tensor) -> Tensor:
        return embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": A.sigmoid, "tanh": A.tanh, "relu": A.relu, "identity": lambda t: t,
    "step": lambda t: Tensor._wrap((t.data > 0).astype(t.dtype)),
}


class Perceptron(Module):
    """The seed's neuron (section 1.2): y = f(sum_i w_i x_i + b).

    ``weight`` has shape (in_features,) and ``bias`` is a scalar, exactly the seed's
    ``np.dot(inputs, weights) + bias`` followed by an activation (sigmoid by default; ``'step'``
    gives Rosenblatt's original threshold unit, which has no useful gradient).
    """

    def __init__(self, in_features: int, activation: str = "sigmoid", dtype=np.float32):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}")
        self.in_features, self.activation = in_features, activation
        self.weight = Parameter(np.zeros(in_features, dtype=dtype))
        self.bias = Parameter(np.zeros((), dtype=dtype))

    def weighted_sum(self, x: Tensor) -> Tensor:
        return x @ self.weight + self.bias

    def forward(self, x: Tensor) -> Tensor:
        return _ACTIVATIONS[self.activation](self.weighted_sum(x))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, activation={self.activation}"
