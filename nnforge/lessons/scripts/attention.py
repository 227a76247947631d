# %% [markdown]
# # next.1 (seed 8.1 当前趋势: Transformer架构) — self-attention, and a tiny Transformer reading digits
#
# The first seed's section 8.1 (current trends) names it first: the **Transformer architecture** (Transformer架构), from NLP
# to vision (**ViT**); its reading list ends with Transformer (2017) and Vision Transformer (2020).
# Their core is one formula, scaled dot-product attention:
#
# $$\text{Attention}(Q, K, V) = \text{softmax}\big(QK^\top / \sqrt{d}\big)\, V$$
#
# Every token (here: one 8-pixel row of an 8x8 digit) asks a question (Q), offers a key (K) and a
# value (V); each token's output is the values averaged with weights saying how well its question
# matches each key. The formula is written out, checked against PyTorch's fused kernel and
# against scratch's NumPy layer, then a one-layer Transformer encoder (attention, a small MLP,
# residual connections and LayerNorm, a class token, learned positions) trains on real digits.

# %%
import numpy as np
import torch
from torch import nn

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons._pairing import side_by_side
from nnforge.lessons.attention import attention, digits_as_rows, train

OUT = lesson_folder("attention")

# %% [markdown]
# ## Scaled dot-product attention, written out
# `attention(q, k, v)` is the formula in three lines; torch's `scaled_dot_product_attention` is
# the fused kernel real models call.

# %%
heading("Scaled dot-product attention, written out")
torch.manual_seed(0)
q, k, v = torch.randn(3, 1, 4, 8).unbind(0)
mine, weights = attention(q, k, v)
fused = nn.functional.scaled_dot_product_attention(q, k, v)
print("weights (each row sums to 1):")
for row in weights[0]:
    print("   " + "  ".join(f"{w:.3f}" for w in row.tolist()) + f"   sum {float(row.sum()):.3f}")
print(f"largest difference from torch's fused kernel: {float((mine - fused).abs().max()):.2e}")

# %% [markdown]
# ## NumPy beside PyTorch: a multi-head attention layer
# `nnforge.scratch.nn.MultiheadAttention` (NumPy only) and `torch.nn.MultiheadAttention` with the
# same weights, 2 heads of width 4, on a batch of 2 sequences of 5 tokens; gradients of the sum
# of squared outputs with respect to the input.

# %%
torch.manual_seed(0)
torch_layer = nn.MultiheadAttention(8, 2, batch_first=True).double()
scratch_layer = scratch.nn.MultiheadAttention(8, 2, batch_first=True).double()
scratch_layer.load_state_dict(torch_layer.state_dict())
tokens = np.random.default_rng(0).standard_normal((2, 5, 8))


def scratch_attention():
    x = scratch.tensor(tokens, dtype=scratch.float64, requires_grad=True)
    out = scratch_layer(x, x, x)[0]
    (out * out).sum().backward()
    return out, [x.grad]


def torch_attention():
    x = torch.tensor(tokens, requires_grad=True)
    out = torch_layer(x, x, x)[0]
    (out * out).sum().backward()
    return out, [x.grad]


side_by_side("multi-head attention (float64)", scratch_attention, torch_attention)

# %% [markdown]
# ## A one-layer Transformer reads 8x8 digits row by row
# `train()` runs 30 epochs of AdamW on 1,437 digits and tests on the other 360 after each.

# %%
heading("A one-layer Transformer reads 8x8 digits row by row")
model, accuracies, final = train()
for epoch in range(4, len(accuracies), 5):
    print(f"epoch {epoch + 1:3d}: test accuracy {accuracies[epoch]:.1%}")
params = sum(p.numel() for p in model.parameters())
print(f"{params} parameters, test accuracy {final:.1%} (each row is one token; the class token reads them all)")

# %% [markdown]
# ## The picture: where the class token looked
# Top: six test digits with the true and predicted class. Below each: the class token's
# attention over the 8 rows (averaged over the 4 heads).

# %%
_, _, x_test, y_test = digits_as_rows()
with torch.no_grad():
    predicted = model(x_test[:6]).argmax(1)
weights = model.attn.weights[:, :, 0, 1:].mean(1)  # class token -> rows, averaged over heads
fig, axes = figure(2, 6, size=(13, 4.8))
for i in range(6):
    axes[0, i].imshow(x_test[i].numpy(), cmap="gray_r")
    axes[0, i].set_title(f"true {int(y_test[i])}, pred {int(predicted[i])}", fontsize=9)
    axes[1, i].barh(np.arange(8), weights[i].numpy(), color="#c0392b")
    axes[1, i].invert_yaxis()
    axes[1, i].set_xlabel("attention", fontsize=8)
    for ax in (axes[0, i], axes[1, i]):
        ax.set_yticks([])
    axes[0, i].set_xticks([])
axes[1, 0].set_yticks([0, 7], ["row 0 (top)", "row 7"])
axes[1, 0].set_ylabel("image row")
fig.suptitle("Where the class token looked: attention over the 8 rows of each digit")
save(fig, OUT, "attention.png")

# %% [markdown]
# ## Try next
# - Call `train(epochs=5)`: the accuracy is already well above chance after a few epochs;
#   attention needs little data when each token is a whole row.
# - In the side-by-side cell use 1 head (`nn.MultiheadAttention(8, 1, ...)` on both sides): the
#   two still agree — the heads only split the width.
