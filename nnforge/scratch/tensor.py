"""``Tensor``: a NumPy array that remembers how it was computed.

The class holds ``data`` (an ``np.ndarray``), ``requires_grad``, ``grad`` and the graph links the
autograd engine (:mod:`.autograd`) follows. The methods here are the building blocks every
network needs -- arithmetic with broadcasting, matmul, reductions, shape changes and indexing --
each written as a forward line plus the derivative a calculus book gives for it.
"""
from __future__ import annotations

import numbers
import warnings
from collections import namedtuple
from typing import Any, Iterable, Sequence

import numpy as np

from .autograd import attach, is_grad_enabled, run_backward

float32 = np.float32
float64 = np.float64
int64 = np.int64

# what max(dim)/min(dim) return, as torch.return_types: (values, indices), also by name (``out.max(1).indices``)
_MaxResult = namedtuple("max", ["values", "indices"])
_MinResult = namedtuple("min", ["values", "indices"])
_NOT_FLOATING = "only Tensors of floating point dtype can require gradients"


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert to an array: floats become float32 unless ``dtype`` says otherwise."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.asarray(data)
    except ValueError as e:  # ragged nested lists: NumPy's "inhomogeneous shape" says it less plainly
        if "inhomogeneous" not in str(e):
            raise
        raise ValueError("tensor: the nested lists have rows of different lengths; "
                         "every row at the same depth must have the same length") from None
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


