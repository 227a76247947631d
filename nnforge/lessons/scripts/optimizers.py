# %% [markdown]
# # 2.3 优化算法 — optimisation algorithms: SGD, momentum and Adam
#
# Seed section 2.3: besides plain gradient descent there are better update rules. **Momentum**
# (动量) accelerates convergence and damps oscillation by averaging gradients over steps;
# **Adam** combines momentum with an adaptive learning rate (自适应学习率) per weight and is
# the most used. The seed writes Adam out in NumPy (`m`, `v`, bias correction `m_hat`, `v_hat`).
#
# Here the three race: identical network, identical starting weights, identical mini-batches of a
# two-spirals problem, so only the update rule differs. Then each rule is run in scratch and in
# PyTorch from the same weights to check they are the same algorithm.

# %%
import numpy as np
import torch

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons._pairing import side_by_side
from nnforge.lessons.optimizers import RULES, race, spirals
from nnforge.scratch import nn
from nnforge.scratch.nn import functional as F

OUT = lesson_folder("optimizers")

# %% [markdown]
# ## The race
# `race()` trains a 2-32-32-2 tanh network for 400 steps of batches of 32 with each rule in
# `RULES`, and records the loss on all 200 points after every step.

# %%
heading("Same network, same start, same batches; three update rules")
curves = race()
for name, losses in curves.items():
    print(f"{name:<30} loss after 50 steps {losses[49]:.4f}, after {len(losses)} steps {losses[-1]:.4f}")
ranking = sorted(curves, key=lambda name: curves[name][-1])
print("ranking by final loss:", " < ".join(ranking))

# %% [markdown]
# ## The picture: the three loss curves

# %%
fig, axes = figure(size=(7, 4.5))
ax = axes[0, 0]
for name, losses in curves.items():
    ax.plot(losses, label=name)
ax.set_xlabel("step")
ax.set_ylabel("full-data cross-entropy")
ax.set_title("Two spirals: SGD vs momentum vs Adam")
ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.15), ncols=2, fontsize=8)
ax.grid(True)
save(fig, OUT, "optimizers.png")
print("Momentum averages gradients over steps (less zig-zag); Adam also scales each weight's step"
      " by its recent gradient size, so it moves fast early without tuning the learning rate much.")

# %% [markdown]
# ## NumPy beside PyTorch: each optimiser
# Twenty steps of each rule from the same float64 weights on the same batches, in
# `nnforge.scratch.optim` and in `torch.optim`; compared are the loss after the last step
# and the weights it ends with.

# %%
X, y = spirals()
scratch.manual_seed(0)
start = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2)).double().state_dict()
TORCH_RULES = {
    "SGD (lr 0.05)": lambda p: torch.optim.SGD(p, lr=0.05),
    "SGD + momentum 0.9 (lr 0.05)": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "Adam (lr 0.01)": lambda p: torch.optim.Adam(p, lr=0.01),
}
batches = [np.random.default_rng(k).integers(0, len(X), 32) for k in range(20)]


def scratch_steps(rule):
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2)).double()
    model.load_state_dict(start)
    opt = RULES[rule](model.parameters())
    for b in batches:
        opt.zero_grad()
        loss = F.cross_entropy(model(scratch.tensor(X[b], dtype=scratch.float64)), y[b])
        loss.backward()
        opt.step()
    return loss, [p.data for p in model.parameters()]


def torch_steps(rule):
    model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in start.items()})
    opt = TORCH_RULES[rule](model.parameters())
    for b in batches:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.tensor(X[b], dtype=torch.float64)), torch.tensor(y[b]))
        loss.backward()
        opt.step()
    return loss, list(model.parameters())


for rule in TORCH_RULES:
    side_by_side(f"{rule}, 20 steps", lambda: scratch_steps(rule), lambda: torch_steps(rule),
                 compared="weights")

# %% [markdown]
# ## Try next
# - Add `"Adam (lr 0.1)": lambda p: optim.Adam(p, lr=0.1)` to `RULES` and rerun the race: a
#   learning rate ten times larger; watch whether its curve gets jumpier and where it ends —
#   adaptive does not mean any rate works.
# - Add `"RMSprop (lr 0.01)": lambda p: optim.RMSprop(p, lr=0.01)`: Adam without the momentum
#   term; expect it between momentum and Adam.
