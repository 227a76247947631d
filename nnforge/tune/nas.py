"""Architecture search: a multi-objective study of accuracy against the model's size or speed.

Neural architecture search (the first seed's 8.1: "designing network structure automatically")
is hyperparameter search whose space is the architecture — depth and widths, kernel size, plain
or residual blocks, normalisation, activation (the ``convnet`` model takes all of them) — and
whose answer is not one best trial but a **Pareto front**: the trials no other trial beats on
both the validation metric and the cost (parameters or measured latency). Optuna's NSGA-II
sampler (Deb et al. 2002) breeds new architectures from the non-dominated ones.

A budget (``tune.budget``) is checked on the built model before a trial trains, so no trial over
it costs a training run; it is recorded as pruned with the reason. An architecture proposed again
is not retrained: the trial reuses the first one's result. Every front member is written
as a ready recipe (``front/trial-NNN.yaml``), ``front.png`` draws the front among all trials and
``front.md`` tables it. Multi-objective studies cannot prune by learning curve (Optuna reports one
value per objective only at the end), so ``tune.pruner`` does not apply here.
"""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from nnforge import io
from nnforge.config import dump_config, resolve
from nnforge.errors import ConfigError, UserError
from nnforge.rundir import make_folder
from nnforge.tune.space import TuneSpec, check_tune_config, parse_tune, trial_recipe

COST_LABELS = {"params": "parameters", "latency_ms": "CPU latency per image at batch 1 (ms)"}


