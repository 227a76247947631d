# %% [markdown]
# # 1.3 激活函数 — activation functions and their derivatives
#
# Seed section 1.3: an activation function introduces **non-linearity** (非线性), so that stacked
# layers can learn more than one straight line. The seed plots three:
#
# - Sigmoid $\sigma(x) = 1 / (1 + e^{-x})$, output between 0 and 1;
# - ReLU $\max(0, x)$, cheap to compute and the usual choice;
# - Tanh, output between -1 and 1.
#
# Training needs each one's **derivative** too. Here autograd computes it: `backward()` of
# `sum(f(x))` gives every $f'(x_i)$ at once.

# %%
import numpy as np
import torch

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save, table
from nnforge.lessons._pairing import side_by_side
from nnforge.scratch.nn import functional as F

OUT = lesson_folder("activations")
FUNCTIONS = {"Sigmoid": F.sigmoid, "ReLU": F.relu, "Tanh": F.tanh}


def value_and_derivative(fn, x):
    """f(x) and f'(x) elementwise: backward of sum(f(x)) gives each f'(x_i)."""
    t = scratch.tensor(x, dtype=scratch.float64, requires_grad=True)
    y = fn(t)
    y.sum().backward()
    return y.data, t.grad.data


# %% [markdown]
# ## The seed's plot, and the derivatives beside it

# %%
heading("Activation functions and their derivatives")
x = np.linspace(-5, 5, 101)
fig, axes = figure(1, 2, size=(11, 4))
for name, fn in FUNCTIONS.items():
    y, dy = value_and_derivative(fn, x)
    axes[0, 0].plot(x, y, label=name)
    axes[0, 1].plot(x, dy, label=f"{name}'")
axes[0, 0].set_title("Common activation functions (the seed's plot)")
axes[0, 0].set_ylabel("f(x)")
axes[0, 1].set_title("Their derivatives, computed by autograd")
axes[0, 1].set_ylabel("f'(x)")
for ax in axes[0]:
    ax.set_xlabel("x (the neuron's weighted sum)")
    ax.legend()
    ax.grid(True)
save(fig, OUT, "activations.png")

# %% [markdown]
# ## A few values, read off exactly

# %%
points = np.array([-4.0, -1.0, 0.5, 2.0, 4.0])
rows = []
for name, fn in FUNCTIONS.items():
    y, dy = value_and_derivative(fn, points)
    rows += [(name, float(p), float(a), float(b)) for p, a, b in zip(points, y, dy)]
table(["function", "x", "f(x)", "f'(x)"], rows)
print("sigmoid' = s(1-s) peaks at 0.25: stacked sigmoids shrink gradients (seed 7.1, vanishing gradients).")
print("tanh' = 1-t^2 peaks at 1; ReLU' is exactly 1 for x > 0, which is why deep nets prefer ReLU.")

# %% [markdown]
# ## NumPy beside PyTorch
# The same three functions and their derivatives in `torch`, on the same 101 points (float64).

# %%
TORCH = {"Sigmoid": torch.sigmoid, "ReLU": torch.relu, "Tanh": torch.tanh}


def scratch_step(name):
    y, dy = value_and_derivative(FUNCTIONS[name], x)
    return y, [dy]


def torch_step(name):
    t = torch.tensor(x, requires_grad=True)
    y = TORCH[name](t)
    y.sum().backward()
    return y, [t.grad]


for name in TORCH:
    side_by_side(f"{name} and its derivative", lambda: scratch_step(name), lambda: torch_step(name))

# %% [markdown]
# ## Try next
# - Add `"LeakyReLU": lambda t: F.leaky_relu(t, 0.1)` to `FUNCTIONS` and rerun the plot cell: its
#   derivative is 0.1, not 0, for negative inputs, so a "dead" neuron still gets a gradient.
# - Widen `x` to `np.linspace(-20, 20, 401)`: the sigmoid's derivative is practically 0 beyond
#   ±10 — the saturation that makes deep sigmoid networks stall (`nnforge lesson vanishing`).
