"""Containers: ``Sequential`` (a pipeline) and ``ModuleList`` (a list that registers)."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from .module import Module


def _item(container: Module, i: int | slice) -> Module:
    """The i-th child or, for a slice, a container of the same kind holding those children (as torch:
    ``model[:-1]`` is a Sequential that can be called; it was a plain list, "'list' object is not callable").
    A Sequential's slice keeps its children's names (and so state_dict keys), a ModuleList's renumbers."""
    modules = list(container._modules.values())
    if isinstance(i, slice):
        if isinstance(container, Sequential):
            part = Sequential()
            for name, m in list(container._modules.items())[i]:
                part.add_module(name, m)
            return part
        return type(container)(modules[i])
    try:
        return modules[i]
    except IndexError:
        raise IndexError(f"index {i} is out of range for a {type(container).__name__} of "
                         f"{len(modules)} modules") from None


class Sequential(Module):
    """Calls its children in order; children are named '0', '1', ... as in PyTorch."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int | slice) -> Module:
        return _item(self, i)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, m: Module) -> "Sequential":
        self.add_module(str(len(self)), m)
        return self


class ModuleList(Module):
    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), m)
        return self

    def __getitem__(self, i: int | slice) -> Module:
        return _item(self, i)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
