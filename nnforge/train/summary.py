"""``nnforge summary RECIPE|RUN`` and a run's ``summary.json``: the model's table of layers and its
measured CPU latency, for the torch model and for its scratch twin where one exists.

A recipe's model is built the way training builds it (the task prepares the data, which gives the
input shape and class count, then builds the zoo model, frozen layers marked), so the summary is
the model a run of that recipe would train. The table comes from
:func:`nnforge.models.summary.layer_summary` (MACs from the forward pass itself); latencies are per
input at batch 1 and 64, on the CPU, by the clock (:mod:`nnforge.train.model_summary`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnforge.models.summary import count_params, measure_latency
from nnforge.train.model_summary import model_summary


def summarize_recipe(recipe, budget_s: float = 0.3) -> dict:
    """The summary of the model a recipe would train, built without training it."""
    from nnforge.config import resolve
    from nnforge.train.run import prepare
    from nnforge.train.tasks import TASKS
    from nnforge.train.transfer import freeze

    recipe = resolve(recipe)
    task = TASKS[recipe.task]()
    data = prepare(recipe, task, torch.device("cpu"))
    model = task.build_model(recipe, data)
    if recipe.train.freeze:
        freeze(model, recipe.train.freeze)
    return model_summary(model, recipe.model, data.input_shape, data.num_outputs, recipe.data.batch_size, budget_s)


def summarize(path: str | Path, overrides=(), budget_s: float = 0.3) -> dict:
    """``nnforge summary``: a run directory's ``summary.json`` (computed from its recipe when an older run
    has none), or the summary of a recipe file (``overrides``: ``--set key=value``)."""
    from nnforge.config import load_config
    from nnforge.rundir import CONFIG, read_recipe, read_summary, recipe_path

    path = Path(path)
    if path.is_dir():
        saved = read_summary(path)
        if saved is not None and not overrides:
            return saved
        recipe = read_recipe(path)  # a one-line error for a folder that is not a run
        return summarize_recipe(load_config(path / CONFIG, list(overrides)) if overrides else recipe, budget_s)
    return summarize_recipe(load_config(recipe_path(str(path)), list(overrides)), budget_s)


def _size(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}".rstrip()
    return f"{n:g} {unit}".rstrip()


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def format_summary(s: dict) -> str:
    """The table people read: one line per layer, then the totals and the latencies."""
    header = ("layer", "type", "output shape", "trainable", "frozen", "MACs", f"activations (batch {s['batch_size']})")
    rows = [header] + [(r["name"], r["type"], "x".join(map(str, r["output_shape"])) if r["output_shape"] is not None else "-",
                        f"{r['trainable']:,}", f"{r['frozen']:,}", "not counted" if r["macs"] is None else f"{r['macs']:,}",
                        _size(r["activation_bytes"], "B")) for r in s["rows"]]
    rows.append(("total", "", "", f"{s['trainable']:,}", f"{s['frozen']:,}",
                 f"{s['total_macs']:,}" + ("" if s["macs_complete"] else " + uncounted"), _size(s["activation_bytes"], "B")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    shape = "x".join(map(str, s["input_shape"]))
    lines.append(f"input {shape}; MACs for one input ({_size(s['total_macs'])}); activations: layer outputs of one batch")
    for engine, timing in s["latency"].items():
        extra = f", {s['scratch']['parameters']:,} parameters" if engine == "scratch" else ""
        lines.append(f"{engine} CPU latency per input: " + ", ".join(f"{_ms(v)} at batch {k.split('_')[1]}" for k, v in timing.items())
                     + extra)
    return "\n".join(lines)


__all__ = ["count_params", "format_summary", "measure_latency", "model_summary", "summarize", "summarize_recipe"]
