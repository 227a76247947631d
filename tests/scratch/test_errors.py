"""A misused scratch API raises one clear sentence naming the shapes or values, not NumPy's internals.

Each case names the scratch call, the exception type and message it must raise, and (where torch
has the same API) the torch call, which must raise too: the table documents the parity.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnforge import scratch
from nnforge.scratch import nn, optim
import nnforge.scratch.nn.functional as F

TORCH_ERRORS = (RuntimeError, ValueError, IndexError, TypeError, AssertionError, KeyError)


def r(*shape):
    return scratch.randn(*shape)


def tr(*shape):
    return torch.randn(*shape)


def _params():
    return nn.Linear(2, 2).parameters()


def _tparams():
    return torch.nn.Linear(2, 2).parameters()


CASES = {
    # a NumPy array where a tensor belongs: before, an AttributeError from deep in autograd ('requires_grad')
    "array into linear": (lambda: nn.Linear(2, 2)(np.ones((1, 2), np.float32)), TypeError,
                          r"linear\(\): argument 'input' must be Tensor, not ndarray; wrap it: scratch.tensor\(x\)",
                          lambda: torch.nn.Linear(2, 2)(np.ones((1, 2), np.float32))),
    "array into conv2d": (lambda: nn.Conv2d(1, 1, 3)(np.ones((1, 1, 4, 4), np.float32)), TypeError, "must be Tensor, not ndarray",
                          lambda: torch.nn.Conv2d(1, 1, 3)(np.ones((1, 1, 4, 4), np.float32))),
    # tensors and their ops
    "ragged tensor": (lambda: scratch.tensor([[1, 2], [3]]), ValueError, "rows of different lengths",
                      lambda: torch.tensor([[1, 2], [3]])),
    "matmul 2-D": (lambda: r(2, 3) @ r(2, 3), RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)",
                   lambda: tr(2, 3) @ tr(2, 3)),
    "matmul 1-D": (lambda: r(3) @ r(4), RuntimeError, r"expected tensor \[3\] and src \[4\]",
                   lambda: tr(3) @ tr(4)),
    "matmul 0-D": (lambda: scratch.tensor(2.0) @ r(3), RuntimeError, "at least 1D, but they are 0D and 1D",
                   lambda: torch.tensor(2.0) @ tr(3)),
    "add broadcast": (lambda: r(2, 3) + r(4), RuntimeError,
                      r"size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1",
                      lambda: tr(2, 3) + tr(4)),
    "mul broadcast": (lambda: r(2, 3) * r(2, 4), RuntimeError, r"tensor a \(3\) must match .* tensor b \(4\)",
                      lambda: tr(2, 3) * tr(2, 4)),
    "div broadcast": (lambda: r(2, 3) / r(5, 3), RuntimeError, r"tensor a \(2\) must match .* tensor b \(5\)",
                      lambda: tr(2, 3) / tr(5, 3)),
    "sub broadcast": (lambda: r(2, 3) - r(2), RuntimeError, r"tensor a \(3\) must match .* tensor b \(2\)",
                      lambda: tr(2, 3) - tr(2)),
    "reshape": (lambda: r(2, 3).reshape(4, 2), RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6",
                lambda: tr(2, 3).reshape(4, 2)),
    "view": (lambda: r(2, 3).view(5), RuntimeError, r"shape '\[5\]' is invalid for input of size 6",
             lambda: tr(2, 3).view(5)),
    "sum dim": (lambda: r(2, 3).sum(2), IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
                lambda: tr(2, 3).sum(2)),
    "mean dim": (lambda: r(2, 3).mean(-3), IndexError, "Dimension out of range", lambda: tr(2, 3).mean(-3)),
    "max dim": (lambda: r(2, 3).max(2), IndexError, "Dimension out of range", lambda: tr(2, 3).max(2)),
    "argmax dim": (lambda: r(2, 3).argmax(2), IndexError, "Dimension out of range", lambda: tr(2, 3).argmax(2)),
    "softmax dim": (lambda: r(2, 3).softmax(2), IndexError, "Dimension out of range", lambda: tr(2, 3).softmax(2)),
    "log_softmax dim": (lambda: F.log_softmax(r(2, 3), 5), IndexError, "Dimension out of range",
                        lambda: torch.nn.functional.log_softmax(tr(2, 3), 5)),
    "squeeze dim": (lambda: r(2, 3).squeeze(2), IndexError, "Dimension out of range", lambda: tr(2, 3).squeeze(2)),
    "unsqueeze dim": (lambda: r(2, 3).unsqueeze(4), IndexError, r"range of \[-3, 2\], but got 4",
                      lambda: tr(2, 3).unsqueeze(4)),
    "transpose dim": (lambda: r(2, 3).transpose(0, 2), IndexError, "Dimension out of range",
                      lambda: tr(2, 3).transpose(0, 2)),
    "flatten dim": (lambda: nn.Flatten(3)(r(2, 3)), IndexError, "Dimension out of range",
                    lambda: torch.nn.Flatten(3)(tr(2, 3))),
    "flatten order": (lambda: r(2, 3, 4).flatten(2, 1), RuntimeError, "start_dim .* cannot come after end_dim",
                      lambda: tr(2, 3, 4).flatten(2, 1)),
    "permute repeated": (lambda: r(2, 3).permute(0, 0), RuntimeError, r"dims \[0, 0\] must name each",
                         lambda: tr(2, 3).permute(0, 0)),
    "permute count": (lambda: r(2, 3).permute(0, 1, 2), RuntimeError, r"tensor's 2 dimensions exactly once",
                      lambda: tr(2, 3).permute(0, 1, 2)),
    "expand": (lambda: r(2, 3).expand(4, 3), RuntimeError, r"\(2, 3\) cannot be expanded to \(4, 3\)",
               lambda: tr(2, 3).expand(4, 3)),
    "cat shapes": (lambda: scratch.cat([r(2, 3), r(2, 4)]), RuntimeError,
                   r"except in dimension 0: tensor 0 has shape \(2, 3\), tensor 1 has shape \(2, 4\)",
                   lambda: torch.cat([tr(2, 3), tr(2, 4)])),
    "cat empty": (lambda: scratch.cat([]), RuntimeError, "non-empty list", lambda: torch.cat([])),
    "stack shapes": (lambda: scratch.stack([r(2, 3), r(2, 4)]), RuntimeError,
                     r"equal size, but got \(2, 3\) at entry 0 and \(2, 4\) at entry 1",
                     lambda: torch.stack([tr(2, 3), tr(2, 4)])),
    "where": (lambda: scratch.where(scratch.tensor([True, False]), r(3), r(3)), RuntimeError,
              r"condition \(2,\), a \(3,\) and b \(3,\) do not broadcast",
              lambda: torch.where(torch.tensor([True, False]), tr(3), tr(3))),
    "backward gradient shape": (lambda: (r(2, 3).requires_grad_() * 2).backward(scratch.ones(4)), RuntimeError,
                                r"gradient has a shape of \(4,\) and the tensor has a shape of \(2, 3\)",
                                lambda: (tr(2, 3).requires_grad_() * 2).backward(torch.ones(4))),
    # layers
    "Linear in_features": (lambda: nn.Linear(3, 4)(r(2, 5)), RuntimeError,
                           r"input of shape \(2, 5\) has 5 features, the weight of shape \(4, 3\) expects 3",
                           lambda: torch.nn.Linear(3, 4)(tr(2, 5))),
    "F.linear": (lambda: F.linear(r(2, 5), r(4, 3)), RuntimeError, "has 5 features, .* expects 3",
                 lambda: torch.nn.functional.linear(tr(2, 5), tr(4, 3))),
    "Perceptron": (lambda: nn.Perceptron(3)(r(2, 4)), RuntimeError, "cannot be multiplied", None),
    "BatchNorm2d channels": (lambda: nn.BatchNorm2d(4)(r(2, 3, 5, 5)), RuntimeError,
                             r"running_mean should contain 3 elements .*\(2, 3, 5, 5\)\), not 4",
                             lambda: torch.nn.BatchNorm2d(4)(tr(2, 3, 5, 5))),
    "BatchNorm2d channels eval": (lambda: nn.BatchNorm2d(4).eval()(r(2, 3, 5, 5)), RuntimeError,
                                  "running_mean should contain 3 elements",
                                  lambda: torch.nn.BatchNorm2d(4).eval()(tr(2, 3, 5, 5))),
    "BatchNorm1d features": (lambda: nn.BatchNorm1d(4)(r(2, 3)), RuntimeError, "should contain 3 elements",
                             lambda: torch.nn.BatchNorm1d(4)(tr(2, 3))),
    "BatchNorm1d one value": (lambda: nn.BatchNorm1d(3)(r(1, 3)), ValueError,
                              r"more than 1 value per channel when training, got input of shape \(1, 3\)",
                              lambda: torch.nn.BatchNorm1d(3)(tr(1, 3))),
    "F.batch_norm": (lambda: F.batch_norm(r(2, 3), np.zeros(4, np.float32), np.ones(4, np.float32)), RuntimeError,
                     "running_mean should contain 3 elements",
                     lambda: torch.nn.functional.batch_norm(tr(2, 3), torch.zeros(4), torch.ones(4))),
    "BatchNorm2d dims": (lambda: nn.BatchNorm2d(3)(r(2, 3, 5)), ValueError, r"expects 4-D input, got 3-D input of shape \(2, 3, 5\)",
                         lambda: torch.nn.BatchNorm2d(3)(tr(2, 3, 5))),
    "LayerNorm": (lambda: nn.LayerNorm(4)(r(2, 3)), RuntimeError,
                  r"normalized_shape=\[4\] expects an input of shape \[\*, 4\], got an input of shape \[2, 3\]",
                  lambda: torch.nn.LayerNorm(4)(tr(2, 3))),
    "LayerNorm 2 dims": (lambda: nn.LayerNorm((2, 4))(r(2, 3, 4)), RuntimeError, r"\[\*, 2, 4\]",
                         lambda: torch.nn.LayerNorm((2, 4))(tr(2, 3, 4))),
    "Embedding range": (lambda: nn.Embedding(5, 3)(scratch.tensor([1, 7])), IndexError,
                        r"the table has 5 rows \(valid indices 0..4\)",
                        lambda: torch.nn.Embedding(5, 3)(torch.tensor([1, 7]))),
    "Embedding negative": (lambda: nn.Embedding(5, 3)(scratch.tensor([1, -1])), IndexError, "index out of range",
                           lambda: torch.nn.Embedding(5, 3)(torch.tensor([1, -1]))),
    "Embedding float": (lambda: nn.Embedding(5, 3)(scratch.tensor([1.0, 2.0])), TypeError, "indices must be integers",
                        lambda: torch.nn.Embedding(5, 3)(torch.tensor([1.0, 2.0]))),
    "MaxPool2d 2-D": (lambda: nn.MaxPool2d(2)(r(2, 3)), ValueError,
                      r"max_pool2d: expected a 4-D \(N, C, H, W\) input, got 2-D input of shape \(2, 3\)",
                      lambda: torch.nn.MaxPool2d(2)(tr(2, 3))),
    "AvgPool2d 2-D": (lambda: nn.AvgPool2d(2)(r(2, 3)), ValueError, "avg_pool2d: expected a 4-D",
                      lambda: torch.nn.AvgPool2d(2)(tr(2, 3))),
    "MaxPool2d kernel too big": (lambda: nn.MaxPool2d(5)(r(1, 1, 3, 3)), ValueError,
                                 "input of 3x3 pixels is smaller than the 5x5 kernel",
                                 lambda: torch.nn.MaxPool2d(5)(tr(1, 1, 3, 3))),
    "MaxPool2d padding": (lambda: nn.MaxPool2d(2, padding=2)(r(1, 1, 6, 6)), ValueError,
                          "padding should be at most half of the kernel size",
                          lambda: torch.nn.MaxPool2d(2, padding=2)(tr(1, 1, 6, 6))),
    "MaxPool2d stride 0": (lambda: nn.MaxPool2d(2, stride=0)(r(1, 1, 5, 5)), ValueError,
                           "stride should be greater than zero",
                           lambda: torch.nn.MaxPool2d(2, stride=0)(tr(1, 1, 5, 5))),
    "Conv2d 2-D": (lambda: nn.Conv2d(3, 4, 3)(r(3, 5)), ValueError,
                   r"conv2d: expected a 4-D \(N, C, H, W\) input, got 2-D input of shape \(3, 5\)",
                   lambda: torch.nn.Conv2d(3, 4, 3)(tr(3, 5))),
    "Conv2d kernel too big": (lambda: nn.Conv2d(1, 4, 5)(r(1, 1, 3, 3)), ValueError,
                              "input of 3x3 pixels is smaller than the 5x5 kernel",
                              lambda: torch.nn.Conv2d(1, 4, 5)(tr(1, 1, 3, 3))),
    "Conv2d stride 0": (lambda: nn.Conv2d(1, 1, 3, stride=0)(r(1, 1, 5, 5)), ValueError,
                        "stride should be greater than zero",
                        lambda: torch.nn.Conv2d(1, 1, 3, stride=0)(tr(1, 1, 5, 5))),
    "LSTM input_size": (lambda: nn.LSTM(3, 4, batch_first=True)(r(2, 5, 2)), RuntimeError,
                        r"input.size\(-1\) must be equal to input_size. Expected 3, got 2",
                        lambda: torch.nn.LSTM(3, 4, batch_first=True)(tr(2, 5, 2))),
    "RNN input_size": (lambda: nn.RNN(3, 4)(r(5, 2, 2)), RuntimeError, "Expected 3, got 2",
                       lambda: torch.nn.RNN(3, 4)(tr(5, 2, 2))),
    "LSTM 4-D": (lambda: nn.LSTM(3, 4)(r(5, 2, 3, 1)), ValueError,
                 r"expected a 3-D \(seq, batch, feature\) input, got shape \(5, 2, 3, 1\)",
                 lambda: torch.nn.LSTM(3, 4)(tr(5, 2, 3, 1))),
    "LSTM h0": (lambda: nn.LSTM(3, 4)(r(5, 2, 3), (r(1, 2, 5), r(1, 2, 4))), RuntimeError,
                r"expected h0 of shape \(1, 2, 4\) \(num_layers, batch, hidden_size\), got \(1, 2, 5\)",
                lambda: torch.nn.LSTM(3, 4)(tr(5, 2, 3), (tr(1, 2, 5), tr(1, 2, 4)))),
    "LSTM c0": (lambda: nn.LSTM(3, 4)(r(5, 2, 3), (r(1, 2, 4), r(2, 2, 4))), RuntimeError,
                r"expected c0 of shape \(1, 2, 4\)",
                lambda: torch.nn.LSTM(3, 4)(tr(5, 2, 3), (tr(1, 2, 4), tr(2, 2, 4)))),
    "RNN h0": (lambda: nn.RNN(3, 4)(r(5, 2, 3), r(1, 3, 4)), RuntimeError, r"expected h0 of shape \(1, 2, 4\)",
               lambda: torch.nn.RNN(3, 4)(tr(5, 2, 3), tr(1, 3, 4))),
    "RNN nonlinearity": (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "Unknown nonlinearity 'sigmoid'",
                         lambda: torch.nn.RNN(3, 4, nonlinearity="sigmoid")),
    "MultiheadAttention embed": (lambda: nn.MultiheadAttention(4, 2, batch_first=True)(r(2, 3, 5), r(2, 3, 5), r(2, 3, 5)),
                                 ValueError, r"query with embed_dim 4, got shape \(2, 3, 5\)",
                                 lambda: torch.nn.MultiheadAttention(4, 2, batch_first=True)(tr(2, 3, 5), tr(2, 3, 5), tr(2, 3, 5))),
    "MultiheadAttention key/value": (lambda: nn.MultiheadAttention(4, 2)(r(3, 2, 4), r(5, 2, 4), r(6, 2, 4)), ValueError,
                                     r"key of shape \(5, 2, 4\) and value of shape \(6, 2, 4\)",
                                     lambda: torch.nn.MultiheadAttention(4, 2)(tr(3, 2, 4), tr(5, 2, 4), tr(6, 2, 4))),
    "MultiheadAttention batch": (lambda: nn.MultiheadAttention(4, 2)(r(3, 2, 4), r(5, 3, 4), r(5, 3, 4)), ValueError,
                                 "must have the same batch size",
                                 lambda: torch.nn.MultiheadAttention(4, 2)(tr(3, 2, 4), tr(5, 3, 4), tr(5, 3, 4))),
    "MultiheadAttention heads 0": (lambda: nn.MultiheadAttention(4, 0), ValueError, "embed_dim and num_heads must be positive integers, got embed_dim=4 and num_heads=0",
                                   lambda: torch.nn.MultiheadAttention(4, 0)),
    "attention features": (lambda: F.scaled_dot_product_attention(r(2, 3, 4), r(2, 3, 5), r(2, 3, 5)), RuntimeError,
                           "must have the same last",
                           lambda: torch.nn.functional.scaled_dot_product_attention(tr(2, 3, 4), tr(2, 3, 5), tr(2, 3, 5))),
    "attention lengths": (lambda: F.scaled_dot_product_attention(r(2, 3, 4), r(2, 5, 4), r(2, 6, 4)), RuntimeError,
                          r"the same length \(dimension -2\)",
                          lambda: torch.nn.functional.scaled_dot_product_attention(tr(2, 3, 4), tr(2, 5, 4), tr(2, 6, 4))),
    "dropout p": (lambda: F.dropout(r(2, 3), 1.5), ValueError, "between 0 and 1, but got 1.5",
                  lambda: torch.nn.functional.dropout(tr(2, 3), 1.5)),
    "GELU approximate": (lambda: nn.GELU("fast")(r(2)), ValueError, "'none' or 'tanh', got 'fast'",
                         lambda: torch.nn.GELU("fast")(tr(2))),
    # losses
    "cross_entropy target range": (lambda: F.cross_entropy(r(2, 3), [0, 5]), IndexError,
                                   r"Target 5 is out of bounds: class indices must lie in 0..2",
                                   lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0, 5]))),
    "cross_entropy negative target": (lambda: F.cross_entropy(r(2, 3), [0, -5]), IndexError, "Target -5 is out of bounds",
                                      lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0, -5]))),
    "cross_entropy target -1": (lambda: F.cross_entropy(r(2, 3), [0, -1]), IndexError, "Target -1 is out of bounds",
                                lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0, -1]))),
    "nll_loss target -2": (lambda: F.nll_loss(r(2, 3), [0, -2]), IndexError, "Target -2 is out of bounds",
                           lambda: torch.nn.functional.nll_loss(tr(2, 3), torch.tensor([0, -2]))),
    "cross_entropy batch": (lambda: F.cross_entropy(r(2, 3), [0, 1, 2]), ValueError,
                            r"input batch_size \(2\) to match target batch_size \(3\)",
                            lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0, 1, 2]))),
    "cross_entropy 3-D": (lambda: F.cross_entropy(r(2, 3, 4), [0, 1]), ValueError,
                          r"expected input of shape \(N, C\) .* got shape \(2, 3, 4\)",
                          lambda: torch.nn.functional.cross_entropy(tr(2, 3, 4), torch.tensor([0, 1]))),
    "cross_entropy probabilities": (lambda: F.cross_entropy(r(2, 3), np.ones((2, 4)) / 4), ValueError,
                                    r"target of shape \(2,\) \(class indices\) or \(2, 3\) \(class probabilities\), got shape \(2, 4\)",
                                    lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.ones(2, 4) / 4)),
    "cross_entropy weight": (lambda: F.cross_entropy(r(2, 3), [0, 1], weight=[1.0, 1.0]), RuntimeError,
                             r"one entry per class \(3\), got shape \(2,\)",
                             lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0, 1]), weight=torch.ones(2))),
    "cross_entropy float indices": (lambda: F.cross_entropy(r(2, 3), np.array([0.0, 1.0])), TypeError,
                                    "class-index targets must be integers",
                                    lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0.0, 1.0]))),
    "cross_entropy smoothing": (lambda: F.cross_entropy(r(2, 3), [0, 1], label_smoothing=1.5), ValueError,
                                "label_smoothing must be between 0.0 and 1.0",
                                lambda: torch.nn.functional.cross_entropy(tr(2, 3), torch.tensor([0, 1]), label_smoothing=1.5)),
    "CrossEntropyLoss target": (lambda: nn.CrossEntropyLoss()(r(2, 3), [0, 5]), IndexError, "Target 5 is out of bounds",
                                lambda: torch.nn.CrossEntropyLoss()(tr(2, 3), torch.tensor([0, 5]))),
    "nll_loss target": (lambda: F.nll_loss(r(2, 3), [0, 5]), IndexError, "Target 5 is out of bounds",
                        lambda: torch.nn.functional.nll_loss(tr(2, 3), torch.tensor([0, 5]))),
    "nll_loss batch": (lambda: F.nll_loss(r(2, 3), [0, 1, 2]), ValueError, r"batch_size \(2\) to match target batch_size \(3\)",
                       lambda: torch.nn.functional.nll_loss(tr(2, 3), torch.tensor([0, 1, 2]))),
    "focal_loss target": (lambda: F.focal_loss(r(2, 3), [0, 5]), IndexError, "Target 5 is out of bounds", None),
    "mse_loss shapes": (lambda: F.mse_loss(r(2, 3), r(3, 2)), RuntimeError, r"tensor a \(3\) must match .* tensor b \(2\)",
                        lambda: torch.nn.functional.mse_loss(tr(2, 3), tr(3, 2))),
    "l1_loss shapes": (lambda: nn.functional.l1_loss(r(2, 3), r(4, 3)), RuntimeError, r"tensor a \(2\) must match .* tensor b \(4\)",
                       lambda: torch.nn.functional.l1_loss(tr(2, 3), tr(4, 3))),
    "binary_cross_entropy shapes": (lambda: F.binary_cross_entropy(scratch.rand(2, 3), scratch.rand(3, 2)), ValueError,
                                    r"target of shape \(3, 2\) must have the same shape as the input \(2, 3\)",
                                    lambda: torch.nn.functional.binary_cross_entropy(torch.rand(2, 3), torch.rand(3, 2))),
    "BCEWithLogitsLoss shapes": (lambda: nn.BCEWithLogitsLoss()(r(4), r(4, 1)), ValueError,
                                 r"target of shape \(4, 1\) must have the same shape as the input \(4,\)",
                                 lambda: torch.nn.BCEWithLogitsLoss()(tr(4), tr(4, 1))),
    "binary_cross_entropy reduction": (lambda: F.binary_cross_entropy(scratch.rand(2), scratch.rand(2), reduction="avg"),
                                       ValueError, "reduction must be one of",
                                       lambda: torch.nn.functional.binary_cross_entropy(torch.rand(2), torch.rand(2), reduction="avg")),
    "bce_with_logits reduction": (lambda: F.binary_cross_entropy_with_logits(r(2), r(2), reduction="avg"),
                                  ValueError, "reduction must be one of",
                                  lambda: torch.nn.functional.binary_cross_entropy_with_logits(tr(2), tr(2), reduction="avg")),
    # optimizers and schedules
    "SGD negative lr": (lambda: optim.SGD(_params(), lr=-1), ValueError, "SGD: invalid lr -1",
                        lambda: torch.optim.SGD(_tparams(), lr=-1)),
    "Adam negative lr": (lambda: optim.Adam(_params(), lr=-0.1), ValueError, "invalid lr -0.1",
                         lambda: torch.optim.Adam(_tparams(), lr=-0.1)),
    "Adam betas": (lambda: optim.Adam(_params(), betas=(1.5, 0.9)), ValueError, r"invalid betas \(1.5, 0.9\)",
                   lambda: torch.optim.Adam(_tparams(), betas=(1.5, 0.9))),
    "Adam eps": (lambda: optim.Adam(_params(), eps=-1), ValueError, "invalid eps -1",
                 lambda: torch.optim.Adam(_tparams(), eps=-1)),
    "AdamW weight_decay": (lambda: optim.AdamW(_params(), weight_decay=-1), ValueError, "invalid weight_decay -1",
                           lambda: torch.optim.AdamW(_tparams(), weight_decay=-1)),
    "SGD momentum": (lambda: optim.SGD(_params(), lr=0.1, momentum=-1), ValueError, "invalid momentum -1",
                     lambda: torch.optim.SGD(_tparams(), lr=0.1, momentum=-1)),
    "RMSprop alpha": (lambda: optim.RMSprop(_params(), alpha=-1), ValueError, "invalid alpha -1",
                      lambda: torch.optim.RMSprop(_tparams(), alpha=-1)),
    "lr group": (lambda: optim.SGD([{"params": list(_params()), "lr": -1}], lr=0.1), ValueError, "invalid lr -1",
                 None),  # torch checks only the default lr, and would step uphill
    "empty params": (lambda: optim.SGD([], lr=0.1), ValueError, "empty parameter list",
                     lambda: torch.optim.SGD([], lr=0.1)),
    "module as params": (lambda: optim.SGD(nn.Linear(2, 2), lr=0.1), TypeError,
                         r"iterable of Tensors or dicts \(e.g. model.parameters\(\)\), got Linear",
                         lambda: torch.optim.SGD(torch.nn.Linear(2, 2), lr=0.1)),
    "tensor as params": (lambda: optim.SGD(nn.Linear(2, 2).weight, lr=0.1), TypeError, "got Parameter",
                         lambda: torch.optim.SGD(torch.nn.Linear(2, 2).weight, lr=0.1)),
    "array in params": (lambda: optim.SGD([np.zeros(3)], lr=0.1), TypeError, "one of the params is ndarray",
                        lambda: torch.optim.SGD([np.zeros(3)], lr=0.1)),
    "group without params": (lambda: optim.SGD([{"lr": 0.1}], lr=0.1), TypeError, "with a 'params' key",
                             lambda: torch.optim.SGD([{"lr": 0.1}], lr=0.1)),
    "StepLR step_size": (lambda: optim.lr_scheduler.StepLR(optim.SGD(_params(), lr=0.1), 0), ValueError,
                         "step_size must be a positive integer", None),
    "Cosine T_max": (lambda: optim.lr_scheduler.CosineAnnealingLR(optim.SGD(_params(), lr=0.1), 0), ValueError,
                     "T_max must be a positive number", None),
    "scheduler on a list": (lambda: optim.lr_scheduler.StepLR([1], 1), TypeError, "expected a scratch optimizer, got list",
                            lambda: torch.optim.lr_scheduler.StepLR([1], 1)),
    # state dicts, init, clipping
    "load_state_dict missing": (lambda: nn.Linear(2, 2).load_state_dict({"weight": np.zeros((2, 2))}), KeyError,
                                r"loading state_dict for Linear: missing keys \['bias'\], unexpected keys \[\]",
                                lambda: torch.nn.Linear(2, 2).load_state_dict({"weight": torch.zeros(2, 2)})),
    "load_state_dict unexpected": (lambda: nn.Linear(2, 2).load_state_dict(
                                       {"weight": np.zeros((2, 2)), "bias": np.zeros(2), "x": np.zeros(1)}),
                                   KeyError, r"unexpected keys \['x'\]",
                                   lambda: torch.nn.Linear(2, 2).load_state_dict(
                                       {"weight": torch.zeros(2, 2), "bias": torch.zeros(2), "x": torch.zeros(1)})),
    "load_state_dict shape": (lambda: nn.Linear(2, 2).load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)}),
                              ValueError, r"size mismatch for weight: .* shape \(3, 2\) .* current Linear is \(2, 2\)",
                              lambda: torch.nn.Linear(2, 2).load_state_dict({"weight": torch.zeros(3, 2), "bias": torch.zeros(2)})),
    "load_state_dict not a mapping": (lambda: nn.Linear(2, 2).load_state_dict([("weight", 1)]), TypeError,
                                      "expected a dict-like state dict",
                                      lambda: torch.nn.Linear(2, 2).load_state_dict([("weight", 1)])),
    "kaiming mode": (lambda: nn.init.kaiming_uniform_(scratch.zeros(3, 3), mode="fan"), ValueError,
                     "mode 'fan' is not supported",
                     lambda: torch.nn.init.kaiming_uniform_(torch.zeros(3, 3), mode="fan")),
    "xavier 1-D": (lambda: nn.init.xavier_uniform_(scratch.zeros(3)), ValueError, r"fewer than 2 dimensions \(got shape \(3,\)\)",
                   lambda: torch.nn.init.xavier_uniform_(torch.zeros(3))),
    "clip_grad_norm_ max_norm": (lambda: nn.utils.clip_grad_norm_(_params(), -1), ValueError,
                                 "max_norm must be a non-negative number, got -1", None),
    "clip_grad_norm_ norm_type": (lambda: nn.utils.clip_grad_norm_(_params(), 1.0, norm_type=0), ValueError,
                                  "norm_type must be positive", None),
    "clip_grad_value_": (lambda: nn.utils.clip_grad_value_(_params(), -1), ValueError,
                         "clip_value must be a non-negative number, got -1", None),
}


@pytest.mark.filterwarnings("ignore:Using a target size")  # torch warns, then raises
@pytest.mark.parametrize("name", list(CASES))
def test_misuse_raises_a_clear_error(name):
    scratch_fn, error, message, torch_fn = CASES[name]
    with pytest.raises(error, match=message) as info:
        scratch_fn()
    assert "\n" not in str(info.value)
    if torch_fn is not None:  # the same misuse is an error in PyTorch too
        with pytest.raises(TORCH_ERRORS):
            torch_fn()


def test_refused_state_dict_changes_nothing():
    """A shape mismatch in a later key no longer leaves the earlier keys loaded."""
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    bad = {k: np.ones_like(v) for k, v in before.items()}
    bad["1.weight"] = np.ones((2, 3))
    with pytest.raises(ValueError, match="size mismatch for 1.weight"):
        model.load_state_dict(bad)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_valid_inputs_still_work():
    """The checks leave the accepted forms alone: broadcasting, 0-d dims, probabilities, groups."""
    assert (r(2, 3) + r(3)).shape == (2, 3)
    assert scratch.tensor(3.0).sum(0).shape == ()
    assert r(2, 3).sum(-2).shape == (3,)
    assert F.cross_entropy(r(2, 3), np.full((2, 3), 1 / 3)).shape == ()
    assert F.focal_loss(r(2, 3), [0, 2], alpha=[1.0, 2.0, 3.0]).shape == ()
    opt = optim.SGD([{"params": list(_params()), "lr": 0.0}], lr=np.float32(0.1))
    optim.lr_scheduler.StepLR(opt, np.int64(2))
    assert nn.BatchNorm1d(3).eval()(r(1, 3)).shape == (1, 3)
    assert nn.MaxPool2d(2, padding=1)(r(1, 1, 3, 3)).shape == (1, 1, 2, 2)


@pytest.mark.parametrize("make, error, message, torch_make", [
    (lambda: nn.LSTM(3, 0), ValueError, "hidden_size must be greater than zero, got 0", lambda: torch.nn.LSTM(3, 0)),
    (lambda: nn.RNN(3, 4, num_layers=0), ValueError, "num_layers must be greater than zero, got 0",
     lambda: torch.nn.RNN(3, 4, num_layers=0)),
    (lambda: nn.MultiheadAttention(0, 1), ValueError, "got embed_dim=0 and num_heads=1",
     lambda: torch.nn.MultiheadAttention(0, 1)),
    (lambda: nn.Sequential(nn.ReLU())[3], IndexError, "index 3 is out of range for a Sequential of 1 modules",
     lambda: torch.nn.Sequential(torch.nn.ReLU())[3]),
    (lambda: nn.ModuleList([nn.ReLU()])[-2], IndexError, "index -2 is out of range for a ModuleList of 1 modules",
     lambda: torch.nn.ModuleList([torch.nn.ReLU()])[-2]),
], ids=["LSTM hidden 0", "RNN layers 0", "MultiheadAttention embed 0", "Sequential index", "ModuleList index"])
def test_constructor_and_container_misuse(make, error, message, torch_make):
    with pytest.raises(error, match=message):
        make()
    with pytest.raises(TORCH_ERRORS):
        torch_make()


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_zero_element_layers_build_as_in_torch():
    """``Linear(0, 3)`` used to die in Kaiming init with ZeroDivisionError; torch builds it (init is a no-op)."""
    assert nn.Linear(0, 3).weight.shape == torch.nn.Linear(0, 3).weight.shape == (3, 0)
    assert nn.init.xavier_normal_(scratch.zeros(0, 4)).shape == (0, 4)
    # Conv2d(0, ...) and a 0x0 kernel died on the bias bound 1/sqrt(0); torch builds them with a zero bias
    for args in ((0, 4, 3), (3, 4, 0)):
        conv, reference = nn.Conv2d(*args), torch.nn.Conv2d(*args)
        assert conv.weight.shape == tuple(reference.weight.shape) and not conv.bias.data.any() and not reference.bias.any()


def _adam_state(in_features):
    model = nn.Linear(in_features, 3)
    opt = optim.Adam(model.parameters())
    model(scratch.randn(1, in_features)).sum().backward()
    opt.step()
    return opt


@pytest.mark.parametrize("make, error, message, torch_make", [
    (lambda: F.linear(r(2, 3), r(4, 3), r(3)), RuntimeError,
     r"the bias of shape \(3,\) should have one entry per output feature \(4\)",
     lambda: torch.nn.functional.linear(tr(2, 3), tr(4, 3), tr(3))),
    (lambda: F.conv2d(r(1, 3, 5, 5), r(4, 3, 3, 3), r(3)), RuntimeError,
     r"expected a bias of 4 elements \(one per output channel\), got shape \(3,\)",
     lambda: torch.nn.functional.conv2d(tr(1, 3, 5, 5), tr(4, 3, 3, 3), tr(3))),
    (lambda: _adam_state(4).load_state_dict(_adam_state(2).state_dict()), ValueError,
     r"exp_avg of parameter 0 has shape \(3, 2\), the parameter has shape \(3, 4\)", None),  # torch fails at step()
    (lambda: _adam_state(2).load_state_dict({"state": {}, "param_groups": [{}, {}]}), ValueError,
     "the state has 2 parameter groups, this optimizer has 1", None),
    (lambda: _adam_state(2).load_state_dict({"state": {5: {}}, "param_groups": [{}]}), ValueError,
     "the state names parameter 5, this optimizer has 2 parameters", None),
    (lambda: _adam_state(2).load_state_dict({"weight": 1}), ValueError,
     r"expected a dict with 'state' and 'param_groups' .* with keys \['weight'\]",
     lambda: torch.optim.Adam(torch.nn.Linear(2, 3).parameters()).load_state_dict({"weight": 1})),
], ids=["linear bias", "conv2d bias", "optimizer state of another model", "optimizer groups",
        "optimizer parameter index", "optimizer state not one"])
def test_bias_and_optimizer_state_misuse(make, error, message, torch_make):
    with pytest.raises(error, match=message):
        make()
    if torch_make is not None:
        with pytest.raises(TORCH_ERRORS):
            torch_make()


def test_refused_optimizer_state_changes_nothing():
    opt = _adam_state(2)
    lr, state = opt.param_groups[0]["lr"], opt.state_dict()
    bad = {"state": {0: {"step": 1, "exp_avg": np.zeros((9, 9))}}, "param_groups": [{"lr": 5.0}]}
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == lr
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["exp_avg"], state["state"][0]["exp_avg"])


@pytest.mark.parametrize("state", [{}, {"last_epoch": 2}, {"last_epoch": "2", "base_lrs": [0.1]}, {"last_epoch": -1, "base_lrs": [0.1]},
                                   {"last_epoch": 2, "base_lrs": [0.1, 0.2]}, {"last_epoch": 2, "base_lrs": ["x"]}, [("last_epoch", 2)]],
                         ids=["empty", "no base_lrs", "epoch text", "epoch negative", "two groups", "lr text", "not a dict"])
def test_a_scheduler_state_that_is_not_one_is_one_error_and_changes_nothing(state):
    """Before: {} gave a bare KeyError: 'last_epoch', a text epoch loaded and failed at the next step(),
    and base_lrs of another group count were zipped away."""
    opt = optim.SGD(_params(), lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    scheduler.step()
    before = (scheduler.state_dict(), scheduler.get_last_lr())
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: expected a dict with 'last_epoch' .* and 'base_lrs' \(1 number, one "
                                         r"per parameter group\), from LRScheduler.state_dict\(\); got "):
        scheduler.load_state_dict(state)
    assert (scheduler.state_dict(), scheduler.get_last_lr()) == before
    fresh = optim.lr_scheduler.StepLR(optim.SGD(_params(), lr=0.1), 1, gamma=0.5)
    fresh.load_state_dict(before[0])  # its own state loads as before
    assert fresh.get_last_lr() == before[1]
