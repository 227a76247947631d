"""A resolved recipe and its final metrics in the form trackers store them (flat keys, text, numbers)."""

from __future__ import annotations

import json


def flat_recipe(recipe) -> dict[str, object]:
    """The resolved recipe as ``{"train.optimizer.lr": 0.1, ...}``: one entry per leaf, open sections
    (``model``, ``tune``) flattened too; lists and empty mappings stay whole values."""
    out: dict[str, object] = {}

    def walk(node, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                walk(value, path + ".")
            else:
                out[path] = value

    walk(recipe.to_dict(), "")
    return out


def as_text(value) -> str:
    """A recipe value as a tracker stores it: text as is, anything else as JSON (``0.1``, ``[64]``, ``null``)."""
    return value if isinstance(value, str) else json.dumps(value)


def final_scalars(metrics: dict) -> dict[str, float]:
    """The numbers of ``metrics.json`` a tracker can chart (nested reports and text left out)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