def _dim(d: int, ndim: int) -> int:
    """``d`` as a non-negative axis of an ``ndim``-D tensor (a 0-D tensor takes 0 and -1), as torch."""
    n = ndim or 1
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def _axes(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    axes = tuple(_dim(d, ndim) for d in dims)
    return axes if ndim else ()  # a 0-d tensor's dim 0 (or -1) is the tensor itself, as in torch


def _broadcast_error(a: tuple[int, ...], b: tuple[int, ...]) -> RuntimeError:
    """torch's message for two shapes that do not broadcast: the first clashing dim from the right."""
    for i in range(1, min(len(a), len(b)) + 1):
        if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
            return RuntimeError(f"The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) "
                                f"at non-singleton dimension {max(len(a), len(b)) - i}")
    return RuntimeError(f"shapes {a} and {b} cannot be broadcast together")  # pragma: no cover


def _category(dtype: np.dtype) -> int:
    return 0 if dtype.kind == "b" else 1 if dtype.kind in "iu" else 2


def _promote_types(a: np.dtype | None, b: np.dtype) -> np.dtype:
    """``torch.promote_types``: the higher kind (bool < integer < floating) wins as it is (an int64
    meeting a float32 gives float32, where NumPy gives float64); within a kind, the wider."""
    if a is None:
        return b
    ca, cb = _category(a), _category(b)
    return np.promote_types(a, b) if ca == cb else (a if ca > cb else b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """torch's ``combine_categories``: a lower-priority operand (a 0-d tensor below a dimensioned one,
    a Python number below both) changes the result only when it is of a higher kind."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if _category(higher) == 2:
        return higher
    if _category(higher) == 0 or _category(lower) == 2:
        return _promote_types(higher, lower)
    return higher


def _number_dtype(value: Any) -> np.dtype:
    """The dtype a Python (or NumPy) number takes in arithmetic, as torch's: a float is float32 (the
    default dtype), an integer int64, a bool bool."""
    kind = np.asarray(value).dtype.kind
    return np.dtype(np.float32 if kind == "f" else np.int64 if kind in "iu" else bool if kind == "b"
                    else np.asarray(value).dtype)


def result_type(*operands: Any) -> np.dtype:
    """``torch.result_type`` for tensors and numbers: dimensioned tensors first, then 0-d tensors,
    then numbers, each of the later only where it is of a higher kind. ``int tensor * 0.5`` is
    float32, a float32 tensor times a float64 0-d tensor float32, ``int + float32 tensor`` float32."""
    levels: list[np.dtype | None] = [None, None, None]
    for x in operands:
        if isinstance(x, Tensor):
            level, dtype = (0 if x.ndim else 1), x.dtype
        else:
            level, dtype = 2, _number_dtype(x)
        levels[level] = _promote_types(levels[level], dtype)
    return _combine(levels[0], _combine(levels[1], levels[2]))


def _floating(x: "Tensor") -> np.ndarray:
    """The data of ``x`` for a function whose result is real (exp, log, sigmoid ...): an integer or
    boolean tensor gives float32, as torch's; NumPy would give float64 (or, cast back, integers)."""
    return x.data if x.data.dtype.kind in "fc" else x.data.astype(np.float32)


def _broadcasting(op, a: "Tensor", b: "Tensor", dtype: np.dtype | None = None) -> np.ndarray:
    """``op(a, b)`` on the arrays in ``dtype`` (torch's promotion of the two), with torch's message
    when their shapes do not broadcast."""
    x, y = a.data, b.data
    if dtype is None and x.dtype != y.dtype:  # one dtype (the usual case): nothing to promote
        dtype = result_type(a, b)
    try:
        if dtype is None:
            return op(x, y)
        return op(x.astype(dtype, copy=False), y.astype(dtype, copy=False))
    except ValueError:
        raise _broadcast_error(a.shape, b.shape) from None


class Tensor:
    """An n-dimensional array with optional gradient tracking, shaped like ``torch.Tensor``."""

    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__
    _graph_freed = False  # set on an operation's result once a backward() without retain_graph went through it

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        if self.requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(f"{_NOT_FLOATING}, not {self.data.dtype} (make it one: x.float())")
        self._parents: tuple[Tensor, ...] = ()
        self._backward = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, data: np.ndarray) -> "Tensor":
        """Wrap an array without conversion (internal fast path). A NumPy scalar (what arithmetic on a
        0-d array returns) becomes a 0-d array: ``np.asarray(loss)`` and ``loss.numpy()`` need one."""
        if type(data) is not np.ndarray:
            data = np.asarray(data)
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
        if flag and self.data.dtype.kind != "f":  # as torch; an integer leaf used to take part in autograd
            raise RuntimeError(f"{_NOT_FLOATING}, not {self.data.dtype} (make it one: x.float())")
        if not flag and not self.is_leaf:  # as torch: the result of an operation keeps its place in the graph
            raise RuntimeError("you can only change requires_grad flags of leaf variables; "
                               "for a copy outside the graph use x.detach()")
        self.requires_grad = bool(flag)
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
        if self.data.dtype not in (np.float32, np.int64, np.bool_):  # torch names no default dtype (int64, bool too)
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    def backward(self, gradient: Any = None, retain_graph: bool | None = None) -> None:
        """Add d(self)/d(leaf) to ``.grad`` of every leaf this tensor depends on. As in torch, the graph
        is used up: a second ``backward`` through it raises unless this one passed ``retain_graph=True``."""
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = np.ones_like(self.data)
        else:
            g = np.array(_to_array(gradient, self.data.dtype), copy=True)
            if g.shape != self.data.shape:
                raise RuntimeError(f"Mismatch in shape: gradient has a shape of {g.shape} and "
                                   f"the tensor has a shape of {self.data.shape}")
        run_backward(self, g, retain_graph=bool(retain_graph))

    # ------------------------------------------------------------ arithmetic
    def _other(self, other: Any) -> "Tensor":
        """A number or array met in arithmetic, as a tensor. A number takes the dtype torch gives the
        pair (a float32 tensor stays float32; ``tensor([1, 2]) * 0.5`` is float32 ``[0.5, 1.0]``, where
        the 0.5 was once cast to an integer and then NumPy made it float64); an array becomes a
        tensor as ``scratch.tensor`` makes one."""
        if isinstance(other, Tensor):
            return other
        kind = self.data.dtype.kind
        if type(other) is float and kind == "f" or type(other) is int and kind in "iuf":  # the usual case, quickly
            return Tensor._wrap(np.asarray(other, dtype=self.data.dtype))
        if np.ndim(other) == 0:
            return Tensor._wrap(np.asarray(other, dtype=result_type(self, other)))
        return Tensor(other)

    def __add__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other
        out = _broadcasting(np.add, a, b)
        return attach(Tensor._wrap(out), (a, b),
                      lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))

    __radd__ = __add__

    # ------------------------------------------------ in place: the same tensor, changed (as torch)
    def _inplace(self, other: Any, op, sign: str) -> "Tensor":
        """``w -= lr * w.grad`` under ``no_grad()`` changes ``w`` itself, as in torch, so the leaf keeps
        its place in the model and its ``.grad`` (before, Python rebound ``w`` to a new tensor without
        a gradient: the hand-written gradient-descent loop broke on its second step). Where autograd
        records the op, a leaf that requires grad is refused as torch refuses it, and any other tensor
        gets the out-of-place result (the graph stays right). Unlike torch, changing a tensor that a
        graph saved for its backward is not detected."""
        if is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            if self.requires_grad and self.is_leaf:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation "
                                   f"(x {sign}= ...); do it under scratch.no_grad(), as an optimizer step does")
            return NotImplemented  # Python falls back to the out-of-place operator
        b = other.data if isinstance(other, Tensor) else np.asarray(other)
        try:
            op(self.data, b, out=self.data, casting="same_kind")
        except TypeError:  # NumPy's UFuncTypeError: an int tensor divided, a float added to an int tensor
            raise RuntimeError(f"result type {np.asarray(op(self.data, b)).dtype} can't be cast to the desired output type "
                               f"{self.data.dtype} (x {sign}= ...)") from None
        except ValueError:
            if not self.data.flags.writeable:
                raise RuntimeError(f"x {sign}= ...: this tensor is a read-only view (of expand, or of a read-only array); "
                                   "change a copy: x = x.clone() or x * 1") from None
            try:
                shape = np.broadcast_shapes(self.shape, np.shape(b))
            except ValueError:
                raise _broadcast_error(self.shape, np.shape(b)) from None
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(shape)}") from None
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.add, "+")

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.subtract, "-")

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.multiply, "*")

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(other, np.true_divide, "/")

    def __sub__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other
        out = _broadcasting(np.subtract, a, b)
        return attach(Tensor._wrap(out), (a, b),
                      lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))

    def __rsub__(self, other: Any) -> "Tensor":
        return self._other(other) - self

    def __mul__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other

        def backward(g):
            return (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                    unbroadcast(g * a.data, b.shape) if b.requires_grad else None)
        out = _broadcasting(np.multiply, a, b)
        return attach(Tensor._wrap(out), (a, b), backward)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> "Tensor":
        other = self._other(other)
        a, b = self, other

        def backward(g):
            return (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                    unbroadcast(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None)
        dtype = a.data.dtype if a.data.dtype == b.data.dtype else result_type(a, b)
        # true division of integers is float32 (NumPy: float64), as torch's
        out = _broadcasting(np.divide, a, b, dtype if dtype.kind in "fc" else np.dtype(np.float32))
        return attach(Tensor._wrap(out), (a, b), backward)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return self._other(other) / self

    def __neg__(self) -> "Tensor":
        return attach(Tensor._wrap(-self.data), (self,), lambda g: (-g,))

    def __pow__(self, exponent: Any) -> "Tensor":
        if isinstance(exponent, Tensor):
            return _tensor_pow(self, exponent)
        p = exponent
        x = self
        dtype = result_type(x, p)
        out = np.power(x.data.astype(dtype, copy=False), np.asarray(p, dtype=dtype))
        return attach(Tensor._wrap(out), (x,),  # x ** 0 has a zero derivative, 0 ** -1 included (it was NaN)
                      lambda g: (g * p * x.data ** (p - 1) if p != 0 else np.zeros_like(g),))

    def pow(self, exponent: Any) -> "Tensor":
        return self ** exponent

    def __rpow__(self, base: Any) -> "Tensor":
        return self._other(base) ** self

    def __matmul__(self, other: Any) -> "Tensor":
        return matmul(self, self._other(other))

    def __rmatmul__(self, other: Any) -> "Tensor":
        return matmul(self._other(other), self)

    # method forms, as torch's: ``a.add(b, alpha=2)`` is ``a + 2 * b`` (the operators above do the work)
    def add(self, other: Any, *, alpha: Any = 1) -> "Tensor":
        return self + (other if alpha == 1 else self._other(other) * alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> "Tensor":
        return self - (other if alpha == 1 else self._other(other) * alpha)

    def mul(self, other: Any) -> "Tensor":
        return self * other

    def div(self, other: Any) -> "Tensor":
        """True division (torch's ``rounding_mode`` variants are not differentiable and are left out)."""
        return self / other

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
        out = np.exp(_floating(self))
        return attach(Tensor._wrap(out), (self,), lambda g: (g * out,))

    def log(self) -> "Tensor":
        x = _floating(self)
        return attach(Tensor._wrap(np.log(x)), (self,), lambda g: (g / x,))

    def sqrt(self) -> "Tensor":
        out = np.sqrt(_floating(self))
        return attach(Tensor._wrap(out), (self,), lambda g: (g / (2 * out),))

    def abs(self) -> "Tensor":
        x = self.data
        return attach(Tensor._wrap(np.abs(x)), (self,), lambda g: (g * np.sign(x),))

    def clamp(self, min: float | None = None, max: float | None = None) -> "Tensor":
        x = self.data
        dtype = result_type(self, *(v for v in (min, max) if v is not None))
        out = np.clip(x.astype(dtype, copy=False), min, max)
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
        return self.sum(dim, keepdim) * (1.0 / count if count else float("nan"))  # empty: NaN, as torch

    def var(self, dim: int | Sequence[int] | None = None, unbiased: bool = True,
            keepdim: bool = False, *, correction: int | None = None) -> "Tensor":
        """The variance, divided by N - 1 (``unbiased``) or N; torch 2's ``correction=c`` divides by N - c."""
        axes = _axes(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes])) if axes else 1
        centred = self - self.mean(axes, keepdim=True)
        dof = count - (correction if correction is not None else 1 if unbiased else 0)
        if dof <= 0:  # as torch: NaN and a warning (one value's unbiased variance was a ZeroDivisionError)
            warnings.warn("var(): degrees of freedom is <= 0. Correction should be strictly less than the reduction "
                          "factor (input numel divided by output numel).", UserWarning, stacklevel=2)
        return (centred * centred).sum(axes, keepdim) * (1.0 / dof if dof > 0 else float("nan"))

    def std(self, dim=None, unbiased: bool = True, keepdim: bool = False, *, correction: int | None = None) -> "Tensor":
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def cumsum(self, dim: int) -> "Tensor":
        """Running sums along ``dim``. Output j is x_0 + ... + x_j, so input i feeds every output from
        i on: its gradient is the sum of g_i ... g_n, a cumsum of g run backwards (flip, cumsum, flip)."""
        axis = _dim(dim, self.ndim)
        if not self.ndim:
            return self.clone()
        out = np.cumsum(self.data, axis=axis)
        return attach(Tensor._wrap(out), (self,),
                      lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),))

    def norm(self, p: Any = 2, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> "Tensor":
        """The vector p-norm (sum |x|^p)^(1/p) over ``dim`` (all elements by default); ``p='fro'`` is 2 and
        ``p=inf`` the largest |x|. One node with its own derivative, sign(x) |x|^(p-1) / norm^(p-1) (x / norm
        for p=2), rather than a composition: composed, the square root's derivative at a zero norm is
        1/0 and the gradient NaN, where torch (and this) give 0. For inf the gradient is shared among ties."""
        p = 2 if p == "fro" else p
        if isinstance(p, str) or not isinstance(p, numbers.Real) or isinstance(p, bool) or not p > 0:
            raise ValueError(f"norm: p must be a number > 0, inf or 'fro' (vector norms only), got {p!r}")
        x = _floating(self)
        axes = _axes(dim, self.ndim)
        a = np.abs(x)
        if p == float("inf"):
            out = a.max(axis=axes, keepdims=True)
        else:
            out = (a ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)

        def backward(g):
            g = g if keepdim else np.expand_dims(g, axes)
            if p == float("inf"):
                ties = (a == out)
                return (g * np.sign(x) * ties / ties.sum(axis=axes, keepdims=True),)
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.sign(x) * (a / out) ** (p - 1)
            return (g * np.where((a > 0) & (out > 0), d, 0),)
        value = out if keepdim or not axes else np.squeeze(out, axes)
        return attach(Tensor._wrap(value.astype(x.dtype, copy=False)), (self,), backward)

    def _extreme(self, dim: int | None, keepdim: bool, fn) -> Any:
        x = self
        if isinstance(dim, Tensor):
            raise TypeError(f"{fn.__name__[3:]}(dim): dim must be an int; for the elementwise "
                            f"{fn.__name__[3:]}imum of two tensors use scratch.where(a {'>' if fn is np.argmax else '<'}= b, a, b)")
        if dim is None:  # as torch's max()/min(): the gradient is shared evenly among tied extremes
            value = np.asarray(x.data.reshape(-1)[fn(x.data.reshape(-1))])
            def backward_all(g):
                ties = x.data == value
                return (ties * (g / np.count_nonzero(ties)),)
            return attach(Tensor._wrap(value), (x,), backward_all)
        dim = _dim(dim, x.ndim)
        index = np.expand_dims(fn(x.data, axis=dim), dim)
        values = np.take_along_axis(x.data, index, axis=dim)

        def backward(g):
            out = np.zeros(x.shape, dtype=g.dtype)
            np.put_along_axis(out, index, g if keepdim else np.expand_dims(g, dim), axis=dim)
            return (out,)
        vals = values if keepdim else np.squeeze(values, dim)
        idx = index if keepdim else np.squeeze(index, dim)
        result = _MaxResult if fn is np.argmax else _MinResult
        return result(attach(Tensor._wrap(vals), (x,), backward), Tensor._wrap(idx))

    def max(self, dim: int | None = None, keepdim: bool = False):
        """Like torch: the maximum (a Tensor), or ``(values, indices)`` along ``dim``, also by name:
        ``logits.max(1).indices`` (it was a plain tuple: "'tuple' object has no attribute 'indices'")."""
        return self._extreme(dim, keepdim, np.argmax)

    def min(self, dim: int | None = None, keepdim: bool = False):
        return self._extreme(dim, keepdim, np.argmin)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        if dim is None:
            return Tensor._wrap(np.asarray(self.data.argmax()))
        return Tensor._wrap(np.argmax(self.data, axis=_dim(dim, self.ndim), keepdims=keepdim))

    # ---------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> "Tensor":
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        x = self
        try:
            out = x.data.reshape(shape)
        except ValueError:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {x.data.size}") from None
        return attach(Tensor._wrap(out), (x,), lambda g: (g.reshape(x.shape),))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        s = self.shape
        if not s:
            return self.reshape(1)
        start, end = _dim(start_dim, len(s)), _dim(end_dim, len(s))
        if start > end:
            raise RuntimeError(f"flatten() has invalid args: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
        return self.reshape(s[:start] + (-1,) + s[end + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        dim = _dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | Sequence[int] | None = None) -> "Tensor":
        """Drop dimensions of size 1: all, or those of ``dim`` (an int or, as torch 2, a tuple of them)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = set(_axes(dim, self.ndim))
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def permute(self, *dims: Any) -> "Tensor":
        if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
            dims = tuple(dims[0])
        if len(dims) != self.ndim or len({_dim(d, self.ndim) for d in dims}) != self.ndim:
            raise RuntimeError(f"permute: dims {list(dims)} must name each of the tensor's {self.ndim} "
                               f"dimensions exactly once (shape {self.shape})")
        inverse = np.argsort(dims)
        return attach(Tensor._wrap(self.data.transpose(dims)), (self,),
                      lambda g: (g.transpose(inverse),))

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        dims = list(range(self.ndim))
        dim0, dim1 = _dim(dim0, self.ndim), _dim(dim1, self.ndim)
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    def t(self) -> "Tensor":
        """The transpose of a matrix (a vector or a scalar as it is), as torch's ``x.t()``."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.T

    def contiguous(self) -> "Tensor":
        """A no-op: NumPy handles any memory layout (torch code calls it before ``view``)."""
        return self

    def mm(self, other: "Tensor") -> "Tensor":
        if self.ndim != 2 or np.ndim(_raw(other)) != 2:
            raise RuntimeError(f"mm: both arguments must be matrices (2-D), got {self.ndim}-D and {np.ndim(_raw(other))}-D")
        return self @ other

    @property
    def T(self) -> "Tensor":
        return self.permute(tuple(reversed(range(self.ndim))))

    def expand(self, *shape: Any) -> "Tensor":
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        shape = tuple(s if n == -1 else n for n, s in
                      zip(shape, (1,) * (len(shape) - self.ndim) + self.shape))
        x = self
        try:
            out = np.broadcast_to(x.data, shape)
        except ValueError:
            raise RuntimeError(f"expand: the shape {tuple(x.shape)} cannot be expanded to {shape}: "
                               f"only dimensions of size 1 can grow") from None
        return attach(Tensor._wrap(out), (x,),
                      lambda g: (unbroadcast(g, x.shape),))

    def repeat(self, *sizes: Any) -> "Tensor":
        """Tile the tensor ``sizes[i]`` times along dim i (extra leading sizes add dimensions), as torch's
        ``repeat`` (NumPy's ``tile``; not NumPy's ``repeat``, which repeats elements). Every output
        element is a copy of one input, so the gradient sums the copies: view g as (r0, n0, r1, n1, ...)
        and sum over the r axes."""
        if len(sizes) == 1 and not isinstance(sizes[0], numbers.Integral):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise RuntimeError(f"Number of dimensions of repeat dims can not be smaller than number of dimensions "
                               f"of tensor: repeat{tuple(sizes)} on shape {self.shape}")
        if any(not isinstance(r, numbers.Integral) or r < 0 for r in sizes):
            raise RuntimeError(f"repeat: every size must be an integer >= 0, got {tuple(sizes)}")
        x = self
        padded = (1,) * (len(sizes) - x.ndim) + x.shape
        out = np.tile(x.data.reshape(padded), sizes)

        def backward(g):
            pairs = tuple(d for r, n in zip(sizes, padded) for d in (r, n))
            return (g.reshape(pairs).sum(axis=tuple(range(0, len(pairs), 2))).reshape(x.shape),)
        return attach(Tensor._wrap(out), (x,), backward)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple["Tensor", ...]:
        """Cut along ``dim`` into pieces of ``split_size`` (the last may be smaller) or of the listed
        sizes, as torch. Each piece is a slice ``x[..., a:b, ...]``, so indexing's backward carries the
        gradients back (zeros outside the piece, summed where several pieces are used)."""
        axis = _dim(dim, self.ndim)
        n = self.shape[axis]
        if isinstance(split_size_or_sections, numbers.Integral):
            size = int(split_size_or_sections)
            if size <= 0:
                raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
            sizes = [min(size, n - i) for i in range(0, n, size)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                                   f"at dimension {axis}), but got split_sizes={sizes}")
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        lead = (slice(None),) * axis
        return tuple(self[lead + (slice(int(a), int(b)),)] for a, b in zip(bounds[:-1], bounds[1:]))

    def chunk(self, chunks: int, dim: int = 0) -> tuple["Tensor", ...]:
        """``chunks`` pieces of ceil(n / chunks) along ``dim`` (fewer when they run out first), as torch."""
        if not isinstance(chunks, numbers.Integral) or chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[_dim(dim, self.ndim)]
        return self.split(max(-(-n // chunks), 1), dim)

    def unbind(self, dim: int = 0) -> tuple["Tensor", ...]:
        """The slices along ``dim``, that dimension removed: ``a, b = pair.unbind(1)``."""
        axis = _dim(dim, self.ndim)
        lead = (slice(None),) * axis
        return tuple(self[lead + (i,)] for i in range(self.shape[axis]))

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: Any) -> bool:
        return equal(self, other)

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

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[i] = v``, as torch: the same tensor, changed. Where autograd records (``x`` or ``v`` needs a
        gradient and grad mode is on), a leaf that requires grad is refused, as torch refuses it, and
        otherwise ``x`` becomes the result of the assignment in the graph: the gradient reaches ``v`` at
        the assigned places and what ``x`` was everywhere else. (There was no item assignment at all:
        "'Tensor' object does not support item assignment".) As for ``x += ...``, a value that an
        earlier operation saved for its backward is not checked, unlike torch."""
        index = _raw_index(index)
        v = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))
        recording = is_grad_enabled() and (self.requires_grad or v.requires_grad)
        if recording and self.requires_grad and self.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation "
                               "(x[...] = ...); do it under scratch.no_grad(), or on a copy: x = x.clone()")
        target = self.data.copy() if recording else self.data
        try:
            target[index] = v.data
        except ValueError:
            if not target.flags.writeable:
                raise RuntimeError("x[...] = ...: this tensor is a read-only view (of expand, or of a read-only "
                                   "array); change a copy: x = x.clone()") from None
            picked = np.shape(target[index])
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
                               f"indexing result of shape {list(picked)}") from None
        if not recording:
            return
        before = Tensor._wrap(self.data)  # what x was: it takes over x's place in the graph
        before.requires_grad, before._parents, before._backward = self.requires_grad, self._parents, self._backward
        before._graph_freed = self._graph_freed

        def backward(g):
            kept = np.array(g, copy=True)
            kept[index] = 0
            return kept, (unbroadcast(np.asarray(g[index]), v.shape) if v.requires_grad else None)
        self.data, self._graph_freed = target, False
        attach(self, (before, v), backward)

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
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape != b.shape:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] "
                               f"to have the same number of elements")
        return (a * b).sum()
    if a.ndim == 1:
        return matmul(a.reshape(1, -1), b).squeeze(-2)
    if b.ndim == 1:
        return matmul(a, b.reshape(-1, 1)).squeeze(-1)

    def backward(g):
        ga = unbroadcast(g @ np.swapaxes(b.data, -1, -2), a.shape) if a.requires_grad else None
        gb = unbroadcast(np.swapaxes(a.data, -1, -2) @ g, b.shape) if b.requires_grad else None
        return ga, gb
    try:
        out = np.matmul(a.data, b.data)
    except ValueError:
        if a.shape[-1] != b.shape[-2]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape))} and "
                               f"{'x'.join(map(str, b.shape))})") from None
        raise RuntimeError(f"matmul: the batch dimensions of {a.shape} and {b.shape} "
                           f"do not broadcast together") from None
    return attach(Tensor._wrap(out), (a, b), backward)


def _tensor_pow(a: Tensor, b: Tensor) -> Tensor:
    """``a ** b`` for two tensors, with torch's derivatives: ``b a^(b-1)`` (0 where b is 0) and
    ``a^b log a`` (0 where a is 0 and b >= 0). It was ``exp(b log a)``: NaN for every negative base,
    ``tensor([-2.0]) ** tensor([2.0])`` included, and float64 for two integer tensors."""
    dtype = result_type(a, b)
    x, p = a.data.astype(dtype, copy=False), b.data.astype(dtype, copy=False)
    out = _broadcasting(np.power, a, b, dtype)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = unbroadcast(np.where(p == 0, 0, g * p * x ** (p - 1)), a.shape) if a.requires_grad else None
            gb = unbroadcast(g * np.where((x == 0) & (p >= 0), 0, out * np.log(x)), b.shape) if b.requires_grad else None
        return ga, gb
    return attach(Tensor._wrap(out), (a, b), backward)


def cat(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    axis = _dim(dim, tensors[0].ndim)
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis, dtype=result_type(*tensors))
    except ValueError:
        i = next(i for i, t in enumerate(tensors) if t.ndim != tensors[0].ndim or
                 t.shape[:axis] + t.shape[axis + 1:] != tensors[0].shape[:axis] + tensors[0].shape[axis + 1:])
        raise RuntimeError(f"cat(): tensors must have the same shape except in dimension {axis}: "
                           f"tensor 0 has shape {tensors[0].shape}, tensor {i} has shape {tensors[i].shape}") from None
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return attach(Tensor._wrap(out), tensors,
                  lambda g: tuple(np.split(g, bounds, axis=axis)))


def stack(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    axis = _dim(dim, tensors[0].ndim + 1)
    try:
        out = np.stack([t.data for t in tensors], axis=axis, dtype=result_type(*tensors))
    except ValueError:
        i = next(i for i, t in enumerate(tensors) if t.shape != tensors[0].shape)
        raise RuntimeError(f"stack expects each tensor to be equal size, but got {tensors[0].shape} "
                           f"at entry 0 and {tensors[i].shape} at entry {i}") from None
    return attach(Tensor._wrap(out), tensors,
                  lambda g: tuple(np.moveaxis(g, axis, 0)))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Pick from ``a`` where ``condition`` holds, else from ``b`` (gradients follow the pick)."""
    cond = np.asarray(_raw(condition), dtype=bool)
    a, b = (x if isinstance(x, Tensor) or np.ndim(x) == 0 else Tensor(x) for x in (a, b))
    dtype = result_type(a, b)  # where(mask, int_tensor, 0.5) is float32: the 0.5 was cast to 0
    a, b = (x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x, dtype=dtype)) for x in (a, b))
    try:
        out = np.where(cond, a.data.astype(dtype, copy=False), b.data.astype(dtype, copy=False))
    except ValueError:
        raise RuntimeError(f"where: the condition {cond.shape}, a {a.shape} and b {b.shape} "
                           f"do not broadcast to one shape") from None
    return attach(Tensor._wrap(out), (a, b),
                  lambda g: (unbroadcast(np.where(cond, g, 0), a.shape),
                             unbroadcast(np.where(cond, 0, g), b.shape)))


def allclose(a: Tensor, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """``|a - b| <= atol + rtol |b|`` everywhere (shapes broadcast), a Python bool, as ``torch.allclose``."""
    try:
        return bool(np.allclose(_raw(a), _raw(b), rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise _broadcast_error(np.shape(_raw(a)), np.shape(_raw(b))) from None


def equal(a: Tensor, b: Tensor) -> bool:
    """True if both have the same shape and the same elements (a Python bool), as ``torch.equal``."""
    return bool(np.array_equal(_raw(a), _raw(b)))


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a tensor. Floating data becomes float32 unless ``dtype=scratch.float64`` is asked.

    As ``torch.tensor``, it copies: an optimizer step or ``w -= ...`` changes the tensor, never the
    NumPy array (or tensor) it was made from (two runs started from one ``w0`` began the second
    from the first's result). A torch tensor is read detached."""
    if type(data).__module__.startswith("torch"):
        data = data.detach().cpu().numpy()
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    source = data.data if isinstance(data, Tensor) else data
    if isinstance(source, np.ndarray) and np.shares_memory(t.data, source):
        t.data = t.data.copy()
    return t
