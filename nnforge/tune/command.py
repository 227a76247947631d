"""``nnforge tune CONFIG --trials N``: hyperparameter search over the recipe's ``tune.space``."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def cmd_tune(args) -> int:
    from nnforge.config import apply_overrides, read_yaml
    from nnforge.rundir import recipe_path
    from nnforge.tune.search import run_study

    path = recipe_path(args.config)
    raw = apply_overrides(read_yaml(path), args.set)
    name = args.study or path.stem
    out = Path(args.out or Path("runs") / f"tune-{name}")
    if isinstance(raw.get("tune"), dict) and "objectives" in raw["tune"]:
        return _architecture_search(raw, out, args, name)
    result = run_study(raw, out, args.trials, sampler=args.sampler, storage=args.storage, study_name=name, seed=args.seed,
                        cv=args.cv)
    if result.best_recipe is None:
        print(_nothing_completed(result.study), file=sys.stderr)
        return 1
    base = "" if result.baseline_value is None else f" (the recipe as given: {result.baseline_value:.4f})"
    print(f"best {result.study.user_attrs.get('metric', 'value')} {result.best_value:.4f}{base}")
    print("best parameters: " + ", ".join(f"{k}={v}" for k, v in result.best_params.items()))
    print(f"ready recipe: {result.best_recipe}   plots: {out / 'history.png'}, {out / 'importances.png'}")
    print(f"next: nnforge train {result.best_recipe}")
    return 0


def _nothing_completed(study) -> str:
    """Why a study has no best trial, by its trials' states: "no trial completed: 3 pruned, 1 failed" (was
    "no trial finished", when every trial had finished, pruned)."""
    words = {"FAIL": "failed", "PRUNED": "pruned", "RUNNING": "running", "WAITING": "waiting", "COMPLETE": "complete"}
    states = Counter(words.get(t.state.name, t.state.name.lower()) for t in study.trials)
    held = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return f"no trial completed ({held or 'the study holds none'}); nothing to report"


def register(sub, add, add_set) -> None:
    from nnforge.tune import DEFAULT_STORAGE, SAMPLERS

    p = add(sub, "tune", "hyperparameter search (Optuna) over the recipe's tune.space; resumable, shareable by several workers",
            "nnforge tune configs/digits_mlp_tune.yaml --trials 12 --sampler tpe", cmd_tune)
    p.add_argument("config", help="recipe file with a tune: section (or a packaged recipe's name)")
    p.add_argument("--trials", type=int, required=True, help="finished trials the study should hold (a rerun resumes)")
    p.add_argument("--sampler", default="tpe", choices=SAMPLERS, help="how trials pick values (default tpe)")
    p.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna RDB URL holding the study (default {DEFAULT_STORAGE})")
    p.add_argument("--study", help="study name in the storage (default: the recipe's file name)")
    p.add_argument("--out", help="folder for trial runs, best.yaml and plots (default runs/tune-STUDY)")
    p.add_argument("--seed", type=int, help="sampler seed (default: the recipe's seed)")
    p.add_argument("--cv", type=int, metavar="K", help="score each trial by the mean validation metric over K (stratified) folds "
                                                       "of the training split; the test split is never used")
    add_set(p)


def _architecture_search(raw: dict, out: Path, args, name: str) -> int:
    """``tune.objectives`` set: the multi-objective study of :mod:`nnforge.tune.nas`; prints the Pareto front."""
    from nnforge.errors import UserError
    from nnforge.tune.nas import front_table, run_nas
    from nnforge.tune.space import parse_tune

    if args.sampler != "tpe":
        raise UserError(f"--sampler {args.sampler}: a study with tune.objectives uses NSGA-II; leave --sampler out")
    result = run_nas(raw, out, args.trials, storage=args.storage, study_name=name, seed=args.seed)
    if not result.front:
        print(_nothing_completed(result.study), file=sys.stderr)
        return 1
    trained = sum(r["state"] == "complete" and r["same_as"] is None for r in result.trials)
    print(f"Pareto front: {len(result.front)} of {trained} architectures trained")
    print(front_table(result.front, parse_tune(raw["tune"])), end="")
    print(f"ready recipes: {out / 'front'}/   picture: {out / 'front.png'}   table: {out / 'front.md'}")
    print(f"next: nnforge train {result.front[-1]['recipe']}")
    return 0
