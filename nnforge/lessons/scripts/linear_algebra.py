# %% [markdown]
# # math.1 数学基础: 线性代数 — linear algebra: vectors, matrices, and a layer as a matrix product
#
# The second seed's first maths foundation (section math.1): **vectors** (向量), **matrices**
# (矩阵), the **dot product** (点积) and **eigenvalues and eigenvectors** (特征值和特征向量).
# A network layer is exactly this: `y = W x + b` is one matrix product, a batch of inputs is a
# matrix, and a convolution (seed 4.1) is a matrix product over image patches.

# %%
import numpy as np
import torch

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons._pairing import side_by_side
from nnforge.scratch import nn

OUT = lesson_folder("linear-algebra")

# %% [markdown]
# ## The seed's example

# %%
heading("The seed's example")
vector = np.array([1, 2])
matrix = np.array([[1, 2], [3, 4]])
print("Vector:", vector)
print("Matrix:", matrix.tolist())
print("Dot Product:", np.dot(vector, matrix), " (= 1*[1,2] + 2*[3,4])")
eigenvalues, eigenvectors = np.linalg.eig(matrix)
print("Eigenvalues:", np.round(eigenvalues, 4))
print("Eigenvectors (columns):", np.round(eigenvectors, 4).tolist())
for lam, v in zip(eigenvalues, eigenvectors.T):
    print(f"  check A v = lambda v for lambda={lam:.4f}: {np.allclose(matrix @ v, lam * v)}")

# %% [markdown]
# ## A Linear layer is y = W x + b

# %%
heading("A Linear layer is y = W x + b")
scratch.manual_seed(0)
layer = nn.Linear(2, 2)
x = scratch.tensor([[1.0, 2.0]])
by_hand = x.data @ layer.weight.data.T + layer.bias.data
print("W =", np.round(layer.weight.data.astype(float), 4).tolist(), " b =", np.round(layer.bias.data.astype(float), 4).tolist())
print("layer(x) =", np.round(layer(x).data.astype(float), 4).tolist(), " x W^T + b =", np.round(by_hand.astype(float), 4).tolist())
print("A batch is a matrix too: 64 inputs of 784 pixels times W^T (784 x 512) is one matmul.")

# %% [markdown]
# ## NumPy beside PyTorch: a layer, and a convolution layer
# The seed's MNIST layer (784 → 512) on a batch of 64, and a 3x3 convolution (seed 4.1: 1 → 8
# channels on 28x28 images), each in scratch and in torch with the same weights; the gradients
# are those of the sum of squared outputs.

# %%
rng = np.random.default_rng(0)


def pair(scratch_layer, torch_layer, x):
    torch_layer = torch_layer.double()
    scratch_layer = scratch_layer.double()
    scratch_layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})

    def scratch_step():
        scratch_layer.zero_grad()
        out = scratch_layer(scratch.tensor(x, dtype=scratch.float64))
        (out * out).sum().backward()
        return out, [scratch_layer.weight.grad, scratch_layer.bias.grad]

    def torch_step():
        torch_layer.zero_grad()
        out = torch_layer(torch.tensor(x))
        (out * out).sum().backward()
        return out, [torch_layer.weight.grad, torch_layer.bias.grad]

    return scratch_step, torch_step


side_by_side("Linear(784, 512) on 64 inputs", *pair(nn.Linear(784, 512), torch.nn.Linear(784, 512), rng.random((64, 784))))
side_by_side("Conv2d(1, 8, 3) on 16 images of 28x28",
             *pair(nn.Conv2d(1, 8, 3), torch.nn.Conv2d(1, 8, 3), rng.random((16, 1, 28, 28))))

# %% [markdown]
# ## What a matrix does to the plane
# $A$ maps the unit circle to an ellipse. Its eigenvectors are the directions it only stretches,
# by the eigenvalue: $A v = \lambda v$ (a negative $\lambda$ also flips the direction).

# %%
heading("What a matrix does to the plane")
theta = np.linspace(0, 2 * np.pi, 200)
circle = np.stack([np.cos(theta), np.sin(theta)])
image = matrix @ circle
fig, axes = figure(size=(9, 5.6))
ax = axes[0, 0]
ax.plot(*circle, label="unit circle")
ax.plot(*image, label="A @ circle")
for lam, v, colour in zip(eigenvalues, eigenvectors.T, ("#7b3294", "k")):
    ax.arrow(0, 0, *(lam * v), width=0.05, length_includes_head=True, color=colour,
             label=f"eigenvector x eigenvalue {lam:.2f}")
ax.set_xlim(-6, 6)
ax.set_ylim(-6, 6)
ax.set_aspect("equal")
ax.set_xlabel("first coordinate")
ax.set_ylabel("second coordinate")
ax.grid(True)
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
ax.set_title("A = [[1,2],[3,4]]: eigenvectors only stretch")
save(fig, OUT, "linear_map.png")

# %% [markdown]
# ## Try next
# - Set `matrix = np.array([[2, 0], [0, 0.5]])`: the eigenvectors are the axes themselves and the
#   ellipse is the circle stretched 2x sideways and squeezed 2x upright.
# - Try a rotation, `np.array([[0, -1], [1, 0]])`: the eigenvalues are complex (±i) — no
#   direction is only stretched, and the circle maps onto itself (the plot cell then needs real parts).
