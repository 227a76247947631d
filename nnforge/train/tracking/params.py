"""Values in the form trackers store them: recipe values as text, metrics as numbers."""

from __future__ import annotations

import json

from nnforge.io import is_number


def as_text(value) -> str:
    """A recipe value as a tracker stores it: text as is, anything else as JSON (``0.1``, ``[64]``, ``null``)."""
    return value if isinstance(value, str) else json.dumps(value)


def scalars(metrics: dict) -> dict[str, float]:
    """The numbers of a mapping of metrics that a tracker can chart (nested reports, text and flags left out)."""
    return {k: float(v) for k, v in metrics.items() if is_number(v)}
