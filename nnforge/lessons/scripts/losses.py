# %% [markdown]
# # 2.1 损失函数 — loss functions
#
# Seed section 2.1: a loss function measures the gap between the model's prediction and the
# truth. The seed names two: **mean squared error** (均方误差, MSE) for regression and
# **cross-entropy** (交叉熵损失) for classification, and prints both for one small example.
# This notebook reproduces its numbers, computes the same losses in PyTorch, then shows the
# versions real training uses: cross-entropy from raw scores (logits) without overflow, label
# smoothing, class weights (seed 7.3) and focal loss.

# %%
import numpy as np
import torch

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons._pairing import side_by_side
from nnforge.scratch.nn import functional as F

OUT = lesson_folder("losses")

# %% [markdown]
# ## The seed's example
# Two examples, three classes, one-hot truth; the seed prints `MSE: 0.0333` and `交叉熵: 0.2899`.

# %%
heading("The seed's example")
y_true = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64)
y_pred = scratch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1]], dtype=scratch.float64)
mse = F.mse_loss(y_pred, y_true)
ce = -(scratch.tensor(y_true, dtype=scratch.float64) * y_pred.log()).sum(1).mean()
print(f"MSE: {mse.item():.4f}   (seed: 0.0333)")
print(f"cross-entropy: {ce.item():.4f}   (seed: 0.2899) = -(log 0.8 + log 0.7) / 2")

# %% [markdown]
# ## NumPy beside PyTorch: the loss and its gradient
# Training needs the gradient of the loss with respect to the network's outputs. Both
# frameworks compute MSE and cross-entropy (from logits) and backpropagate them.

# %%
rng = np.random.default_rng(0)
logits64, labels = rng.standard_normal((64, 10)), rng.integers(0, 10, 64)
targets64 = rng.standard_normal((64, 10))


def scratch_loss(kind):
    z = scratch.tensor(logits64, dtype=scratch.float64, requires_grad=True)
    loss = F.cross_entropy(z, labels) if kind == "ce" else F.mse_loss(z, targets64)
    loss.backward()
    return loss, [z.grad]


def torch_loss(kind):
    z = torch.tensor(logits64, requires_grad=True)
    loss = (torch.nn.functional.cross_entropy(z, torch.tensor(labels)) if kind == "ce"
            else torch.nn.functional.mse_loss(z, torch.tensor(targets64)))
    loss.backward()
    return loss, [z.grad]


side_by_side("MSE, 64 x 10", lambda: scratch_loss("mse"), lambda: torch_loss("mse"))
side_by_side("cross-entropy from logits, 64 x 10", lambda: scratch_loss("ce"), lambda: torch_loss("ce"))

# %% [markdown]
# ## Cross-entropy from logits, stably
# Softmax then log overflows for large scores; the log-sum-exp trick subtracts the largest score
# first and gives the exact answer.

# %%
heading("Cross-entropy from logits, stably")
logits = scratch.tensor([[1000.0, 0.0, -1000.0]], dtype=scratch.float64)
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    naive = float(-np.log(np.exp(logits.data[0, 1]) / np.exp(logits.data).sum()))
print(f"softmax then log for logits (1000, 0, -1000), class 1: {naive}  (exp overflows)")
print(f"F.cross_entropy (log-sum-exp trick): {F.cross_entropy(logits, np.array([1])).item():.1f}")

# %% [markdown]
# ## Label smoothing and class weights

# %%
heading("Label smoothing and class weights")
logits = scratch.tensor([[2.0, 0.5, -1.0], [0.1, 1.5, 0.3]], dtype=scratch.float64)
target = np.array([0, 1])
for eps in (0.0, 0.1, 0.3):
    print(f"label_smoothing={eps}: loss {F.cross_entropy(logits, target, label_smoothing=eps).item():.4f}")
w = np.array([1.0, 3.0, 1.0])
print(f"class weights {w.tolist()}: loss {F.cross_entropy(logits, target, weight=w).item():.4f} "
      "(a weighted mean: rare classes count more, seed 7.3)")

# %% [markdown]
# ## Focal loss: $-(1 - p_t)^\gamma \log p_t$
# With $\gamma = 0$ it is cross-entropy; larger $\gamma$ shrinks the loss of examples the model
# already gets right ($p_t$ near 1), so training spends its effort on the hard ones.

# %%
heading("Focal loss: -(1 - p_t)^gamma log p_t")
p = np.linspace(0.01, 1.0, 200)
fig, axes = figure(size=(6, 4))
ax = axes[0, 0]
for gamma in (0, 0.5, 1, 2, 5):
    # logits (log p, log(1 - p)) make softmax give exactly p for class 0
    lg = scratch.tensor(np.stack([np.log(p), np.log1p(-p + 1e-12)], 1), dtype=scratch.float64)
    loss = F.focal_loss(lg, np.zeros(len(p), dtype=np.int64), gamma=gamma, reduction="none").data
    ax.plot(p, loss, label=f"gamma={gamma}")
    print(f"gamma={gamma}: loss at p_t=0.9 is {loss[np.argmin(abs(p - 0.9))]:.4f}")
ax.set_xlabel("probability of the true class p_t")
ax.set_ylabel("loss")
ax.set_title("Focal loss down-weights easy examples")
ax.legend()
ax.grid(True)
save(fig, OUT, "focal_loss.png")

# %% [markdown]
# ## Try next
# - Change `y_pred`'s first row to `[0.4, 0.3, 0.3]` (a less confident right answer): MSE
#   barely moves but cross-entropy jumps, because $-\log 0.4 \gg -\log 0.8$ — cross-entropy
#   punishes low confidence in the right class much harder.
# - Raise `label_smoothing` to 0.9: the loss no longer rewards confidence at all.
# - Add `gamma=10` to the focal-loss loop: the curve is flat above $p_t \approx 0.5$.
