# %% [markdown]
# # 2.2 梯度下降与反向传播 — the seed's XOR network, trained
#
# Seed section 2.2 ends by training its `SimpleNeuralNetwork(2, 4, 1)` on the **XOR problem**
# (XOR问题): 2 inputs, 4 ReLU hidden units, 1 sigmoid output, full-batch gradient descent,
# printing the MSE every 1000 epochs. XOR is what one neuron cannot learn (`nnforge lesson
# perceptron`); one hidden layer bends the decision boundary enough. Here the same network is
# built from scratch layers and trained with autograd instead of the hand-written backward pass.

# %%
import numpy as np

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.xor import X, Y, train

OUT = lesson_folder("xor")

# %% [markdown]
# ## Training
# `train()` builds `Linear(2, 4) → ReLU → Linear(4, 1) → Sigmoid`, and runs 3,000 steps of SGD
# (learning rate 0.5) on binary cross-entropy, recording the MSE the seed prints.

# %%
heading("Training the seed's 2-4-1 network on XOR")
model, history = train()
for epoch in range(0, len(history), 500):
    print(f"Epoch {epoch}, Loss (MSE): {history[epoch]:.6f}")

# %% [markdown]
# ## What it predicts for the four inputs

# %%
with scratch.no_grad():
    pred = model(scratch.tensor(X)).data
for x, p, y in zip(X, pred[:, 0], Y[:, 0]):
    print(f"  {x.astype(int).tolist()} -> {p:.3f}  (target {int(y)})")
acc = float(((pred > 0.5) == Y).mean())
print(f"accuracy: {acc:.0%}")

# %% [markdown]
# ## The picture: a bent decision boundary, and the loss falling
# Left, the network's output over the input square; the black curve is output = 0.5. Unlike the
# perceptron's straight line, it puts (0, 1) and (1, 0) on one side and (0, 0), (1, 1) on the other.

# %%
grid = np.linspace(-0.5, 1.5, 200, dtype=np.float32)
gx, gy = np.meshgrid(grid, grid)
with scratch.no_grad():
    surface = model(scratch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).data.reshape(gx.shape)
fig, axes = figure(1, 2, size=(12, 4.6))
ax = axes[0, 0]
filled = ax.contourf(gx, gy, surface, levels=np.linspace(0, 1, 21), cmap="RdBu_r", alpha=0.7)
ax.contour(gx, gy, surface, levels=[0.5], colors="k")
for value, colour in ((0, "#2166ac"), (1, "#b2182b")):
    ax.scatter(*X[Y[:, 0] == value].T, color=colour, edgecolors="k", s=150, label=f"target {value}")
ax.set_xlabel("input x1")
ax.set_ylabel("input x2")
ax.set_title("XOR decision boundary (output = 0.5)")
ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncols=2)
fig.colorbar(filled, ax=ax, label="network output")
axes[0, 1].plot(history)
axes[0, 1].set_yscale("log")
axes[0, 1].set_xlabel("epoch")
axes[0, 1].set_ylabel("MSE")
axes[0, 1].set_title("Training loss")
save(fig, OUT, "xor_decision_boundary.png")
print("try it in the playground: `nnforge playground`, then XOR with one hidden layer of 4 tanh neurons: "
      "press Play and watch each neuron's picture and the boundary form")

# %% [markdown]
# ## Try next
# - Call `train(seed=3)`: with only 4 hidden ReLUs some starts leave units dead and the MSE
#   stalls at 0.167 (one input always wrong) — one reason real networks are wider than they need to be.
# - Call `train(lr=0.05)`: ten times smaller steps; after 3,000 epochs the MSE is still ~1e-3
#   where the default reaches ~0.
