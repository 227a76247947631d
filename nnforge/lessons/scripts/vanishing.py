# %% [markdown]
# # 7.1 梯度消失/爆炸 — vanishing gradients, measured layer by layer, and their cures
#
# Seed section 7.1: in a deep network the gradients can become tiny or huge (**梯度消失/爆炸**),
# and training stalls. Backpropagation multiplies, layer by layer, by each activation's derivative
# and each weight matrix; a sigmoid's derivative is at most 0.25, so the gradient reaching the
# first layers is a tiny fraction of the last one's. The seed's cures: non-saturating activations
# such as **ReLU**, **Batch Normalization**, and **residual connections** (残差连接, ResNet).
#
# One network — 12 weight layers (`Linear`), 64 → 32 → … → 32 → 10, on scikit-learn's digits —
# is built five ways with scratch layers. One is ReLU with PyTorch's default initialisation
# (uniform, scaled for sigmoid-like layers): its signal shrinks too, so ReLU alone is no cure;
# He initialisation, scaled for ReLU, is.

# %%
import numpy as np

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.vanishing import DEPTH, KINDS, build, digits, layer_gradient_norms, train

OUT = lesson_folder("vanishing")
x, y = digits()

# %% [markdown]
# ## The gradient each layer gets, before any training
# One batch of 256 digits, one backward pass; the norm of each `Linear` layer's weight gradient.

# %%
heading(f"Gradient norm of each layer at the start ({DEPTH} weight layers, first to last)")
norms = {kind: layer_gradient_norms(build(kind), x[:256], y[:256]) for kind in KINDS}
for kind, values in norms.items():
    print(f"{kind:>20}: {len(values)} layers, first {values[0]:.1e}, last {values[-1]:.1e}, "
          f"first/last {values[0] / values[-1]:.1e}")

# %% [markdown]
# ## Does each variant learn?
# 300 steps of plain SGD (learning rate 0.1, batches of 64) — the setting where it shows most.

# %%
heading("Training each for 300 SGD steps")
curves = {}
for kind in KINDS:
    model = build(kind)
    curves[kind] = train(model, x, y)
    model.eval()
    with scratch.no_grad():
        accuracy = float((model(scratch.tensor(x)).data.argmax(1) == y).mean())
    print(f"{kind:>20}: loss {np.mean(curves[kind][:20]):.3f} -> {np.mean(curves[kind][-20:]):.3f}, "
          f"training accuracy {accuracy:.1%}")

# %% [markdown]
# ## The picture
# Left: the gradient reaching each of the 12 layers (log scale). Right: the training loss; the
# two variants that do not learn stay at $\ln 10 \approx 2.30$ (guessing among 10 digits), so
# their curves lie on each other — one is drawn dashed.

# %%
STYLES = dict(zip(KINDS, ["-", "--", "-", "-", "-."]))
fig, axes = figure(1, 2, size=(12, 5.2))
for kind in KINDS:
    axes[0, 0].plot(range(1, len(norms[kind]) + 1), norms[kind], marker="o", linestyle=STYLES[kind], label=kind)
    axes[0, 1].plot(np.convolve(curves[kind], np.ones(10) / 10, mode="valid"), linestyle=STYLES[kind], label=kind)
axes[0, 0].set_yscale("log")
axes[0, 0].set_xlabel(f"layer (1 = nearest the input, {DEPTH} = the output layer)")
axes[0, 0].set_ylabel("gradient norm")
axes[0, 0].set_title("Gradient reaching each layer, at the start")
axes[0, 1].set_xlabel("SGD step")
axes[0, 1].set_ylabel("training loss (mean of 10)")
axes[0, 1].set_title("Training")
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=5)
save(fig, OUT, "vanishing_gradients.png")
print("try it in the playground: `nnforge playground`, then Spiral with 6 hidden layers of 8 sigmoid neurons and SGD: "
      "hover a first-layer weight and compare its gradient with a last-layer one; then switch to ReLU")

# %% [markdown]
# ## Try next
# - Run `import nnforge.lessons.vanishing as lesson; lesson.DEPTH = 6`, then the gradient cell
#   again (with `lesson.build`): the sigmoid network's
#   first/last ratio is orders of magnitude less extreme — vanishing is a *depth* problem.
# - Pass `steps=1000` to `train` in the training cell and watch whether the sigmoid network ever
#   leaves 2.30, while the residual network's loss keeps falling.
