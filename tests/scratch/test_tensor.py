"""Tensor arithmetic, reductions and shape ops against PyTorch, with hypothesis shapes."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from nnforge import scratch

from .helpers import compare, rand, s64, t64

FAST = settings(max_examples=25, deadline=None)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


@FAST
@given(shapes=pairs, seed=st.integers(0, 2**16), op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcasting_arithmetic(shapes, seed, op):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, *shapes.input_shapes[0]), rand(rng, *shapes.input_shapes[1])
    if op == "div":
        b = np.sign(b) * (np.abs(b) + 0.5)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
          "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    compare(fn, fn, a, b)


@FAST
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16))
def test_unary_ops(shape, seed):
    rng = np.random.default_rng(seed)
    a = rand(rng, *shape, low=0.2, high=3.0)
    compare(lambda x: x.exp(), torch.exp, a)
    compare(lambda x: x.log(), torch.log, a)
    compare(lambda x: x.sqrt(), torch.sqrt, a)
    compare(lambda x: -x ** 3 + 2 * x - 1 / x, lambda x: -x ** 3 + 2 * x - 1 / x, a)
    compare(lambda x: (x - 1).abs(), lambda x: (x - 1).abs(), a)
    compare(lambda x: x.clamp(0.5, 2.0), lambda x: x.clamp(0.5, 2.0), a)


@FAST
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=5), seed=st.integers(0, 2**16),
       keepdim=st.booleans(), data=st.data())
def test_reductions(shape, seed, keepdim, data):
    rng = np.random.default_rng(seed)
    a = rand(rng, *shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    compare(lambda x: x.sum(), lambda x: x.sum(), a)
    compare(lambda x: x.sum(dim, keepdim=keepdim), lambda x: x.sum(dim, keepdim=keepdim), a)
    compare(lambda x: x.mean(dim, keepdim=keepdim), lambda x: x.mean(dim, keepdim=keepdim), a)
    compare(lambda x: x.max(dim, keepdim=keepdim)[0], lambda x: x.max(dim, keepdim=keepdim)[0], a)
    compare(lambda x: x.min(dim)[0], lambda x: x.min(dim)[0], a)
    if shape[dim] > 1:
        compare(lambda x: x.var(dim), lambda x: x.var(dim), a)
    compare(lambda x: x.max(), lambda x: x.max(), a)


@FAST
@given(batch=mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3),
       n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_matmul_batched_broadcast(batch, n, k, m, seed):
    rng = np.random.default_rng(seed)
    a = rand(rng, *batch.input_shapes[0], n, k)
    b = rand(rng, *batch.input_shapes[1], k, m)
    compare(lambda x, y: x @ y, lambda x, y: x @ y, a, b)


def test_matmul_vectors():
    rng = np.random.default_rng(0)
    compare(lambda x, y: x @ y, lambda x, y: x @ y, rand(rng, 3), rand(rng, 3))
    compare(lambda x, y: x @ y, lambda x, y: x @ y, rand(rng, 3), rand(rng, 3, 2))
    compare(lambda x, y: x @ y, lambda x, y: x @ y, rand(rng, 2, 4, 3), rand(rng, 3))


def test_shape_ops():
    rng = np.random.default_rng(1)
    a = rand(rng, 2, 3, 4)
    compare(lambda x: x.reshape(6, 4) * 2, lambda x: x.reshape(6, 4) * 2, a)
    compare(lambda x: x.view(-1), lambda x: x.view(-1), a)
    compare(lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), a)
    compare(lambda x: x.permute(1, 2, 0), lambda x: x.permute(1, 2, 0), a)
    compare(lambda x: x.flatten(1), lambda x: x.flatten(1), a)
    compare(lambda x: x.unsqueeze(1).squeeze(1), lambda x: x.unsqueeze(1).squeeze(1), a)
    compare(lambda x: x[:, 0].T, lambda x: x[:, 0].T, a)
    compare(lambda x: x[:1].expand(3, 3, 4), lambda x: x[:1].expand(3, 3, 4), a)


def test_indexing_basic_and_advanced():
    rng = np.random.default_rng(2)
    a = rand(rng, 5, 4)
    idx = np.array([0, 2, 2, 4])
    compare(lambda x: x[1:4, ::2], lambda x: x[1:4, ::2], a)
    compare(lambda x: x[-1], lambda x: x[-1], a)
    compare(lambda x: x[idx], lambda x: x[torch.tensor(idx)], a)  # repeated rows accumulate
    compare(lambda x: x[idx, [0, 1, 1, 3]], lambda x: x[torch.tensor(idx), torch.tensor([0, 1, 1, 3])], a)
    g = np.array([[0, 1], [3, 3], [2, 0], [1, 1], [0, 0]])
    compare(lambda x: x.gather(1, scratch.tensor(g)), lambda x: x.gather(1, torch.tensor(g)), a)


def test_cat_stack_where():
    rng = np.random.default_rng(3)
    a, b = rand(rng, 2, 3), rand(rng, 4, 3)
    compare(lambda x, y: scratch.cat([x, y, x], 0), lambda x, y: torch.cat([x, y, x], 0), a, b)
    compare(lambda x, y: scratch.stack([x, x * y[:2]], 1), lambda x, y: torch.stack([x, x * y[:2]], 1), a, b)
    c = a > 0
    compare(lambda x, y: scratch.where(c, x, y[:2]), lambda x, y: torch.where(torch.tensor(c), x, y[:2]), a, b)


def test_shared_subexpression_accumulates():
    rng = np.random.default_rng(4)
    a = rand(rng, 3, 3)
    compare(lambda x: (x * x + x @ x).sum(0) * x[0], lambda x: (x * x + x @ x).sum(0) * x[0], a)


def test_dtype_defaults_and_requests():
    assert scratch.tensor([1.0, 2.0]).dtype == np.float32
    assert scratch.tensor(np.zeros(2)).dtype == np.float32
    assert scratch.tensor([1.0], dtype=scratch.float64).dtype == np.float64
    assert scratch.tensor([1, 2]).dtype == np.int64
    x = scratch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3 + 1.5) / 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_no_grad_and_leaf_semantics():
    x = scratch.tensor([1.0, 2.0], requires_grad=True)
    with scratch.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    z = (x * 2).sum()
    z.backward()
    z2 = (x * 2).sum()
    z2.backward()  # gradients accumulate like torch
    np.testing.assert_allclose(x.grad.data, [4.0, 4.0])
    with pytest.raises(RuntimeError):
        scratch.tensor([1.0]).backward()
    with pytest.raises(RuntimeError):
        (x * 2).backward()  # non-scalar needs an explicit gradient


def test_leaf_grads_are_independent_arrays():
    a, b = s64([1.0, 2.0]), s64([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data *= 10
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])


def test_retain_grad_on_intermediate():
    x = s64([1.0, -2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)


def test_full_max_and_min_share_the_gradient_among_ties_as_torch():
    a = np.array([[1.0, 3.0], [3.0, 0.0], [0.0, 3.0]])
    compare(lambda x: x.max(), lambda x: x.max(), a)  # torch gives each of the three 3s a third; before, the first took all
    compare(lambda x: x.min() * 2, lambda x: x.min() * 2, a)


def test_a_scalar_result_is_a_0d_array_as_numpy_expects():
    loss = scratch.tensor([[1.0, 2.0], [3.0, 4.0]]).mean()  # arithmetic on a 0-d array gives a NumPy scalar
    assert np.asarray(loss).shape == () and float(np.asarray(loss)) == 2.5  # was: "object __array__ method not producing an array"
    assert isinstance(loss.numpy(), np.ndarray) and isinstance(scratch.tensor([1.0, 2.0]).var().detach().numpy(), np.ndarray)


def test_the_hand_written_gradient_descent_step_changes_the_leaf_in_place_as_torch():
    x, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0], [2.0]])
    losses = {}
    for lib, w in (("scratch", s64(np.zeros((2, 1)))), ("torch", torch.zeros(2, 1, dtype=torch.float64, requires_grad=True))):
        mod, start, losses[lib] = scratch if lib == "scratch" else torch, w, []
        xs, ys = (s64(x, grad=False), s64(y, grad=False)) if lib == "scratch" else (torch.tensor(x), torch.tensor(y))
        for _ in range(3):
            loss = ((xs @ w - ys) ** 2).mean()
            loss.backward()
            losses[lib].append(loss.item())
            with mod.no_grad():
                w -= 0.05 * w.grad  # before: rebound w to a new tensor with no .grad ('NoneType' object has no attribute 'zero_')
                w.grad.zero_()
        assert w is start
    np.testing.assert_allclose(losses["scratch"], losses["torch"], rtol=1e-12)


def test_in_place_ops_refuse_what_torch_refuses():
    leaf = scratch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        leaf += 1
    h = leaf * 2
    h += 1  # a non-leaf in the graph: the out-of-place result, gradients still right
    h.sum().backward()
    assert leaf.grad.tolist() == [2.0, 2.0]
    ints = scratch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type float64 can't be cast to the desired output type int64"):
        ints /= 2
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the broadcast shape \[3, 2\]"):
        ints += scratch.tensor(np.ones((3, 2), dtype=np.int64))


def test_an_integer_tensor_meeting_a_float_is_promoted_not_the_float_truncated():
    t = scratch.tensor([1, 2])  # before: the float was cast to int64: * 0.5 gave [0, 0], + 0.5 [1, 2], mean() 0
    assert (t * 0.5).tolist() == [0.5, 1.0] and (t + 0.5).tolist() == [1.5, 2.5] and (0.5 * t).tolist() == [0.5, 1.0]
    assert t.mean().item() == 1.5 and (t + np.array([0.5, 0.5])).tolist() == [1.5, 2.5]
    assert ((t > 1) * 2.5).tolist() == [0.0, 2.5] and ((t > 1) + 1).tolist() == [1, 2]
    assert (t * 2).dtype == np.int64 and (scratch.tensor([1.0]) * np.float64(0.5)).dtype == np.float32  # what stays as it was


def test_tensor_copies_its_data_as_torch_tensor_does():
    w0 = np.array([1.0, 2.0], dtype=np.float32)
    w = scratch.tensor(w0, requires_grad=True)
    (w * w).sum().backward()
    scratch.optim.SGD([w], lr=0.5).step()  # before: the step changed w0 too (the tensor shared its memory)
    assert w0.tolist() == [1.0, 2.0] and w.tolist() == [0.0, 0.0]
    assert scratch.tensor(w).data is not w.data
    assert scratch.tensor(torch.ones(2, requires_grad=True)).tolist() == [1.0, 1.0]  # was torch's "Can't call numpy() ..."


def test_no_grad_and_enable_grad_are_bare_decorators_too_as_in_torch():
    x = scratch.tensor([1.0], requires_grad=True)

    @scratch.no_grad  # before: "no_grad() takes 0 positional arguments but 1 was given"
    def frozen(a):
        return a * 2

    @scratch.enable_grad
    def tracked(a):
        return a * 2

    assert not frozen(x).requires_grad and tracked(x).requires_grad
    with scratch.no_grad():
        assert tracked(x).requires_grad and not (x * 2).requires_grad


def test_a_second_backward_through_one_graph_is_refused_unless_retained_as_in_torch():
    def run(lib, x, w):
        mod = scratch if lib == "scratch" else torch
        h = mod.tanh(x @ w)
        loss = (h * h).sum() + h.mean()
        loss.backward(retain_graph=True)
        loss.backward()  # gradients add up: twice the one backward's
        first = np.array(w.grad.tolist())
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            loss.backward()  # before: added the same gradients a third time, silently
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            (h * 2).sum().backward()  # a new loss over the used-up part of the graph
        assert np.array_equal(w.grad.tolist(), first)  # a refused backward adds nothing
        return w.grad

    rng = np.random.default_rng(0)
    x, w = rand(rng, 3, 4), rand(rng, 4, 2)
    s, t = run("scratch", s64(x, grad=False), s64(w)), run("torch", t64(x, grad=False), t64(w))
    np.testing.assert_allclose(s.data, t.numpy(), rtol=1e-12)
    leaf = scratch.tensor([1.0, 2.0], requires_grad=True)
    leaf.backward(scratch.ones(2))
    leaf.backward(scratch.ones(2))  # a leaf has no graph to use up: allowed, as torch
    assert leaf.grad.tolist() == [2.0, 2.0]


PROMOTIONS = {  # each made with scratch and with torch: the same dtype and values (before: the ones marked were float64)
    "tensor([1, 2])": lambda m: m.tensor([1, 2]),
    "tensor([1.0])": lambda m: m.tensor([1.0]),
    "tensor([True])": lambda m: m.tensor([True]),
    "zeros / ones / randn": lambda m: m.stack([m.zeros(2), m.ones(2), m.randn(2) * 0]),
    "arange(5)": lambda m: m.arange(5),
    "arange(0, 2, 0.5)": lambda m: m.arange(0, 2, 0.5),
    "full((2,), 1)": lambda m: m.full((2,), 1),  # was float32
    "full((2,), True)": lambda m: m.full((2,), True),  # was float32
    "full((2,), 1.5)": lambda m: m.full((2,), 1.5),
    "int * 0.5": lambda m: m.tensor([1, 2]) * 0.5,  # float64
    "0.5 - int": lambda m: 0.5 - m.tensor([1, 2]),  # float64
    "int * 2": lambda m: m.tensor([1, 2]) * 2,
    "int * np.float64": lambda m: m.tensor([1, 2]) * np.float64(0.5),  # float64
    "int / 2": lambda m: m.tensor([1, 2]) / 2,  # float64
    "int / int": lambda m: m.tensor([1, 3]) / m.tensor([2, 2]),  # float64
    "1 / int": lambda m: 1 / m.tensor([1, 2]),  # float64
    "int + float32": lambda m: m.tensor([1, 2]) + m.tensor([0.5, 0.5]),  # float64
    "int + float64": lambda m: m.tensor([1, 2]) + m.tensor([0.5, 0.5], dtype=m.float64),
    "float32 + float64 0-d": lambda m: m.tensor([1.0, 2.0]) + m.tensor(0.5, dtype=m.float64),  # float64
    "int + float32 0-d": lambda m: m.tensor([1, 2]) + m.tensor(0.5),  # float64
    "bool * 2.5": lambda m: m.tensor([True, False]) * 2.5,  # float64
    "bool + 1": lambda m: m.tensor([True, False]) + 1,
    "bool + bool": lambda m: m.tensor([True, False]) + m.tensor([True, True]),
    "bool / bool": lambda m: m.tensor([True]) / m.tensor([True]),  # float64
    "int ** 2": lambda m: m.tensor([1, 2]) ** 2,
    "int ** 0.5": lambda m: m.tensor([1, 4]) ** 0.5,  # float64
    "2 ** int": lambda m: 2 ** m.tensor([1, 2]),  # float64 (int64 in torch)
    "float ** int tensor": lambda m: m.tensor([-2.0, 3.0]) ** m.tensor([2, 3]),  # float64, and NaN for -2
    "int.exp / log / sqrt": lambda m: m.stack([m.tensor([1, 2]).exp(), m.tensor([1, 2]).log(), m.tensor([1, 4]).sqrt()]),  # float64
    "int.sigmoid / tanh": lambda m: m.stack([m.tensor([1, -2]).sigmoid(), m.tensor([1, -2]).tanh()]),  # sigmoid int64 [1, 0]
    "int.clamp(0.5, 1.5)": lambda m: m.tensor([0, 1, 2]).clamp(0.5, 1.5),  # float64
    "where(mask, int, 0.5)": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]), 0.5),  # int64 [1, 0]
    "cat([int, float32])": lambda m: m.cat([m.tensor([1]), m.tensor([0.5])]),  # float64
    "int.sum(), bool.sum()": lambda m: m.stack([m.tensor([1, 2]).sum(), m.tensor([True, True]).sum()]),
}


@pytest.mark.parametrize("case", PROMOTIONS)
def test_dtypes_are_promoted_as_torch_promotes_them(case):
    s, t = PROMOTIONS[case](scratch), PROMOTIONS[case](torch)
    assert str(s.dtype) == str(t.dtype).removeprefix("torch.")
    np.testing.assert_allclose(s.data, t.numpy(), rtol=1e-6)


def test_a_tensor_power_has_torchs_values_and_gradients():
    base = np.array([[0.0, 1.5, 0.7], [2.0, 0.3, 1.2]])
    exponent = np.array([[2.0, 0.5, -1.0], [0.0, 3.0, 1.5]])
    compare(lambda a, b: a ** b, lambda a, b: a ** b, base, exponent)
    sign = np.array([2.0, 3.0, 0.0])  # a negative base with integral exponents: was NaN (exp(b log a))
    compare(lambda a: a ** s64(sign, grad=False), lambda a: a ** torch.tensor(sign), -base)


def test_what_a_learner_writes_from_torch_works_the_same():
    x = np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 4.5]])
    for dim in (0, 1):
        s, t = s64(x, grad=False).max(dim), torch.tensor(x).max(dim)  # before: a plain tuple, no .values/.indices
        np.testing.assert_array_equal(s.values.data, t.values.numpy())
        np.testing.assert_array_equal(s.indices.data, t.indices.numpy())
        np.testing.assert_array_equal(s64(x, grad=False).min(dim=dim, keepdim=True).indices.data, torch.tensor(x).min(dim, keepdim=True).indices.numpy())
    values, indices = s64(x, grad=False).max(1)  # still unpacks
    assert values.tolist() == [3.0, 4.5] and indices.tolist() == [1, 2]
    with pytest.raises(TypeError, match="dim must be an int; for the elementwise maximum"):
        s64(x).max(s64(x))  # was "Boolean value of Tensor with more than one value is ambiguous"
    compare(lambda a: a.t() @ a, lambda a: a.t() @ a, x)  # was: no attribute 't'
    ones = np.ones((1, 2, 1, 3))
    for dim in ((0, 2), (0, 1), -2):  # a tuple of dims (torch 2) was a TypeError
        compare(lambda a, d=dim: a.squeeze(d) * 2, lambda a, d=dim: a.squeeze(d) * 2, ones)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        s = scratch.tensor([1.5]).var()  # was a ZeroDivisionError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.tensor([1.5]).var()
    assert np.isnan(s.item()) and np.isnan(t.item())
    compare(lambda a: a.var(1, correction=0) + a.std(0, keepdim=True, correction=2).sum(), lambda a: a.var(1, correction=0) + a.std(0, keepdim=True, correction=2).sum(),
            np.arange(12.0).reshape(4, 3) ** 1.5)  # correction= (torch 2) was a TypeError
    for lib in (scratch, torch):
        with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
            (lib.ones(2, requires_grad=True) * 2).requires_grad_(False)  # was accepted: the node left the graph
    for lib in (scratch, torch):  # an integer tensor cannot take part in autograd (requires_grad_ allowed it)
        with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
            lib.tensor([1, 2]).requires_grad_()
        with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
            lib.tensor([1, 2], requires_grad=True)


def test_item_assignment_changes_the_tensor_and_routes_gradients_as_torch():
    for lib in (scratch, torch):  # was: "'Tensor' object does not support item assignment"
        x = lib.zeros(2, 3)
        x[0] = 5.0
        x[1, [0, 2]] = lib.tensor([1.0, 2.0])
        assert x.tolist() == [[5.0, 5.0, 5.0], [1.0, 0.0, 2.0]]
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
            lib.ones(2, requires_grad=True)[0] = 1.0
        with pytest.raises(RuntimeError, match="shape mismatch|must match the existing size"):
            x[0] = lib.ones(2)
    rng = np.random.default_rng(2)

    def assign(lib):
        def f(w, v):
            h = w * 2
            h[1:, ::2] = v[:, :1] ** 2  # v broadcast into the slots; the gradient reaches w everywhere else
            y = lib.zeros(3, 4, dtype=w.dtype)
            y[0] = v[0, 0]  # a tensor without grad takes one with grad: it joins the graph
            return h * h + y
        return f
    compare(assign(scratch), assign(torch), rand(rng, 3, 4), rand(rng, 2, 2))


def test_the_rest_of_what_torch_code_calls():
    layers = [scratch.nn.Linear(2, 3), scratch.nn.ReLU(), scratch.nn.Linear(3, 1)]
    model = scratch.nn.Sequential(*layers)
    head = model[:-1]  # was a list: "'list' object is not callable"
    assert isinstance(head, scratch.nn.Sequential) and head(scratch.ones(4, 2)).shape == (4, 3)
    assert list(model[1:].state_dict()) == list(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))[1:].state_dict()) == ["2.weight", "2.bias"]
    listed = scratch.nn.ModuleList(layers)[::2]
    assert isinstance(listed, scratch.nn.ModuleList) and len(list(listed.parameters())) == 4
    x = np.array([0.0, 1.5, -2.0])
    compare(lambda a: a ** 0 + a.pow(2), lambda a: a ** 0 + a.pow(2), x)  # the ** 0 gradient at 0 was NaN
    compare(lambda a: a.reshape(3, 1).mm(a.reshape(1, 3)).contiguous(), lambda a: a.reshape(3, 1).mm(a.reshape(1, 3)).contiguous(), x)
    assert np.isnan(scratch.tensor([]).mean().item()) and np.isnan(torch.tensor([]).mean().item())  # was a ZeroDivisionError


# ---- repeat, split, chunk, unbind, cumsum, norm, add/sub/mul/div, allclose, equal: values and gradients as torch
def _weighted(pieces, lib):
    """Join the pieces scaled 1, 2, 3 ...: each piece's gradient then differs, so a mixed-up one shows."""
    return lib.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(pieces)])