def model_cost(model: torch.nn.Module, input_shape, needed: set[str]) -> dict[str, float]:
    """``params`` always; ``latency_ms`` (measured at batch 1 by ``nnforge summary``'s clock) when the
    objective or the budget needs it."""
    from nnforge.models.summary import count_params, measure_latency

    cost: dict[str, float] = {"params": sum(count_params(model))}
    if "latency_ms" in needed:
        cost["latency_ms"] = round(measure_latency(model, input_shape, 1, warmup=3, min_repeats=20, budget_s=0.2) * 1000, 4)
    return cost


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` (metric to maximise, cost to minimise) is at least as good as ``b`` on both and better on one."""
    return a[0] >= b[0] and a[1] <= b[1] and a != b


@dataclass
class FrontResult:
    study: object
    out: Path
    front: list[dict]  # the non-dominated trials, cheapest first
    trials: list[dict]


def run_nas(raw_recipe: dict, out: str | Path, trials: int, storage: str, study_name: str = "nas", seed: int | None = None,
            log: Callable[[str], None] = print) -> FrontResult:
    """Run (or resume) a multi-objective study until it holds ``trials`` finished trials; write the front."""
    warnings.filterwarnings("ignore", message="IProgress not found")  # optuna imports tqdm.auto; in a kernel without ipywidgets it warns
    import optuna
    from optuna.trial import TrialState

    from nnforge.models import build_model
    from nnforge.train import run
    from nnforge.train.run import kept_epoch, prepare
    from nnforge.tune.search import (
        check_same_recipe,
        check_same_space,
        make_storage,
        quiet_optuna_failures,
        study_recipe,
        study_stop_on_signal,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    quiet_optuna_failures()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # the storage's heartbeat, as in search.py
    if trials < 1:
        raise UserError(f"--trials is {trials}; accepted: a positive number")
    resolved = resolve({k: v for k, v in raw_recipe.items() if k != "tune"})
    spec = parse_tune(check_tune_config(raw_recipe.get("tune"), raw_recipe))
    if spec.cost is None or not spec.params:
        raise ConfigError("architecture search needs tune.objectives: [val_accuracy, params] (or latency_ms) and a tune.space")
    if resolved.data.val_fraction <= 0:
        raise ConfigError("'data.val_fraction' is 0; a search needs a validation split (e.g. data.val_fraction=0.1)")
    if spec.metric not in ("val_accuracy",) or spec.direction != "maximize":
        raise ConfigError(f"architecture search weighs accuracy against cost; 'tune.metric' must be val_accuracy (maximize), "
                          f"got {spec.metric} ({spec.direction})")
    out = make_folder(Path(out))  # a file in the way: one line
    data = prepare(resolved)  # the input shape and class count every candidate is built for
    needed = {spec.cost, *(k for k, _ in spec.budget)}
    population = max(4, min(20, trials // 3))
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=resolved.seed if seed is None else seed)
    try:
        study = optuna.create_study(storage=make_storage(storage), study_name=study_name, sampler=sampler, load_if_exists=True,
                                    directions=["maximize", "minimize"])
    except ValueError as exc:  # an existing study of the same name with one objective
        raise UserError(f"study '{study_name}' in {storage} is not a two-objective study ({exc}); use another --study name") from None
    check_same_space(study, spec, storage)
    check_same_recipe(study, study_recipe(resolved, spec, None), spec, storage)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    finished = (TrialState.COMPLETE, TrialState.PRUNED)

    def objective(trial):
        values = spec.suggest(trial)
        config = resolve(trial_recipe(raw_recipe, values)).with_overrides({"train.progress": "none"})
        torch.manual_seed(config.seed)
        cost = model_cost(build_model(config.model, data.input_shape, data.num_outputs, data.kind), data.input_shape, needed)
        trial.set_user_attr("cost", cost)
        trial.set_user_attr("worker", worker)
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        over = [f"{k} {cost[k]:,.4g} > {limit:,.4g}" for k, limit in spec.budget if cost[k] > limit]
        if over:
            trial.set_user_attr("over_budget", "; ".join(over))
            log(f"trial {trial.number}: over budget ({'; '.join(over)}), not trained  {shown}")
            raise optuna.TrialPruned()
        twin = next((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.params == trial.params), None)
        if twin is not None:  # NSGA-II re-proposes architectures of a small space: reuse, don't retrain
            trial.set_user_attr("same_as", twin.number)
            log(f"trial {trial.number}: the same architecture as trial {twin.number}, not retrained  {shown}")
            return tuple(twin.values)
        run_dir = out / f"trial-{trial.number:03d}"
        trial.set_user_attr("run_dir", str(run_dir))
        with study_stop_on_signal(trial):
            result = run(config, run_dir, name=f"trial-{trial.number}")
        value = float(kept_epoch(config, result.history)[spec.metric])
        trial.set_user_attr("test_accuracy", result.metrics.get("test_accuracy"))
        log(f"trial {trial.number}: {spec.metric} {value:.4f}, {spec.cost} {cost[spec.cost]:,.4g}  {shown}")
        return value, float(cost[spec.cost])

    done = sum(t.state in finished for t in study.get_trials(deepcopy=False))
    if done >= trials:
        log(f"study '{study_name}' already has {done} finished trials (asked for {trials}); nothing to run")
    else:
        log(f"architecture search '{study_name}' in {storage}: {done} finished, running up to {trials} "
            f"(NSGA-II, population {population}; {spec.metric} against {spec.cost})")
        study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(trials, states=finished)], catch=(), gc_after_trial=False)
    return write_front(study, raw_recipe, spec, out)


def write_front(study, raw_recipe: dict, spec: TuneSpec, out: Path) -> FrontResult:
    """``front/trial-NNN.yaml`` per front member, ``front.md``, ``front.png`` and ``study.json``."""
    from optuna.trial import TrialState


    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED):
            continue
        rows.append({"number": t.number, "state": t.state.name.lower(), "metric": t.values[0] if t.values else None,
                     "cost": t.user_attrs.get("cost", {}), "params": spec.decode(t.params), "run_dir": t.user_attrs.get("run_dir"),
                     "test_accuracy": t.user_attrs.get("test_accuracy"), "over_budget": t.user_attrs.get("over_budget"),
                     "same_as": t.user_attrs.get("same_as")})
    complete = [r for r in rows if r["state"] == "complete" and r["same_as"] is None]
    points = {r["number"]: (r["metric"], r["cost"][spec.cost]) for r in complete}
    front = sorted((r for r in complete if not any(dominates(points[o], points[r["number"]]) for o in points)),
                   key=lambda r: r["cost"][spec.cost])
    folder = out / "front"
    folder.mkdir(exist_ok=True)
    for r in front:
        recipe = trial_recipe(raw_recipe, r["params"])
        header = (f"# Pareto front of study '{study.study_name}', trial {r['number']}: {spec.metric} {r['metric']:.4f}, "
                  f"{spec.cost} {r['cost'][spec.cost]:,.4g}\n")
        r["recipe"] = str(io.write_text(folder / f"trial-{r['number']:03d}.yaml", header + dump_config(recipe)))
    io.write_text(out / "front.md", front_table(front, spec))
    if complete:
        plot_front(complete, front, [r for r in rows if r["over_budget"]], spec, out / "front.png")
    io.write_json(out / "study.json", {"study": study.study_name, "objectives": [spec.metric, spec.cost],
                                       "budget": dict(spec.budget), "front": [r["number"] for r in front], "trials": rows})
    return FrontResult(study, out, front, rows)


def front_table(front: list[dict], spec: TuneSpec) -> str:
    keys = sorted({k for r in front for k in r["params"]})
    head = ["trial", spec.metric, spec.cost, "test_accuracy", *keys]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in front:
        test = "" if r["test_accuracy"] is None else f"{r['test_accuracy']:.4f}"
        cells = [str(r["number"]), f"{r['metric']:.4f}", f"{r['cost'][spec.cost]:,.4g}", test, *(str(r["params"].get(k, "")) for k in keys)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def front_figure(complete: list[dict], front: list[dict], over: list[dict], spec: TuneSpec):
    """Every trained trial as a grey dot, the front as a red staircase, budget refusals counted in the title."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.scatter([r["cost"][spec.cost] for r in complete], [r["metric"] for r in complete], color="0.6", s=22, label="trial")
    xs, ys = [r["cost"][spec.cost] for r in front], [r["metric"] for r in front]
    ax.step(xs, ys, where="post", color="tab:red", lw=1.2)
    ax.scatter(xs, ys, color="tab:red", s=36, zorder=3, label="Pareto front (no trial is both better and cheaper)")
    for r in front:
        ax.annotate(str(r["number"]), (r["cost"][spec.cost], r["metric"]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    if spec.cost == "params":
        ax.set_xscale("log")
    ax.set_xlabel(COST_LABELS[spec.cost])
    ax.set_ylabel(spec.metric.replace("_", " "))
    refused = f"; {len(over)} over budget, not trained" if over else ""
    ax.set_title(f"architecture search: {len(complete)} architectures trained, {len(front)} on the front{refused}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_front(complete: list[dict], front: list[dict], over: list[dict], spec: TuneSpec, path: Path) -> None:
    fig = front_figure(complete, front, over, spec)
    io.atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
