"""The best trial as a recipe a person reads: only the keys that apply, numbers as a person writes them.

A search over ``train.optimizer.name: [sgd, adam]`` starts from a recipe that may set
``momentum: 0.9`` for SGD; when Adam wins, writing that momentum into ``best.yaml`` suggests it
does something (torch's Adam has no momentum; its betas play that part). :func:`applicable_recipe`
drops the optimizer and scheduler keys the chosen one does not read (the tables of
:mod:`nnforge.config`, which mirror what ``nnforge.train.optim`` passes to torch), and every
other option whose feature the trial leaves off (``train.swa.lr`` when it searched
``train.swa.start_epoch`` down to 0), which a training run refuses.
"""

from __future__ import annotations

import copy

def _prune(section: dict, default_name: str, specific: dict[str, set]) -> dict:
    name = section.get("name", default_name)
    if name not in specific:  # a name the schema does not know: leave it for validation to report
        return section
    elsewhere = set().union(*specific.values()) - specific[name]
    return {k: v for k, v in section.items() if k not in elsewhere}


def applicable_recipe(recipe: dict) -> dict:
    """``recipe`` without the optimizer/scheduler keys the chosen optimizer/scheduler ignores, nor
    the options of a feature it leaves off (a recipe that does not validate is returned as it is:
    its run reports the mistake)."""
    from nnforge.config import OPTIMIZER_KEYS, SCHEDULER_KEYS, resolve
    from nnforge.errors import ConfigError
    from nnforge.train.keys import inapplicable_keys  # imports nnforge.train: only when used

    out = copy.deepcopy(recipe)
    train = out.get("train")
    if isinstance(train, dict):
        if isinstance(train.get("optimizer"), dict):
            train["optimizer"] = _prune(train["optimizer"], "sgd", OPTIMIZER_KEYS)
        if isinstance(train.get("scheduler"), dict):
            train["scheduler"] = _prune(train["scheduler"], "none", SCHEDULER_KEYS)
    try:
        resolved = resolve(out)
    except ConfigError:
        return out
    for path, _ in inapplicable_keys(resolved):
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return out


def significant(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits (0.012345678901234 -> 0.0123)."""
    return float(f"{value:.{digits}g}")


def format_params(params: dict) -> str:
    """``key=value`` pairs, floats with 3 significant digits."""
    return ", ".join(f"{k}={significant(v) if isinstance(v, float) else v}" for k, v in params.items())
