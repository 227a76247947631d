# %% [markdown]
# # 8.1 自监督学习 — self-supervised learning: learning from images without their labels
#
# The first seed's section 8.1 names **self-supervised learning** (自监督学习, "using data without
# labels") as a direction of the field. Labels are the expensive part of a dataset; images are
# cheap. SimCLR (Chen et al. 2020) learns from the images alone: each image is augmented twice
# (shifted, rotated, zoomed, partly erased), the network maps both **views** to vectors, and the
# **NT-Xent** loss pulls the two views of one image together while pushing them away from every
# other view in the batch. To win, the network must notice what stays the same when a digit is
# moved or partly hidden: its shape — exactly what a classifier needs later.
#
# Then the encoder meets labels, only 100 of them: a **linear probe** (a logistic regression on
# its frozen features) and **fine-tuning** (all weights trained on the 100 digits), each compared
# with the same network starting from random weights, and with **supervised pretraining** (the
# transfer-learning recipe: the same network first taught with all 3,600 labels).

# %%
import tempfile
from pathlib import Path

from nnforge.lessons._common import figure, heading, lesson_folder, save, show_png, table
from nnforge.lessons.selfsupervised import LABELS, PRETRAIN_EPOCHS, finetune, pretrain, supervised_pretrain

OUT = lesson_folder("selfsupervised")
RUNS = Path(tempfile.mkdtemp(prefix="nnforge-ssl-"))

# %% [markdown]
# ## Step 1: pretraining, no labels
# `nnforge train ssl_pretrain_mnist` (here shortened): the quickstart-sized CNN with a 64-wide
# projection head. Each epoch prints the NT-Xent loss and how often a view's nearest neighbour
# among the batch's other views is its own pair ("pair accuracy"; chance is 1 in 511).

# %%
heading(f"SimCLR on 3,600 MNIST images, labels unused: {PRETRAIN_EPOCHS} epochs")
ssl = pretrain(RUNS / "ssl")
for h in ssl.history:
    print(f"epoch {h['epoch']}: NT-Xent {h['train_loss']:.3f}, pair accuracy {h['train_pair_accuracy']:.1%} "
          f"(validation {h['val_loss']:.3f}, {h['val_pair_accuracy']:.1%})")
m = ssl.metrics
print(f"linear probe on {m['probe_labels']} labelled digits: {m['probe_accuracy']:.1%} with the pretrained encoder, "
      f"{m['random_encoder_probe_accuracy']:.1%} with the same encoder untrained")

# %% [markdown]
# ## What the encoder learned, seen without labels
# The test digits' features, laid out in two dimensions by t-SNE (which keeps who is near whom).
# The colours are the labels the encoder never saw: after pretraining, digits of one kind gather together.

# %%
show_png(ssl.dir / "embedding.png", OUT, "ssl_embedding.png")

# %% [markdown]
# ## Step 2: 100 labels
# `nnforge train ssl_finetune_mnist --set train.init.weights=RUN`: every weight is trained on the
# 100 labelled digits (10 per class); the projection head is replaced by a fresh 10-way layer.

# %%
heading(f"Fine-tuning on {LABELS} labelled digits; test accuracy on 1,000 unseen digits")
supervised = supervised_pretrain(RUNS / "supervised")
results = {
    "random weights": finetune(RUNS / "scratch", None),
    "self-supervised (no labels)": finetune(RUNS / "ssl-ft", ssl.dir),
    "supervised (3,600 labels)": finetune(RUNS / "sup-ft", supervised.dir),
}
table(["start from", "test accuracy"], [(k, f"{r.metrics['test_accuracy']:.1%}") for k, r in results.items()], fmt="{:>30}")
gain = results["self-supervised (no labels)"].metrics["test_accuracy"] - results["random weights"].metrics["test_accuracy"]
print(f"pretraining without labels is worth {gain * 100:+.1f} points with {LABELS} labels")

# %% [markdown]
# ## The comparison in one picture
# Left: what a linear probe reads from frozen features. Right: fine-tuning every weight. Both
# with the same 100 labelled digits, scored on the 1,000 test digits.

# %%
fig, axes = figure(1, 2, size=(10, 3.8))
probes = {"untrained encoder": m["random_encoder_probe_accuracy"], "self-supervised encoder": m["probe_accuracy"]}
for ax, values, title in ((axes[0, 0], probes, "linear probe on frozen features"),
                          (axes[0, 1], {k: r.metrics["test_accuracy"] for k, r in results.items()}, "fine-tuning every weight")):
    bars = ax.bar(range(len(values)), [100 * v for v in values.values()], color=["#999999", "#1f77b4", "#2ca02c"][:len(values)])
    ax.bar_label(bars, fmt="%.1f %%", fontsize=8)
    ax.set_xticks(range(len(values)), [k.replace(" (", "\n(") for k in values], fontsize=8)
    ax.set_ylim(50, 100)
    ax.set_xlabel("starting weights")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
save(fig, OUT, "ssl_comparison.png")
import shutil

shutil.rmtree(RUNS, ignore_errors=True)

# %% [markdown]
# ## Try next
# - Pretrain longer (`nnforge train ssl_pretrain_mnist`, 10 epochs) and fine-tune from it: the
#   probe and the fine-tuned accuracy rise with pretraining.
# - Drop the cutout (`--set data.augment.cutout=0`): with easier views the task teaches less.
# - Raise `contrastive.temperature` to 1.0: softer negatives, a weaker encoder.
# - With 1,000 labels (`--set data.train_fraction=0.25`) the three starts draw closer: pretraining
#   matters most when labels are few.
