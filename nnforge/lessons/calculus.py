"""Maths 2 (second seed): derivatives by SymPy, by autograd and by finite differences.

f(x) = x^2 + 3x + 1 is the seed's function. SymPy differentiates the formula symbolically;
scratch's autograd differentiates the computation; a central difference approximates the limit.
All three agree, which is the whole reason backpropagation can be trusted.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.errors import UserError

from ._common import figure, heading, save, table


def run(out_dir: Path) -> None:
    try:
        import sympy as sp
    except ImportError:  # an optional extra: pip install 'nnforge[lessons]'
        raise UserError("the calculus lesson needs SymPy: pip install 'nnforge[lessons]'") from None
    x, y = sp.symbols("x y")
    f = x ** 2 + 3 * x + 1
    df = sp.diff(f, x)
    heading("The seed's SymPy examples")
    print("Derivative:", df)
    g = x * y + x ** 2
    print("Partial Derivative w.r.t x:", sp.diff(g, x), "  w.r.t y:", sp.diff(g, y))
    h = x ** 2 + y ** 2
    print("Gradient of x^2 + y^2:", [sp.diff(h, v) for v in (x, y)])
    print("Integral:", sp.integrate(f, x))

    heading("f'(x) three ways")
    points = np.array([-3.0, -1.5, 0.0, 0.5, 2.0])
    t = scratch.tensor(points, dtype=scratch.float64, requires_grad=True)
    (t ** 2 + 3 * t + 1).sum().backward()
    symbolic = sp.lambdify(x, df, "numpy")
    eps = 1e-5
    fn = sp.lambdify(x, f, "numpy")
    numeric = (fn(points + eps) - fn(points - eps)) / (2 * eps)
    rows = [(float(p), float(symbolic(p)), float(a), float(n)) for p, a, n in zip(points, t.grad.data, numeric)]
    table(["x", "SymPy 2x+3", "autograd", "numerical"], rows)
    assert np.allclose(t.grad.data, symbolic(points)) and np.allclose(numeric, symbolic(points), atol=1e-6)

    heading("A gradient: d/dx, d/dy of x*y + x^2 at (1.5, -2)")
    px, py = scratch.tensor(1.5, dtype=scratch.float64, requires_grad=True), scratch.tensor(-2.0, dtype=scratch.float64, requires_grad=True)
    (px * py + px ** 2).backward()
    exact = [float(sp.diff(g, v).subs({x: 1.5, y: -2.0})) for v in (x, y)]
    print(f"autograd ({px.grad.item():.4f}, {py.grad.item():.4f})  SymPy ({exact[0]:.4f}, {exact[1]:.4f})")

    grid = np.linspace(-4, 2, 200)
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    ax.plot(grid, fn(grid), label="f(x) = x^2 + 3x + 1")
    x0 = 0.5
    ax.plot(grid, fn(x0) + symbolic(x0) * (grid - x0), "--", label=f"tangent at x={x0}, slope {symbolic(x0):.1f}")
    ax.scatter([x0], [fn(x0)], color="k")
    ax.set_ylim(-5, 15)
    ax.grid(True)
    ax.legend()
    ax.set_title("The derivative is the slope of the tangent")
    save(fig, out_dir, "derivative.png")
