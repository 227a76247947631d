"""Pictures of a study: the optimisation history and which parameters mattered."""

from __future__ import annotations

from pathlib import Path

from nnforge.report.plots import _pyplot
from nnforge.report.plots import save_figure as _save

# Optuna's fANOVA fits a random forest to the completed trials. With a handful of them the
# forest's first split takes all the variance, and the plot shows one parameter at 1.0 and the
# rest at 0: an artefact of too little data, not a finding. Below this many, the picture says so.
MIN_TRIALS_FOR_IMPORTANCES = 10


def _last_reported(trial) -> float | None:
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else None


def plot_history(finished_trials, spec, path: Path) -> None:
    """Each completed trial's validation metric, with the best-so-far line; pruned trials as orange
    crosses at the last value they reported (or, when they reported none, counted in the title)."""
    from optuna.trial import TrialState

    plt = _pyplot()
    trials = sorted(finished_trials, key=lambda t: t.number)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    shown_pruned = [(t.number, _last_reported(t)) for t in pruned if _last_reported(t) is not None]
    xs = [t.number for t in complete]
    ys = [t.value for t in complete]
    better = max if spec.direction == "maximize" else min
    best, running = [], None
    for y in ys:
        running = y if running is None else better(running, y)
        best.append(running)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(xs, ys, "o", color="tab:blue", label="completed trial")
    if shown_pruned:
        ax.plot([n for n, _ in shown_pruned], [v for _, v in shown_pruned], "x", color="tab:orange", markersize=8,
                label="pruned trial (last value reported)")
    ax.step(xs, best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.metric)
    title = f"optimisation history: {len(complete)} completed, {len(pruned)} pruned"
    if len(shown_pruned) < len(pruned):
        title += f" ({len(pruned) - len(shown_pruned)} not shown: no value reported)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    _save(fig, path)


def _note(path: Path, reason: str) -> dict:
    """A picture in place of the bar chart, saying why there is none."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 1.6))
    ax.axis("off")
    ax.set_title("parameter importances")
    ax.text(0.5, 0.45, reason.replace(": ", ":\n", 1), ha="center", va="center", wrap=True, fontsize=10)
    _save(fig, path)
    return {"skipped": reason}


def plot_importances(study, path: Path) -> dict:
    """fANOVA importances of the parameters (``{"importances": {...}}``); from fewer than
    MIN_TRIALS_FOR_IMPORTANCES completed trials, or when fANOVA cannot run, a picture that says why
    (``{"skipped": reason}``)."""
    import optuna
    from optuna.trial import TrialState

    complete = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
    if complete < MIN_TRIALS_FOR_IMPORTANCES:
        return _note(path, f"{complete} completed trial{'s' if complete != 1 else ''}: too few to estimate parameter "
                           f"importances (needs at least {MIN_TRIALS_FOR_IMPORTANCES}; a larger --trials resumes the study)")
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:
        return _note(path, f"{complete} completed trials: fANOVA could not estimate importances ({exc})")
    if not importances:
        return _note(path, f"{complete} completed trials: no parameter varied, so there are no importances")
    plt = _pyplot()
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(names)))
    ax.barh(names, [importances[n] for n in names], color="tab:green")
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title(f"parameter importances, from {complete} completed trials")
    _save(fig, path)
    return {"importances": {k: float(v) for k, v in importances.items()}}
