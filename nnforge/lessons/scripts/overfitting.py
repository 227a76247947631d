# %% [markdown]
# # 7.2 过拟合 — overfitting, watched happen, and the seed's remedies side by side
#
# Seed section 7.2: **overfitting** (过拟合) is a model that does well on its training set and
# badly on data it has not seen. The seed's remedies: more data (data augmentation),
# **regularisation** (正则化: Dropout, L2 weight decay), **early stopping** (早停) and a simpler model.
#
# A network with far more weights than examples can memorise its training set: the training loss
# keeps falling while the validation loss turns back up. Here the same wide MLP (64-256-256-10,
# 82,000 weights) trains on only 150 of scikit-learn's digits, a fifth of them mislabelled as real
# data often is (the other 1,647, correctly labelled, are the validation set): plainly, with
# dropout, with weight decay (AdamW's decoupled L2), and — reading the plain run's history —
# stopped early at its lowest validation loss.

# %%
import numpy as np

from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.overfitting import NOISY, TRAIN_SIZE, fit

OUT = lesson_folder("overfitting")

# %% [markdown]
# ## Three runs of 150 epochs
# `fit(dropout=..., weight_decay=...)` trains with Adam in batches of 30 and records the training
# and validation loss and the validation accuracy after every epoch.

# %%
heading(f"A 64-256-256-10 MLP (82,000 weights) on {TRAIN_SIZE} digits, {NOISY:.0%} mislabelled; validation: the other 1,647")
runs = {"plain": fit(), "dropout 0.5": fit(dropout=0.5), "weight decay 2": fit(weight_decay=2.0)}
plain = runs["plain"]
best = int(np.argmin(plain["val_loss"]))
for name, h in runs.items():
    print(f"{name:>17}: final train loss {h['train_loss'][-1]:.4f}, validation loss {h['val_loss'][-1]:.3f} "
          f"(lowest {min(h['val_loss']):.3f}), validation accuracy {h['val_accuracy'][-1]:.1%}")
print(f"{'early stopping':>17}: the plain run's validation loss was lowest at epoch {best + 1} "
      f"({plain['val_loss'][best]:.3f}, accuracy {plain['val_accuracy'][best]:.1%}); "
      f"by epoch {len(plain['val_loss'])} it had risen to {plain['val_loss'][-1]:.3f}")

# %% [markdown]
# ## The picture
# Left: training loss (dotted) and validation loss (solid) per run; the dashed line marks where
# early stopping would have stopped the plain run. Right: validation accuracy.

# %%
fig, axes = figure(1, 2, size=(12, 5.4))
for name, h in runs.items():
    line, = axes[0, 0].plot(h["val_loss"], label=f"{name}: validation")
    axes[0, 0].plot(h["train_loss"], color=line.get_color(), linestyle=":", label=f"{name}: training")
    axes[0, 1].plot(h["val_accuracy"], color=line.get_color(), label=name)
axes[0, 0].axvline(best, color="#888", linestyle="--", linewidth=0.8, label="early stop (lowest validation loss)")
axes[0, 0].set_yscale("log")
axes[0, 0].set_xlabel("epoch")
axes[0, 0].set_ylabel("cross-entropy")
axes[0, 0].set_title("Training (dotted) keeps falling, validation turns up")
axes[0, 1].set_xlabel("epoch")
axes[0, 1].set_ylabel("validation accuracy")
axes[0, 1].set_title("Validation accuracy")
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8)
save(fig, OUT, "overfitting.png")

# %% [markdown]
# ## Try next
# - Run `import nnforge.lessons.overfitting as lesson; lesson.TRAIN_SIZE = 600` and rerun the
#   three runs: with four times the data the plain
#   run's validation loss turns up later and less — more data is the seed's first remedy.
# - Try `fit(dropout=0.5, weight_decay=2.0)`: the two remedies combine.
# - Set `lesson.NOISY = 0.0`: without wrong labels to memorise, the gap between training and
#   validation loss narrows.
