"""Engines by name: what trains the model (``engine:`` in a recipe)."""

from nnforge.train.engines.base import Engine
from nnforge.train.engines.scratch_engine import ScratchEngine
from nnforge.train.engines.torch_engine import TorchEngine

ENGINES: dict[str, type[Engine]] = {"torch": TorchEngine, "scratch": ScratchEngine}

__all__ = ["ENGINES", "Engine", "TorchEngine", "ScratchEngine"]
