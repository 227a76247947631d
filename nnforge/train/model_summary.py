"""A built model's summary as plain data (``summary.json``): the layer table of
:func:`nnforge.models.summary.layer_summary` and the CPU latency per input at batch 1 and 64, for the
torch model and for its scratch twin where one exists. Timings are gathered under ``latency`` so
that everything else in ``summary.json`` is the same on every run of a recipe.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from nnforge.models.summary import layer_summary, measure_latency
from nnforge.train.engines.scratch_engine import scratch_forward, scratch_twin

#: batch sizes the latency is measured at
LATENCY_BATCHES = (1, 64)


def model_summary(model: torch.nn.Module, model_cfg, input_shape, num_outputs: int, batch_size: int,
                  budget_s: float = 0.3) -> dict:
    """The summary of a built torch model (any device; measured on a CPU copy) as plain data."""
    cpu = copy.deepcopy(model).cpu().float()
    for module in cpu.modules():  # measure the eager model: Module.compile() (train.compile) has no public undo
        if getattr(module, "_compiled_call_impl", None) is not None:
            module._compiled_call_impl = None
    table = layer_summary(cpu, input_shape, batch_size).to_dict()
    timing = {f"batch_{b}": measure_latency(cpu, input_shape, b, budget_s=budget_s) for b in LATENCY_BATCHES}
    out = {"model": dict(model_cfg), **table, "latency": {"torch": timing}}
    twin = scratch_twin(model_cfg, input_shape, num_outputs, cpu)
    if twin is not None:
        twin.eval()
        forward = scratch_forward(twin)
        rng = np.random.default_rng(0)
        out["scratch"] = {"parameters": int(sum(p.data.size for p in twin.parameters())), "macs": table["total_macs"]}
        out["latency"]["scratch"] = {
            f"batch_{b}": measure_latency(forward, input_shape, b, budget_s=budget_s,
                                          make_input=lambda n: rng.random((n, *input_shape), dtype=np.float32))
            for b in LATENCY_BATCHES}
    return out
