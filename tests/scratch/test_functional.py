"""Activations, conv/pool, normalisation, dropout and embedding against torch.nn.functional."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from nnforge import scratch
from nnforge.scratch import nn
from nnforge.scratch.nn import functional as F

from .helpers import compare, rand, s64

FAST = settings(max_examples=25, deadline=None)


@FAST
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=6), seed=st.integers(0, 2**16))
def test_activations(shape, seed):
    a = rand(np.random.default_rng(seed), *shape, low=-4, high=4)
    compare(F.relu, TF.relu, a)
    compare(F.sigmoid, torch.sigmoid, a)
    compare(F.tanh, torch.tanh, a)
    compare(lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1), a)
    compare(F.gelu, TF.gelu, a)
    compare(lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), a)
    compare(lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1), a)
    compare(lambda x: F.log_softmax(x, 0), lambda x: TF.log_softmax(x, 0), a)


def test_softmax_is_stable_for_huge_logits():
    x = s64([[1000.0, 0.0, -1000.0]])
    assert np.all(np.isfinite(F.log_softmax(x, -1).data))
    np.testing.assert_allclose(F.softmax(x, -1).data.sum(), 1.0)
    assert np.all(np.isfinite(F.sigmoid(s64([-800.0, 800.0])).data))


@FAST
@given(n=st.integers(1, 3), c=st.integers(1, 3), o=st.integers(1, 4), h=st.integers(3, 8), w=st.integers(3, 8),
       k=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_conv2d(n, c, o, h, w, k, stride, padding, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rand(rng, n, c, h, w), rand(rng, o, c, k, k)] + ([rand(rng, o)] if bias else [])
    compare(lambda *t: F.conv2d(*t, stride=stride, padding=padding),
            lambda *t: TF.conv2d(*t, stride=stride, padding=padding), *arrays)


def test_conv2d_rectangular_kernel_and_tuple_args():
    rng = np.random.default_rng(0)
    compare(lambda x, wt: F.conv2d(x, wt, stride=(1, 2), padding=(2, 1)),
            lambda x, wt: TF.conv2d(x, wt, stride=(1, 2), padding=(2, 1)),
            rand(rng, 2, 3, 7, 9), rand(rng, 4, 3, 3, 2))


def test_conv2d_takes_torchs_padding_words():
    rng = np.random.default_rng(0)
    x, wt = rand(rng, 1, 2, 5, 6), rand(rng, 3, 2, 3, 5)
    for word in ("same", "valid"):  # before: "invalid literal for int() with base 10: 's'"
        compare(lambda x, wt: F.conv2d(x, wt, padding=word), lambda x, wt: TF.conv2d(x, wt, padding=word), x, wt)
    assert scratch.nn.Conv2d(2, 3, 3, padding="same").padding == (1, 1)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        scratch.nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        F.conv2d(s64(x), s64(wt), padding="full")


@FAST
@given(k=st.integers(1, 3), stride=st.one_of(st.none(), st.integers(1, 3)), h=st.integers(3, 9),
       w=st.integers(3, 9), seed=st.integers(0, 2**16), data=st.data())
def test_pooling(k, stride, h, w, seed, data):
    padding = data.draw(st.integers(0, k // 2))
    a = rand(np.random.default_rng(seed), 2, 3, h, w)
    compare(lambda x: F.max_pool2d(x, k, stride, padding), lambda x: TF.max_pool2d(x, k, stride, padding), a)
    compare(lambda x: F.avg_pool2d(x, k, stride, padding), lambda x: TF.avg_pool2d(x, k, stride, padding), a)


@pytest.mark.parametrize("k, stride", [(2, None), (3, 3), (2, 1), (3, 2)])
def test_max_pooling_ties_send_the_gradient_to_the_first_maximum_as_torch_does(k, stride):
    # ReLU outputs are full of equal zeros: windows with ties, disjoint (k, k) and overlapping ones
    a = np.random.default_rng(k).integers(0, 2, size=(2, 3, 7, 8)).astype(np.float64)
    compare(lambda x: F.max_pool2d(x, k, stride), lambda x: TF.max_pool2d(x, k, stride), a)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(shape, training):
    rng = np.random.default_rng(0)
    c = shape[1]
    rm_s, rv_s = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    rm_t, rv_t = torch.tensor(rm_s.copy()), torch.tensor(rv_s.copy())
    rm_s, rv_s = rm_s.copy(), rv_s.copy()
    compare(lambda x, wt, b: F.batch_norm(x, rm_s, rv_s, wt, b, training=training, momentum=0.2),
            lambda x, wt, b: TF.batch_norm(x, rm_t, rv_t, wt, b, training=training, momentum=0.2),
            rand(rng, *shape), rand(rng, c), rand(rng, c))
    np.testing.assert_allclose(rm_s, rm_t.numpy(), rtol=1e-6)
    np.testing.assert_allclose(rv_s, rv_t.numpy(), rtol=1e-6)


def test_linear_and_embedding():
    rng = np.random.default_rng(0)
    compare(F.linear, TF.linear, rand(rng, 5, 3), rand(rng, 4, 3), rand(rng, 4))
    compare(F.linear, TF.linear, rand(rng, 2, 5, 3), rand(rng, 4, 3))
    idx = np.array([[0, 3, 3], [1, 0, 2]])
    compare(lambda wt: F.embedding(scratch.tensor(idx), wt), lambda wt: TF.embedding(torch.tensor(idx), wt),
            rand(rng, 4, 5))


def test_dropout():
    scratch.manual_seed(0)
    x = scratch.ones(2000, requires_grad=True)
    y = F.dropout(x, 0.25, training=True)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # gradient flows through the same mask
    assert F.dropout(x, 0.5, training=False) is x
    scratch.manual_seed(0)
    again = F.dropout(scratch.ones(2000), 0.25, training=True)
    np.testing.assert_array_equal(again.data, y.data)  # one seed, one mask


def test_scaled_dot_product_attention_matches_torch():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 6, 4)), rng.standard_normal((2, 3, 6, 4))
    compare(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention, q, k, v)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_dim_takes_torchs_implicit_dim_and_warns(shape, name):
    """torch picks dim 0 for 0-, 1- and 3-D input, else 1, and warns; scratch always took -1, so a 3-D
    input was normalised over another axis than the torch code being ported."""
    a = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
        compare(getattr(F, name), getattr(TF, name), a)
    module = {"softmax": nn.Softmax, "log_softmax": nn.LogSoftmax}[name]
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        compare(module(), getattr(torch.nn, module.__name__)(), a)


@pytest.mark.parametrize("shape,size", [((2, 3, 6, 4), 1), ((2, 3, 6, 4), (3, 2)), ((2, 3, 6, 4), (None, 2)),
                                        ((3, 4, 4), 2), ((1, 2, 5, 5), (5, 1))])
def test_adaptive_avg_pool2d_matches_torch(shape, size):
    a = np.random.default_rng(0).standard_normal(shape)
    compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), a)
    compare(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), a)


def test_adaptive_avg_pool2d_refuses_uneven_sizes_in_one_line():
    with pytest.raises(ValueError, match=r"output size \(4, 4\) for input 6x6: only sizes that divide") as e:
        nn.AdaptiveAvgPool2d(4)(s64(np.zeros((1, 1, 6, 6))))
    assert "\n" not in str(e.value)
