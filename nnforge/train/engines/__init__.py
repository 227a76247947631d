"""Engines by name: what trains the model (``engine:`` in a recipe).

Each engine's module is imported when a recipe first asks for it, so a torch run does not import
:mod:`nnforge.scratch` (its models, layers and optimizers: 0.03-0.05 s of start-up here).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from nnforge.train.engines.base import Engine


class _Engines(Mapping):
    """A read-only mapping from engine name to engine class, importing each class on first lookup."""

    _modules = {"torch": ("nnforge.train.engines.torch_engine", "TorchEngine"),
                "scratch": ("nnforge.train.engines.scratch_engine", "ScratchEngine")}

    def __getitem__(self, name: str) -> type[Engine]:
        module, cls = self._modules[name]
        return getattr(importlib.import_module(module), cls)

    def __iter__(self):
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


ENGINES: Mapping[str, type[Engine]] = _Engines()

__all__ = ["ENGINES", "Engine"]