@pytest.mark.parametrize("sizes", [(2, 1, 3), (2, 1, 3, 2), (1, 1, 1), (0, 2, 1)])
def test_repeat_matches_torch(sizes):
    a = np.random.default_rng(0).standard_normal((2, 3, 1))
    compare(lambda x: x.repeat(*sizes), lambda x: x.repeat(*sizes), a)
    compare(lambda x: x.repeat(sizes), lambda x: x.repeat(sizes), a)


@pytest.mark.parametrize("how", [("split", 2, 1), ("split", [1, 3, 1], 1), ("split", 5, -1),
                                 ("chunk", 3, 1), ("chunk", 4, 2), ("unbind", 0), ("unbind", -1)])
def test_split_chunk_unbind_match_torch(how):
    a = np.random.default_rng(1).standard_normal((2, 5, 6))
    name, *args = how
    s_pieces, t_pieces = getattr(s64(a), name)(*args), getattr(t64(a), name)(*args)
    assert [p.shape for p in s_pieces] == [tuple(p.shape) for p in t_pieces]
    compare(lambda x: _weighted(getattr(x, name)(*args), scratch), lambda x: _weighted(getattr(x, name)(*args), torch), a)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_matches_torch(dim):
    compare(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), np.random.default_rng(2).standard_normal((3, 4)))
    assert scratch.tensor([1, 2, 3]).cumsum(0).tolist() == [1, 3, 6]


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), "fro"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 2), True), (-1, True)])
def test_norm_matches_torch(p, dim, keepdim):
    a = np.random.default_rng(3).standard_normal((2, 3, 4))
    compare(lambda x: x.norm(p, dim, keepdim), lambda x: x.norm(p, dim, keepdim), a)


