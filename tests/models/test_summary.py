"""The model summary: MACs from the forward pass equal a hand count and torch's own FLOP counter,
parameters split into trainable and frozen, activation memory from the layers' outputs, and latency
measured by the clock."""

import time

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nnforge.models import MODELS, build_model
from nnforge.models.summary import count_params, layer_summary, measure_latency


def small_convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),  # 3x16x16 -> 8x8x8
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # depthwise: 8x8x8
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 16, 3),  # -> 16x6x6
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 10),
    )


def test_macs_equal_a_hand_count_for_a_small_conv_net():
    s = layer_summary(small_convnet(), (3, 16, 16), batch_size=32)
    by_name = {r.name: r for r in s.rows}
    hand = {"0": 8 * 8 * 8 * (3 * 3 * 3),  # outputs x (in channels x kernel)
            "2": 8 * 8 * 8 * (1 * 3 * 3),  # depthwise: one input channel per output
            "4": 16 * 6 * 6 * (8 * 3 * 3),
            "6": 576 * 10}
    assert {n: by_name[n].macs for n in hand} == hand
    assert by_name["1"].macs == by_name["3"].macs == by_name["5"].macs == 0  # no multiply-accumulates
    assert s.total_macs == sum(hand.values())
    assert [by_name[n].output_shape for n in "01456"] == [[8, 8, 8], [8, 8, 8], [16, 6, 6], [576], [10]]
    assert by_name["4"].activation_bytes == 16 * 6 * 6 * 4 * 32  # float32 outputs of a batch of 32
    assert by_name["0"].trainable == 8 * 27 + 8 and by_name["2"].trainable == 72 and by_name["3"].trainable == 16


@pytest.mark.parametrize("name", [n for n in MODELS if n != "resnet18"])  # resnet18: resnet's blocks, 60x the work
def test_zoo_macs_equal_torchs_flop_counter_and_add_up(name):
    shape = (3, 32, 32) if name == "cifar_cnn" else (1, 28, 28)
    model = build_model({"name": name}, shape, 10).eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.rand(1, *shape))
    s = layer_summary(model, shape)
    assert s.total_macs == counter.get_total_flops() // 2 > 0
    assert sum(r.macs for r in s.rows if r.macs is not None) == s.total_macs  # each MAC in exactly one row
    assert s.trainable == sum(p.numel() for p in model.parameters())
    uncounted = [r.type for r in s.rows if r.macs is None]
    assert uncounted == (["LSTM"] if name == "lstm" else [])  # the fused LSTM kernel is invisible to the counter
    assert s.macs_complete == (name != "lstm")


def test_attention_macs_include_the_score_and_value_products():
    model = build_model({"name": "vit", "depth": 1, "dim": 16, "heads": 2, "patch": 7}, (1, 28, 28), 10)
    s = layer_summary(model, (1, 28, 28))
    attn = next(r for r in s.rows if r.type == "Attention")
    tokens, dim = 16 + 1, 16
    assert attn.macs == 2 * tokens * tokens * dim  # Q K^T and (softmax) V over all heads, outside any Linear


def test_frozen_parameters_are_counted_apart():
    model = small_convnet()
    for p in model[0].parameters():
        p.requires_grad_(False)
    assert count_params(model) == (sum(p.numel() for p in model.parameters()) - 224, 224)
    row = layer_summary(model, (3, 16, 16)).rows[0]
    assert (row.trainable, row.frozen) == (0, 224)


def test_latency_is_measured_by_the_clock():
    calls = []

    def slow(x):
        calls.append(len(x))
        time.sleep(0.01)
        return x

    per_input = measure_latency(slow, (3,), batch=4, min_repeats=3, budget_s=0.0)
    assert calls == [4] * 4  # one warm-up, three timed calls, each on a batch of 4
    assert per_input >= 0.01 / 4  # a lower bound only: the sleep is the least it can take
    model = small_convnet().train()
    assert measure_latency(model, (3, 16, 16), 2, budget_s=0.0) > 0 and model.training  # mode restored
