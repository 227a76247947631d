"""The messages a page may send over its WebSocket, validated, and their one-line errors.

Every message is a JSON object with a ``type``. ``configure`` carries the data and network
settings (bounded here: these bounds are the playground's caps on work per session); ``play``,
``pause``, ``step`` (one mini-batch), ``reset`` and ``code`` carry nothing. Anything else is a
:class:`~nnforge.playground.network.PlaygroundError` whose message the page shows.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nnforge.data.sources.toy2d import FEATURES, KINDS, DataSpec
from nnforge.playground.network import ACTIVATIONS, MAX_BATCH, MAX_LAYERS, MAX_NEURONS, OPTIMIZERS, NetSpec, PlaygroundError

MAX_SAMPLES = 1000
COMMANDS = ("play", "pause", "step", "reset", "code")
_strict = ConfigDict(extra="forbid", allow_inf_nan=False)


class DataIn(BaseModel):
    model_config = _strict
    kind: Literal[KINDS] = "xor"
    samples: int = Field(500, ge=50, le=MAX_SAMPLES)
    noise: float = Field(0.0, ge=0, le=50)
    train_ratio: int = Field(50, ge=10, le=90)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    features: list[Literal[tuple(FEATURES)]] = Field(["x1", "x2"], min_length=1, max_length=len(FEATURES))


class NetIn(BaseModel):
    model_config = _strict
    hidden: list[int] = Field([4, 2], max_length=MAX_LAYERS)
    activation: Literal[tuple(ACTIVATIONS)] = "tanh"
    optimizer: Literal[OPTIMIZERS] = "sgd"
    lr: float = Field(0.03, gt=0, le=10)
    l1: float = Field(0.0, ge=0, le=1)
    l2: float = Field(0.0, ge=0, le=1)
    batch_size: int = Field(10, ge=1, le=MAX_BATCH)


class Configure(BaseModel):
    model_config = _strict
    type: Literal["configure"]
    data: DataIn = DataIn()
    network: NetIn = NetIn()

    def specs(self) -> tuple[DataSpec, NetSpec]:
        features = tuple(dict.fromkeys(self.data.features))  # a repeated feature counts once
        data = DataSpec(**{**self.data.model_dump(), "features": features})
        if any(not 1 <= w <= MAX_NEURONS for w in self.network.hidden):
            raise PlaygroundError(f"network.hidden: each layer has 1-{MAX_NEURONS} neurons, got {self.network.hidden}")
        return data, NetSpec(**{**self.network.model_dump(), "hidden": tuple(self.network.hidden)})


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "message"
    return f"{where}: {err['msg']}"


def parse(text: str) -> Configure | str:
    """A ``Configure`` or the name of a command; a PlaygroundError for anything else."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the decoder's stack
        raise PlaygroundError("messages are JSON objects, for example {\"type\": \"play\"}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        raise PlaygroundError("messages are JSON objects with a \"type\"")
    kind = doc["type"]
    if kind == "configure":
        try:
            return Configure.model_validate(doc)
        except ValidationError as exc:
            raise PlaygroundError(_one_line(exc)) from None
    if kind not in COMMANDS:
        raise PlaygroundError(f"message type '{kind[:40]}' unknown; accepted: configure, {', '.join(COMMANDS)}")
    if len(doc) > 1:
        raise PlaygroundError(f"'{kind}' takes no fields, got {', '.join(sorted(k for k in doc if k != 'type'))[:80]}")
    return kind


def options() -> dict:
    """What the page may choose from, and the defaults (GET /api/options)."""
    return {"datasets": list(KINDS), "features": {k: label for k, (label, _) in FEATURES.items()},
            "activations": list(ACTIVATIONS), "optimizers": list(OPTIMIZERS),
            "limits": {"layers": MAX_LAYERS, "neurons": MAX_NEURONS, "batch_size": MAX_BATCH, "samples": MAX_SAMPLES},
            "defaults": {"data": DataIn().model_dump(), "network": NetIn().model_dump()}}