def test_norm_of_a_zero_row_has_zero_gradient_as_torch():
    a = np.zeros((2, 3))
    a[0] = [3.0, -4.0, 1.0]
    compare(lambda x: x.norm(dim=1), lambda x: x.norm(dim=1), a)  # composed (x*x).sum().sqrt() gives NaN there
    with pytest.raises(ValueError, match="p must be a number > 0"):
        s64(a).norm("nuc")


def test_method_forms_of_arithmetic_match_torch():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3)), rng.uniform(0.5, 2.0, (3,))
    for name, kw in (("add", {}), ("add", {"alpha": 2.5}), ("sub", {}), ("sub", {"alpha": -0.5}), ("mul", {}), ("div", {})):
        compare(lambda x, y: getattr(x, name)(y, **kw), lambda x, y: getattr(x, name)(y, **kw), a, b)
    assert scratch.tensor([1.0, 2.0]).add(1, alpha=3).tolist() == torch.tensor([1.0, 2.0]).add(1, alpha=3).tolist()


def test_allclose_and_equal_match_torch():
    pairs = [([1.0, 2.0], [1.0, 2.0 + 1e-9]), ([1.0, 2.0], [1.0, 2.1]), ([1.0, float("nan")], [1.0, float("nan")]),
             ([[1.0, 2.0]], [1.0, 2.0]), ([1.0, 2.0], [1.0, 2.0])]
    for a, b in pairs:
        s, t = (scratch.tensor(a), scratch.tensor(b)), (torch.tensor(a), torch.tensor(b))
        assert scratch.allclose(*s) is torch.allclose(*t) and s[0].allclose(s[1]) is t[0].allclose(t[1])
        assert scratch.allclose(*s, equal_nan=True) is torch.allclose(*t, equal_nan=True)
        assert scratch.equal(*s) is torch.equal(*t) and s[0].equal(s[1]) is t[0].equal(t[1])
    assert scratch.allclose(scratch.tensor([1.0]), scratch.tensor([1.05]), rtol=0.1)
