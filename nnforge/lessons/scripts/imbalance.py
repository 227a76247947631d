# %% [markdown]
# # 7.3 类别不平衡 — class imbalance, and the seed's remedies measured on the class that suffers
#
# Seed section 7.3: some classes have far more examples than others (**类别不平衡**). The seed's
# remedies: **resampling** (重采样: oversample the rare class, undersample the common ones),
# **class weights** (类别权重, computed "balanced" with scikit-learn's `compute_class_weight`),
# **Focal Loss**, and data augmentation.
#
# A network can score well overall while rarely predicting a rare class: its loss is an average
# over examples, and the rare class contributes little. Here only 8 of the ~145 training examples
# of the digit 9 are kept; the same scratch MLP trains five ways, and each is judged by the recall
# of 9 on a balanced test split (how many real 9s it finds).

# %%
import numpy as np

from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.imbalance import KEPT, METHODS, RARE, fit, split

OUT = lesson_folder("imbalance")

# %% [markdown]
# ## Five ways to train
# `fit(method)` trains a 64-64-10 MLP for 30 epochs with Adam: plain cross-entropy; class weights
# n_samples / (n_classes × count); oversampling (each example drawn with probability inverse to
# its class's size); focal loss alone; focal loss with the class weights as its alpha.

# %%
x, y, xt, yt = split()
heading(f"Digits with only {KEPT} training examples of '{RARE}' (the others have ~{int(np.median(np.bincount(y)))} each)")
results = {m: fit(m) for m in METHODS}
for method, (recall, accuracy) in results.items():
    print(f"{method:>15}: recall of '{RARE}' {recall:6.1%}   overall accuracy {accuracy:6.1%}")
print(f"({int((yt == RARE).sum())} real '{RARE}'s in the test split; the overall accuracy hides the rare class)")

# %% [markdown]
# ## The picture: recall of the rare digit against overall accuracy

# %%
fig, axes = figure(1, 1, size=(8.5, 4.6))
ax = axes[0, 0]
pos = np.arange(len(METHODS))
ax.bar(pos - 0.2, [results[m][0] for m in METHODS], width=0.4, label=f"recall of '{RARE}'", color="#c0392b")
ax.bar(pos + 0.2, [results[m][1] for m in METHODS], width=0.4, label="overall accuracy", color="#7f8c8d")
ax.set_xticks(pos, METHODS)
ax.set_ylim(0, 1.05)
ax.set_xlabel("training method")
ax.set_ylabel("share of the test split")
ax.set_title(f"Only {KEPT} training examples of '{RARE}'")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
save(fig, OUT, "imbalance.png")

# %% [markdown]
# ## Try next
# - Run `import nnforge.lessons.imbalance as lesson; lesson.KEPT = 2` and rerun the five
#   methods: with two examples even the remedies struggle — reweighting cannot invent variety.
# - Set `lesson.RARE = 1` to make another digit the rare one: some digits are easier to find
#   from few examples than others.
