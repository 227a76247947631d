"""``Tensor``: a NumPy array that remembers how it was computed.

The class holds ``data`` (an ``np.ndarray``), ``requires_grad``, ``grad`` and the graph links the
autograd engine (:mod:`.autograd`) follows. The methods here are the building blocks every
network needs -- arithmetic with broadcasting, matmul, reductions, shape changes and indexing --
each written as a forward line plus the derivative a calculus book gives for it.
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable, Sequence

import numpy as np

from .autograd import attach, run_backward

float32 = np.float32
float64 = np.float64
int64 = np.int64


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert to an array: floats become float32 unless ``dtype`` says otherwise."""
    if isinstance(data, Tensor):
        data = data.data
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        return arr.astype(np.float32, copy=False)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    return arr


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back to ``shape``: the adjoint of NumPy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _axes(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    return tuple(d % ndim if ndim else 0 for d in dims)


class Tensor:
    """An n-dimensional array with optional gradient tracking, shaped like ``torch.Tensor``."""

    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        if self.requires_grad and self.data.dtype.kind != "f":
            raise TypeError("only floating point tensors can require gradients")
        self._parents: tuple[Tensor, ...] = ()
        self._backward = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, data: np.ndarray) -> "Tensor":
        """Wrap an array without conversion (internal fast path)."""
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.requires_grad = data, None, False
        t._parents, t._backward, t._retains_grad = (), None, False
        return t

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        """Rows along the first dimension, as tensors (autograd flows through each), like torch."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(t)`` is the data (a NumPy array already: no copy unless a dtype asks for one)."""
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.data.item())

    def item(self) -> float:
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be converted to a Python number")
        return self.data.item()

    def cpu(self) -> "Tensor":
        """A no-op, so torch code that moves results to the CPU runs unchanged: scratch lives there."""
        return self

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        return Tensor._wrap(self.data)

    def clone(self) -> "Tensor":
        return attach(Tensor._wrap(self.data.copy()), (self,), lambda g: (g,))

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    def long(self) -> "Tensor":
        return Tensor._wrap(self.data.astype(np.int64))

    def to(self, dtype: Any) -> "Tensor":
        """A dtype cast; ``to("cpu")`` (or a device) is a no-op, as scratch tensors live in NumPy on the CPU."""
        if isinstance(dtype, str) and dtype.split(":")[0] == "cpu":
            return self
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cuda", "mps"):
            raise RuntimeError(f"nnforge.scratch tensors live on the CPU (NumPy); there is no '{dtype}' device")
        if self.data.dtype == dtype:
            return self
        src = self.data.dtype
        return attach(Tensor._wrap(self.data.astype(dtype)), (self,), lambda g: (g.astype(src),))

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor too (PyTorch only fills leaves by default)."""
        self._retains_grad = True

    def zero_(self) -> "Tensor":
        self.data[...] = 0
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != np.float32:
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    def backward(self, gradient: Any = None) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on with d(self)/d(leaf)."""
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = np.ones_like(self.data)
        else:
            g = np.array(_to_array(gradient, self.data.dtype), copy=True)
        run_backward(self, g)

    # ------------------------------------------------------------ arithmetic
    def _other(self, other: Any) -> "Tensor":
        if isinstance(other, Tensor):
            return other
        return Tensor._wrap(np.asarray(other, dtype=self.data.dtype))

    def __add__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other
        return attach(Tensor._wrap(a.data + b.data), (a, b),
                      lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other
        return attach(Tensor._wrap(a.data - b.data), (a, b),
                      lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))

    def __rsub__(self, other: Any) -> "Tensor":
        return self._other(other) - self

    def __mul__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other

        def backward(g):
            return (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                    unbroadcast(g * a.data, b.shape) if b.requires_grad else None)
        return attach(Tensor._wrap(a.data * b.data), (a, b), backward)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other

        def backward(g):
            return (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                    unbroadcast(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None)
        return attach(Tensor._wrap(a.data / b.data), (a, b), backward)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return self._other(other) / self

    def __neg__(self) -> "Tensor":
        return attach(Tensor._wrap(-self.data), (self,), lambda g: (-g,))

    def __pow__(self, exponent: Any) -> "Tensor":
        if isinstance(exponent, Tensor):  # a ** b = exp(b log a), for a > 0
            return (exponent * self.log()).exp()
        p = exponent
        x = self
        return attach(Tensor._wrap(x.data ** p), (x,),
                      lambda g: (g * p * x.data ** (p - 1),))

    def __rpow__(self, base: Any) -> "Tensor":
        return self._other(base) ** self

    def __matmul__(self, other: Any) -> "Tensor":
        return matmul(self, self._other(other))

    def __rmatmul__(self, other: Any) -> "Tensor":
        return matmul(self._other(other), self)

    # comparisons give plain (non-differentiable) boolean tensors
    def __gt__(self, o): return Tensor._wrap(self.data > _raw(o))
    def __ge__(self, o): return Tensor._wrap(self.data >= _raw(o))
    def __lt__(self, o): return Tensor._wrap(self.data < _raw(o))
    def __le__(self, o): return Tensor._wrap(self.data <= _raw(o))
    def __eq__(self, o): return Tensor._wrap(self.data == _raw(o))  # type: ignore[override]
    def __ne__(self, o): return Tensor._wrap(self.data != _raw(o))  # type: ignore[override]
    eq = __eq__
    __hash__ = object.__hash__  # tensors stay usable as dict keys (by identity), as in torch

    # ---------------------------------------------------------- elementwise
    def exp(self) -> "Tensor":
        out = np.exp(self.data)
        return attach(Tensor._wrap(out), (self,), lambda g: (g * out,))

    def log(self) -> "Tensor":
        x = self.data
        return attach(Tensor._wrap(np.log(x)), (self,), lambda g: (g / x,))

    def sqrt(self) -> "Tensor":
        out = np.sqrt(self.data)
        return attach(Tensor._wrap(out), (self,), lambda g: (g / (2 * out),))

    def abs(self) -> "Tensor":
        x = self.data
        return attach(Tensor._wrap(np.abs(x)), (self,), lambda g: (g * np.sign(x),))

    def clamp(self, min: float | None = None, max: float | None = None) -> "Tensor":
        x = self.data
        out = np.clip(x, min, max)
        def backward(g):
            keep = np.ones(x.shape, dtype=bool)
            if min is not None:
                keep &= x >= min
            if max is not None:
                keep &= x <= max
            return (g * keep,)
        return attach(Tensor._wrap(out), (self,), backward)

    def relu(self) -> "Tensor":
        from .ops.activation import relu
        return relu(self)

    def sigmoid(self) -> "Tensor":
        from .ops.activation import sigmoid
        return sigmoid(self)

    def tanh(self) -> "Tensor":
        from .ops.activation import tanh
        return tanh(self)

    def softmax(self, dim: int = -1) -> "Tensor":
        from .ops.activation import softmax
        return softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> "Tensor":
        from .ops.activation import log_softmax
        return log_softmax(self, dim)

    # ----------------------------------------------------------- reductions
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> "Tensor":
        x = self
        axes = _axes(dim, x.ndim)
        out = x.data.sum(axis=axes, keepdims=keepdim)

        def backward(g):
            if not keepdim:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g, x.shape),)
        return attach(Tensor._wrap(np.asarray(out)), (x,), backward)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> "Tensor":
        axes = _axes(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes])) if axes else 1
        return self.sum(dim, keepdim) * (1.0 / count)

    def var(self, dim: int | Sequence[int] | None = None, unbiased: bool = True,
            keepdim: bool = False) -> "Tensor":
        axes = _axes(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes])) if axes else 1
        centred = self - self.mean(axes, keepdim=True)
        return (centred * centred).sum(axes, keepdim) * (1.0 / (count - 1 if unbiased else count))

    def std(self, dim=None, unbiased: bool = True, keepdim: bool = False) -> "Tensor":
        return self.var(dim, unbiased, keepdim).sqrt()

    def _extreme(self, dim: int | None, keepdim: bool, fn) -> Any:
        x = self
        if dim is None:
            flat_index = fn(x.data.reshape(-1))
            def backward_all(g):
                out = np.zeros(x.data.size, dtype=g.dtype)
                out[flat_index] = g
                return (out.reshape(x.shape),)
            return attach(Tensor._wrap(np.asarray(x.data.reshape(-1)[flat_index])), (x,), backward_all)
        dim = dim % x.ndim
        index = np.expand_dims(fn(x.data, axis=dim), dim)
        values = np.take_along_axis(x.data, index, axis=dim)

        def backward(g):
            out = np.zeros(x.shape, dtype=g.dtype)
            np.put_along_axis(out, index, g if keepdim else np.expand_dims(g, dim), axis=dim)
            return (out,)
        vals = values if keepdim else np.squeeze(values, dim)
        idx = index if keepdim else np.squeeze(index, dim)
        return attach(Tensor._wrap(vals), (x,), backward), Tensor._wrap(idx)

    def max(self, dim: int | None = None, keepdim: bool = False):
        """Like torch: the maximum (a Tensor), or ``(values, indices)`` along ``dim``."""
        return self._extreme(dim, keepdim, np.argmax)

    def min(self, dim: int | None = None, keepdim: bool = False):
        return self._extreme(dim, keepdim, np.argmin)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        if dim is None:
            return Tensor._wrap(np.asarray(self.data.argmax()))
        return Tensor._wrap(np.argmax(self.data, axis=dim, keepdims=keepdim))

    # ---------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> "Tensor":
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        x = self
        return attach(Tensor._wrap(x.data.reshape(shape)), (x,), lambda g: (g.reshape(x.shape),))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        s = self.shape
        if not s:
            return self.reshape(1)
        start, end = start_dim % len(s), end_dim % len(s)
        return self.reshape(s[:start] + (-1,) + s[end + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> "Tensor":
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def permute(self, *dims: Any) -> "Tensor":
        if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
            dims = tuple(dims[0])
        inverse = np.argsort(dims)
        return attach(Tensor._wrap(self.data.transpose(dims)), (self,),
                      lambda g: (g.transpose(inverse),))

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    @property
    def T(self) -> "Tensor":
        return self.permute(tuple(reversed(range(self.ndim))))

    def expand(self, *shape: Any) -> "Tensor":
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        shape = tuple(s if n == -1 else n for n, s in
                      zip(shape, (1,) * (len(shape) - self.ndim) + self.shape))
        x = self
        return attach(Tensor._wrap(np.broadcast_to(x.data, shape)), (x,),
                      lambda g: (unbroadcast(g, x.shape),))

    def __getitem__(self, index: Any) -> "Tensor":
        index = _raw_index(index)
        x = self
        advanced = _is_advanced(index)

        def backward(g):
            out = np.zeros(x.shape, dtype=g.dtype)
            if advanced:
                np.add.at(out, index, g)  # repeated indices must add up, not overwrite
            else:
                out[index] = g
            return (out,)
        return attach(Tensor._wrap(np.asarray(x.data[index])), (x,), backward)

    def gather(self, dim: int, index: "Tensor") -> "Tensor":
        idx = _raw(index)
        x = self

        def backward(g):
            out = np.zeros(x.shape, dtype=g.dtype)
            np.add.at(out, _along_axis_index(idx, dim % x.ndim), g)
            return (out,)
        return attach(Tensor._wrap(np.take_along_axis(x.data, idx, axis=dim)), (x,), backward)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def _is_advanced(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


def _along_axis_index(idx: np.ndarray, axis: int) -> tuple:
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    return tuple(grids)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's rules (1-D operands are promoted, batch dims broadcast)."""
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return matmul(a.reshape(1, -1), b).squeeze(-2)
    if b.ndim == 1:
        return matmul(a, b.reshape(-1, 1)).squeeze(-1)

    def backward(g):
        ga = unbroadcast(g @ np.swapaxes(b.data, -1, -2), a.shape) if a.requires_grad else None
        gb = unbroadcast(np.swapaxes(a.data, -1, -2) @ g, b.shape) if b.requires_grad else None
        return ga, gb
    return attach(Tensor._wrap(np.matmul(a.data, b.data)), (a, b), backward)


def cat(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = tuple(tensors)
    axis = dim % tensors[0].ndim
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return attach(Tensor._wrap(np.concatenate([t.data for t in tensors], axis=axis)), tensors,
                  lambda g: tuple(np.split(g, bounds, axis=axis)))


def stack(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    tensors = tuple(tensors)
    axis = dim % (tensors[0].ndim + 1)
    return attach(Tensor._wrap(np.stack([t.data for t in tensors], axis=axis)), tensors,
                  lambda g: tuple(np.moveaxis(g, axis, 0)))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Pick from ``a`` where ``condition`` holds, else from ``b`` (gradients follow the pick)."""
    cond = np.asarray(_raw(condition), dtype=bool)
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else Tensor(b, dtype=a.dtype)
    return attach(Tensor._wrap(np.where(cond, a.data, b.data)), (a, b),
                  lambda g: (unbroadcast(np.where(cond, g, 0), a.shape),
                             unbroadcast(np.where(cond, 0, g), b.shape)))


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a tensor. Floating data becomes float32 unless ``dtype=scratch.float64`` is asked."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
