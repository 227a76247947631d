# %% [markdown]
# # 2.2 梯度下降与反向传播 — backpropagation, three ways and in PyTorch
#
# Seed section 2.2: **gradient descent** (梯度下降) updates every weight by
# $w \leftarrow w - \eta \nabla_w L$, and **backpropagation** (反向传播) computes those gradients:
# forward pass (前向传播), loss, backward pass, update. The seed's `SimpleNeuralNetwork`
# (ReLU hidden layer, sigmoid output) writes the backward pass by hand; its `dz2 = a2 - y` is
# the gradient of binary cross-entropy through a sigmoid (the sigmoid's derivative cancels).
#
# Here one 3-4-2 network's gradients come out four ways: the seed's formulas by hand, scratch's
# autograd, finite differences, and PyTorch's autograd. If they agree, autograd is just the chain
# rule applied mechanically.

# %%
import numpy as np
import torch

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save, table
from nnforge.lessons._pairing import side_by_side
from nnforge.lessons.backprop import by_hand, loss_fn, numeric

OUT = lesson_folder("backprop")

# %% [markdown]
# ## The network and a batch of 8
# `by_hand` is the seed's backward pass; `loss_fn` builds the same forward pass from scratch
# tensors so autograd can differentiate it; `numeric` nudges each weight by ±1e-6.

# %%
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 3))
Y = (rng.random((8, 2)) > 0.5).astype(np.float64)
params = [rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4) * 0.1,
          rng.standard_normal((4, 2)) * 0.5, rng.standard_normal(2) * 0.1]
names = ["W1", "b1", "W2", "b2"]
heading("A 3-4-2 network (ReLU, sigmoid), binary cross-entropy, batch of 8")

# %% [markdown]
# ## By hand, by autograd, by finite differences

# %%
hand = by_hand(X, Y, *params)
leaves = [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]
f = loss_fn(scratch.tensor(X, dtype=scratch.float64), Y)
loss = f(*leaves)
loss.backward()
auto = {n: t.grad.data for n, t in zip(names, leaves)}
num = dict(zip(names, numeric(f, [p.copy() for p in params])))
print(f"loss = {loss.item():.6f}")
rows = [(n, str(params[k].shape), float(np.abs(hand[n] - auto[n]).max()),
         float(np.abs(num[n] - auto[n]).max())) for k, n in enumerate(names)]
table(["param", "shape", "|hand-auto|", "|numeric-auto|"], rows, fmt="{:>15}")
print("dW2[0] by hand   :", np.round(hand["W2"][0], 6))
print("dW2[0] autograd  :", np.round(auto["W2"][0], 6))
print("dW2[0] numerical :", np.round(num["W2"][0], 6))
print("All three agree: autograd is the chain rule, applied mechanically.")
print("scratch.gradcheck runs the numerical comparison for any function:",
      scratch.gradcheck(f, [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]))

# %% [markdown]
# ## NumPy beside PyTorch
# The same forward pass in `torch` (float64), `loss.backward()`, and the four gradients compared
# with scratch's.

# %%
def scratch_backprop():
    leaves = [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]
    loss = f(*leaves)
    loss.backward()
    return loss, [t.grad for t in leaves]


def torch_backprop():
    W1, b1, W2, b2 = [torch.tensor(p, requires_grad=True) for p in params]
    p = torch.sigmoid(torch.relu(torch.tensor(X) @ W1 + b1) @ W2 + b2)
    loss = torch.nn.functional.binary_cross_entropy(p, torch.tensor(Y), reduction="sum") / len(X)
    loss.backward()
    return loss, [W1.grad, b1.grad, W2.grad, b2.grad]


side_by_side("the 3-4-2 network's loss and gradients (float64)", scratch_backprop, torch_backprop)

# %% [markdown]
# ## See the graph
# Autograd recorded every operation of the forward pass and its inputs. `draw_graph` draws that
# record (left: the input batch and the parameters; right: the loss), each node with its
# operation, its shape (or value) and the gradient the backward pass left on it —
# `retain_grads` keeps the inner nodes' gradients, which autograd otherwise frees.

# %%
from nnforge.scratch import draw_graph, retain_grads

leaves = [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]
loss = f(*leaves)
retain_grads(loss)
loss.backward()
fig = draw_graph(loss, names={id(t): n for t, n in zip(leaves, names)})
save(fig, OUT, "backprop_graph.png")

# %% [markdown]
# ## The picture: every gradient, three ways
# Three bars per parameter, one per method; they are the same height.

# %%
fig, axes = figure(1, 1, size=(9, 4.2))
ax = axes[0, 0]
flat = {k: np.concatenate([d[n].ravel() for n in names]) for k, d in
        (("by hand", hand), ("autograd", auto), ("finite differences", num))}
idx = np.arange(len(flat["by hand"]))
for shift, (label, values) in zip((-0.25, 0, 0.25), flat.items()):
    ax.bar(idx + shift, values, width=0.25, label=label)
ax.set_xlabel("parameter index (W1, b1, W2, b2 flattened)")
ax.set_ylabel("d loss / d parameter")
ax.set_title("Three ways to the same gradient")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
save(fig, OUT, "backprop_gradients.png")

# %% [markdown]
# ## Try next
# - In `numeric`'s call, pass `eps=1e-2`: the finite differences drift from autograd (the
#   table's last column grows by orders of magnitude), because a central difference is exact only as eps → 0.
# - Change `by_hand`'s ReLU derivative `(z1 > 0)` to `1` (forget the ReLU): the `|hand-auto|`
#   column for W1 and b1 stops being ~1e-17 — the table catches the bug at once.
