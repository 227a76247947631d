# %% [markdown]
# # math.2 数学基础: 微积分 — calculus: one derivative three ways
#
# The second seed's calculus foundation (section math.2): the **derivative** (导数) is a rate of
# change, the **partial derivative** (偏导数) is the derivative in one variable with the others
# held fixed, and the **gradient** (梯度) collects them all — the direction gradient descent
# steps against. The seed differentiates $f(x) = x^2 + 3x + 1$ with SymPy. Here SymPy does it
# symbolically, scratch's autograd differentiates the computation, and a central difference
# approximates the limit; all three agree, which is the whole reason backpropagation can be trusted.

# %%
import numpy as np

from nnforge import scratch
from nnforge.errors import UserError
from nnforge.lessons._common import figure, heading, lesson_folder, save, table

try:
    import sympy as sp
except ImportError:  # an optional extra: pip install 'nnforge[lessons]'
    raise UserError("the calculus lesson needs SymPy: pip install 'nnforge[lessons]'") from None

OUT = lesson_folder("calculus")

# %% [markdown]
# ## The seed's SymPy examples

# %%
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

# %% [markdown]
# ## f'(x) three ways

# %%
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

# %% [markdown]
# ## A gradient: both partial derivatives of $xy + x^2$ at (1.5, -2)

# %%
heading("A gradient: d/dx, d/dy of x*y + x^2 at (1.5, -2)")
px = scratch.tensor(1.5, dtype=scratch.float64, requires_grad=True)
py = scratch.tensor(-2.0, dtype=scratch.float64, requires_grad=True)
(px * py + px ** 2).backward()
exact = [float(sp.diff(g, v).subs({x: 1.5, y: -2.0})) for v in (x, y)]
print(f"autograd ({px.grad.item():.4f}, {py.grad.item():.4f})  SymPy ({exact[0]:.4f}, {exact[1]:.4f})")

# %% [markdown]
# ## The picture: the derivative is the slope of the tangent

# %%
grid = np.linspace(-4, 2, 200)
fig, axes = figure(size=(6.5, 4.2))
ax = axes[0, 0]
ax.plot(grid, fn(grid), label="f(x) = x^2 + 3x + 1")
x0 = 0.5
ax.plot(grid, fn(x0) + symbolic(x0) * (grid - x0), "--", label=f"tangent at x={x0}, slope {symbolic(x0):.1f}")
ax.scatter([x0], [fn(x0)], color="k")
ax.set_ylim(-5, 15)
ax.set_xlabel("x")
ax.set_ylabel("f(x)")
ax.grid(True)
ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.15), ncols=2, fontsize=8)
ax.set_title("The derivative is the slope of the tangent")
save(fig, OUT, "derivative.png")

# %% [markdown]
# ## Try next
# - Set `eps = 1e-12` in the "three ways" cell: the numerical column goes wrong in the 4th or 5th
#   digit — subtracting two nearly equal floats loses precision, so finite differences need a
#   moderate eps, while autograd is exact.
# - Change `f` to `sp.sin(x) * x` (and the autograd line to `(t.sin() * t).sum().backward()`): the
#   three columns still agree.
