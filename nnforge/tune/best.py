"""The best trial as a recipe a person reads: only the keys that apply, numbers as a person writes them.

A search over ``train.optimizer.name: [sgd, adam]`` starts from a recipe that may set
``momentum: 0.9`` for SGD; when Adam wins, writing that momentum into ``best.yaml`` suggests it
does something (torch's Adam has no momentum; its betas play that part). :func:`applicable_recipe`
drops the optimizer and scheduler keys the chosen one does not read. The tables mirror which
arguments ``nnforge.train.optim`` passes to each torch optimizer and scheduler.
"""

from __future__ import annotations

import copy

OPTIMIZER_KEYS = {  # the keys only some optimizers read (every one reads name, lr, weight_decay, lr_mult)
    "sgd": {"momentum", "nesterov"},
    "adam": {"betas", "eps"},
    "adamw": {"betas", "eps"},
    "rmsprop": {"alpha", "eps", "momentum"},
}
SCHEDULER_KEYS = {  # the keys only some schedules read (every one reads name and warmup_epochs)
    "none": set(),
    "step": {"step_size", "gamma"},
    "cosine": {"min_lr"},
    "onecycle": {"max_lr", "pct_start"},
    "plateau": {"gamma", "patience", "min_lr"},
}


def _prune(section: dict, default_name: str, specific: dict[str, set]) -> dict:
    name = section.get("name", default_name)
    if name not in specific:  # a name the schema does not know: leave it for validation to report
        return section
    elsewhere = set().union(*specific.values()) - specific[name]
    return {k: v for k, v in section.items() if k not in elsewhere}


def applicable_recipe(recipe: dict) -> dict:
    """``recipe`` without the optimizer/scheduler keys the chosen optimizer/scheduler ignores."""
    out = copy.deepcopy(recipe)
    train = out.get("train")
    if isinstance(train, dict):
        if isinstance(train.get("optimizer"), dict):
            train["optimizer"] = _prune(train["optimizer"], "sgd", OPTIMIZER_KEYS)
        if isinstance(train.get("scheduler"), dict):
            train["scheduler"] = _prune(train["scheduler"], "none", SCHEDULER_KEYS)
    return out


def significant(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits (0.012345678901234 -> 0.0123)."""
    return float(f"{value:.{digits}g}")


def format_params(params: dict) -> str:
    """``key=value`` pairs, floats with 3 significant digits."""
    return ", ".join(f"{k}={significant(v) if isinstance(v, float) else v}" for k, v in params.items())
