# %% [markdown]
# # 1.2 神经元模型 — the neuron: a perceptron (感知机)
#
# Seed section 1.2: the simplest neuron model takes several inputs, forms a **weighted sum**
# (加权求和), adds a **bias** (偏置) and passes the result through an **activation function**
# (激活函数, here the sigmoid):
#
# $$y = f\Big(\sum_{i=1}^{n} w_i x_i + b\Big)$$
#
# This notebook computes the seed's example neuron, computes it again in PyTorch, then trains one
# neuron on three logic gates and shows the one it cannot learn.

# %%
import numpy as np
import torch

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons._pairing import side_by_side
from nnforge.scratch import nn

OUT = lesson_folder("perceptron")  # where the pictures are written

# %% [markdown]
# ## The seed's example neuron
# Inputs `[0.5, 0.3, 0.8]`, weights `[0.2, 0.4, -0.1]`, bias `0.1`. The seed prints `0.5597`.

# %%
heading("The seed's example neuron")
neuron = nn.Perceptron(3)
neuron.load_state_dict({"weight": np.array([0.2, 0.4, -0.1]), "bias": np.array(0.1)})
inputs = scratch.tensor([0.5, 0.3, 0.8])
z = neuron.weighted_sum(inputs)
print("inputs  = [0.5, 0.3, 0.8], weights = [0.2, 0.4, -0.1], bias = 0.1")
print(f"weighted sum = 0.5*0.2 + 0.3*0.4 + 0.8*(-0.1) + 0.1 = {z.item():.4f}")
print(f"sigmoid({z.item():.4f}) = output: {neuron(inputs).item():.4f}   (the seed prints 0.5597)")

# %% [markdown]
# ## The same neuron in NumPy and in PyTorch
# Both compute the output and, by backpropagation, its gradient with respect to the weights and
# the bias (what training will use). In float64 they agree to rounding; the timing shows what a
# framework costs for one tiny neuron.

# %%
x64, w64, b64 = np.array([0.5, 0.3, 0.8]), np.array([0.2, 0.4, -0.1]), np.array(0.1)


def scratch_neuron():
    w = scratch.tensor(w64, dtype=scratch.float64, requires_grad=True)
    b = scratch.tensor(b64, dtype=scratch.float64, requires_grad=True)
    y = scratch.sigmoid(scratch.tensor(x64, dtype=scratch.float64) @ w + b)
    y.backward()
    return y, [w.grad, b.grad]


def torch_neuron():
    w = torch.tensor(w64, requires_grad=True)
    b = torch.tensor(b64, requires_grad=True)
    y = torch.sigmoid(torch.tensor(x64) @ w + b)
    y.backward()
    return y, [w.grad, b.grad]


side_by_side("the neuron (float64)", scratch_neuron, torch_neuron)

# %% [markdown]
# ## Learning logic gates with one neuron
# Gradient descent on cross-entropy (seed 2.1) adjusts `w` and `b`. AND and OR are separable
# by one straight line; XOR is not, so no single neuron can learn it.

# %%
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def train_gate(targets, steps=2000):
    scratch.manual_seed(0)
    gate = nn.Perceptron(2)
    opt = scratch.optim.SGD(gate.parameters(), lr=1.0)
    y = np.array(targets, dtype=np.float32)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.binary_cross_entropy(gate(scratch.tensor(X)), y).backward()
        opt.step()
    return gate


heading("Learning logic gates with one neuron (gradient descent on cross-entropy)")
trained = {}
for gate, targets in GATES.items():
    trained[gate] = p = train_gate(targets)
    with scratch.no_grad():
        out = p(scratch.tensor(X)).data
    pred = (out > 0.5).astype(int)
    w, b = p.weight.data, p.bias.item()
    print(f"{gate:>3}: w = [{w[0]:+.2f}, {w[1]:+.2f}], b = {b:+.2f} -> predicts {pred.tolist()}"
          f" (target {targets}) {'learned' if np.array_equal(pred, targets) else 'NOT learnable by one neuron'}")
print(f"the XOR neuron's output stays within {np.abs(out - 0.5).max():.3f} of 0.5 on every input: it gave up")
print("XOR needs a hidden layer: see `nnforge lesson xor`.")

# %% [markdown]
# ## The picture: each neuron's output over the input square
# The colour is the neuron's output; the black line is where it equals 0.5 (its decision
# boundary, a straight line). For XOR the trained neuron outputs 0.5 everywhere, so the third
# panel shows the best a line can do instead: the OR neuron's line gets one XOR point wrong.

# %%
grid = np.linspace(-0.5, 1.5, 200, dtype=np.float32)
gx, gy = np.meshgrid(grid, grid)
points = np.stack([gx.ravel(), gy.ravel()], 1)
fig, axes = figure(1, 3, size=(13, 4.8))
panels = [("AND", "AND", "AND: learned"), ("OR", "OR", "OR: learned"),
          ("XOR", "OR", "XOR: the best line still gets one wrong")]
for ax, (gate, drawn, title) in zip(axes[0], panels):
    with scratch.no_grad():
        surface = trained[drawn](scratch.tensor(points)).data.reshape(gx.shape)
        wrong = (trained[drawn](scratch.tensor(X)).data > 0.5).astype(int) != np.array(GATES[gate])
    filled = ax.contourf(gx, gy, surface, levels=np.linspace(0, 1, 21), cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, surface, levels=[0.5], colors="k")
    targets = np.array(GATES[gate])
    for value, colour in ((0, "#2166ac"), (1, "#b2182b")):
        ax.scatter(*X[targets == value].T, color=colour, edgecolors="k", s=120, label=f"target {value}")
    ax.scatter(*X[wrong].T, marker="x", color="k", s=300, linewidths=3, label="predicted wrong")
    ax.set_title(title)
    ax.set_xlabel("input x1")
    ax.set_ylabel("input x2")
handles, labels = axes[0, 2].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=3)
fig.colorbar(filled, ax=axes[0, :], label="neuron output (0.5: the boundary line)")
save(fig, OUT, "perceptron_gates.png")

# %% [markdown]
# ## Try next
# - Change the seed's weights in the first cell, e.g. `[0.2, 0.4, -0.1]` to `[2.0, 4.0, -1.0]`:
#   the weighted sum grows tenfold and the sigmoid saturates near 1 — and the gradient the
#   side-by-side cell prints shrinks, which is why saturated neurons learn slowly (seed 7.1).
# - In `train_gate`, lower `steps` to 20: AND's line has barely moved and it still misclassifies.
# - Add a gate of your own to `GATES`, e.g. `"NAND": [1, 1, 1, 0]`: one line separates it, so it
#   is learned. Only XOR and XNOR are not.
