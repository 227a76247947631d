"""``nnforge.scratch``: neural networks from first principles, in NumPy only.

The API mirrors PyTorch so that what is learned here transfers one-to-one::

    from nnforge import scratch
    x = scratch.tensor([[1.0, 2.0]], requires_grad=True)
    y = scratch.nn.functional.relu(x @ x.T).sum()
    y.backward(); x.grad

Tensors are float32 unless ``dtype=scratch.float64`` is asked. Nothing here imports torch.
"""
from . import nn, optim
from .autograd import enable_grad, is_grad_enabled, no_grad
from .creation import (arange, eye, full, linspace, manual_seed, ones, ones_like, rand, randint, randn,
                       randperm, zeros, zeros_like)
from .gradcheck import GradcheckError, gradcheck
from .graph import draw_graph, graph_of, retain_grads
from .ops.activation import relu, sigmoid, softmax, tanh
from .tensor import Tensor, allclose, cat, equal, float32, float64, int64, matmul, stack, tensor, where


def exp(x: Tensor) -> Tensor:
    return x.exp()


def log(x: Tensor) -> Tensor:
    return x.log()


def sqrt(x: Tensor) -> Tensor:
    return x.sqrt()


__all__ = ["GradcheckError", "Tensor", "allclose", "arange", "cat", "equal", "draw_graph", "graph_of", "retain_grads", "enable_grad", "exp", "eye", "float32",
           "float64", "full", "gradcheck", "int64", "is_grad_enabled", "linspace", "log",
           "manual_seed", "matmul", "nn", "no_grad", "ones", "ones_like", "optim", "rand", "randint",
           "randn", "randperm", "relu", "sigmoid", "softmax", "sqrt", "stack", "tanh", "tensor",
           "where", "zeros", "zeros_like"]
