"""Pictures of a study: the optimisation history and which parameters mattered."""

from __future__ import annotations

from pathlib import Path

from nnforge import io


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    io.atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def plot_history(complete_trials, spec, path: Path) -> None:
    """Each finished trial's validation metric, with the best-so-far line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = sorted(complete_trials, key=lambda t: t.number)
    xs = [t.number for t in trials]
    ys = [t.value for t in trials]
    better = max if spec.direction == "maximize" else min
    best, running = [], None
    for y in ys:
        running = y if running is None else better(running, y)
        best.append(running)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(xs, ys, "o", color="tab:blue", label="trial")
    ax.step(xs, best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.metric)
    ax.set_title("optimisation history")
    ax.legend()
    _save(fig, path)


def plot_importances(study, path: Path) -> bool:
    """fANOVA importances of the parameters; skipped (False) until the study has enough variety."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):
        return False
    if not importances:
        return False
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(names)))
    ax.barh(names, [importances[n] for n in names], color="tab:green")
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title("parameter importances")
    _save(fig, path)
    return True
