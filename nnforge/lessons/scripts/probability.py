# %% [markdown]
# # math.3 数学基础: 概率与统计 — probability and statistics
#
# The second seed's last maths foundation (section math.3): a **probability distribution**
# (概率分布) describes a random variable's values and how likely each is; the **probability
# density function** (概率密度函数, PDF) does so for a continuous one, the **cumulative
# distribution function** (累计分布函数, CDF) gives P(X ≤ x); **expectation** (期望) and
# **variance** (方差) summarise it. In a network they are everywhere: initialisation keeps each
# layer's variance steady, softmax outputs are a distribution, and cross-entropy compares two.

# %%
import math

import numpy as np

from nnforge import scratch
from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.scratch.nn import functional as F

OUT = lesson_folder("probability")


def normal_pdf(x, mean=0.0, std=1.0):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def normal_cdf(x, mean=0.0, std=1.0):
    return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))


# %% [markdown]
# ## The standard normal distribution (the seed's example)

# %%
heading("The standard normal distribution (the seed's example)")
print(f"PDF at 0: {normal_pdf(np.array(0.0)):.4f}   CDF at 0: {normal_cdf(0.0):.4f}")
print(f"P(-1 < X < 1) = {normal_cdf(1) - normal_cdf(-1):.4f}, P(-2 < X < 2) = {normal_cdf(2) - normal_cdf(-2):.4f}")

# %% [markdown]
# ## Expectation and variance, in theory and from samples

# %%
heading("Expectation and variance, in theory and from samples")
rng = np.random.default_rng(0)
samples = rng.normal(2.0, 3.0, 100_000)
print(f"N(2, 3^2): theory mean 2, variance 9; samples mean {samples.mean():.3f}, variance {samples.var():.3f}")
dice = rng.integers(1, 7, 100_000)
print(f"a die: theory mean 3.5, variance {35 / 12:.4f}; samples {dice.mean():.3f}, {dice.var():.4f}")

# %% [markdown]
# ## Why initialisation cares: variance through a layer
# With N(0, 1) weights each output sums 512 products and its variance grows 512-fold; He
# initialisation scales the weights by $\sqrt{2/\text{fan\_in}}$ to keep it near the input's.

# %%
heading("Why initialisation cares: variance through a layer")
x = rng.standard_normal((1000, 512))
for name, std in (("N(0,1) weights", 1.0), ("He: N(0, 2/fan_in)", math.sqrt(2 / 512))):
    w = rng.standard_normal((512, 512)) * std
    print(f"{name:<22} Var(x W) = {(x @ w).var():9.3f}  (input variance {x.var():.3f})")

# %% [markdown]
# ## Softmax turns scores into a probability distribution

# %%
heading("Softmax turns scores into a probability distribution")
logits = scratch.tensor([[2.0, 1.0, 0.1]], dtype=scratch.float64)
probs = F.softmax(logits, 1)
print("logits", logits.data[0].tolist(), "-> probabilities", np.round(probs.data[0], 4).tolist(),
      f"(sum {probs.data.sum():.4f})")
print(f"cross-entropy with true class 0 = -log p_0 = {F.cross_entropy(logits, np.array([0])).item():.4f}")

# %% [markdown]
# ## The pictures: a PDF, its CDF and a histogram; a softmax distribution

# %%
grid = np.linspace(-4, 4, 200)
fig, axes = figure(1, 2, size=(11, 4.4))
std_samples = rng.standard_normal(20_000)
axes[0, 0].hist(std_samples, bins=60, density=True, alpha=0.5, label="20,000 samples")
axes[0, 0].plot(grid, normal_pdf(grid), label="PDF")
axes[0, 0].plot(grid, [normal_cdf(v) for v in grid], label="CDF")
axes[0, 0].set_title("Standard normal: PDF, CDF and a histogram")
axes[0, 0].set_xlabel("x")
axes[0, 0].set_ylabel("density (PDF, histogram) / P(X ≤ x)")
axes[0, 0].legend(loc="upper left", fontsize=8)
axes[0, 1].bar(["class 0", "class 1", "class 2"], probs.data[0])
axes[0, 1].set_title("softmax([2.0, 1.0, 0.1])")
axes[0, 1].set_xlabel("class")
axes[0, 1].set_ylabel("probability")
save(fig, OUT, "probability.png")

# %% [markdown]
# ## Try next
# - Divide the logits by a temperature: `F.softmax(logits * (1 / 5.0), 1)` flattens the
#   distribution toward (1/3, 1/3, 1/3), `logits * 5.0` sharpens it toward class 0.
# - In the initialisation cell, use 4096 inputs instead of 512 (and `2 / 4096` for He): the
#   N(0, 1) variance grows to ~4096, He's stays near 2.
