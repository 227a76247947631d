"""Layers point one way and nothing in nnforge imports itself in a circle.

The layers contract lives in pyproject.toml ([tool.importlinter]); this test runs import-linter on
it, then looks for import cycles between any two modules (lazy imports inside functions count:
they are dependencies all the same). The scratch tensor's operator sugar is the one circle allowed:
``Tensor.__add__`` and friends call the ops modules, which build Tensors.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = ("nnforge.scratch",)  # the tensor's method sugar


def test_layers_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def _cycles(graph) -> list[list[str]]:
    modules = sorted(m for m in graph.modules if m.startswith("nnforge"))
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def strong(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if not w.startswith("nnforge"):
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for m in modules:
        if m not in index:
            strong(m)
    return found


def test_no_import_cycles():
    graph = grimp.build_graph("nnforge")
    cycles = [c for c in _cycles(graph) if not all(m.startswith(ALLOWED) for m in c)]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
