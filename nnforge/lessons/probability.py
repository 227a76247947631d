"""Maths 3 (second seed): distributions, PDF/CDF, expectation and variance -- and where they
appear in a network (softmax outputs are a distribution; cross-entropy compares two)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch.nn import functional as F

from ._common import figure, heading, save


def normal_pdf(x: np.ndarray, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def normal_cdf(x: float, mean: float = 0.0, std: float = 1.0) -> float:
    return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))


def run(out_dir: Path) -> None:
    heading("The standard normal distribution (the seed's example)")
    print(f"PDF at 0: {normal_pdf(np.array(0.0)):.4f}   CDF at 0: {normal_cdf(0.0):.4f}")
    print(f"P(-1 < X < 1) = {normal_cdf(1) - normal_cdf(-1):.4f}, P(-2 < X < 2) = {normal_cdf(2) - normal_cdf(-2):.4f}")

    heading("Expectation and variance, in theory and from samples")
    rng = np.random.default_rng(0)
    samples = rng.normal(2.0, 3.0, 100_000)
    print(f"N(2, 3^2): theory mean 2, variance 9; samples mean {samples.mean():.3f}, variance {samples.var():.3f}")
    dice = rng.integers(1, 7, 100_000)
    print(f"a die: theory mean 3.5, variance {35 / 12:.4f}; samples {dice.mean():.3f}, {dice.var():.4f}")

    heading("Why initialisation cares: variance through a layer")
    x = rng.standard_normal((1000, 512))
    for name, std in (("N(0,1) weights", 1.0), ("He: N(0, 2/fan_in)", math.sqrt(2 / 512))):
        w = rng.standard_normal((512, 512)) * std
        print(f"{name:<22} Var(x W) = {(x @ w).var():9.3f}  (input variance {x.var():.3f})")

    heading("Softmax turns scores into a probability distribution")
    logits = scratch.tensor([[2.0, 1.0, 0.1]], dtype=scratch.float64)
    probs = F.softmax(logits, 1)
    print("logits", logits.data[0].tolist(), "-> probabilities", np.round(probs.data[0], 4).tolist(),
          f"(sum {probs.data.sum():.4f})")
    print(f"cross-entropy with true class 0 = -log p_0 = {F.cross_entropy(logits, np.array([0])).item():.4f}")

    grid = np.linspace(-4, 4, 200)
    fig, axes = figure(1, 2, size=(11, 4))
    std_samples = rng.standard_normal(20_000)
    axes[0, 0].hist(std_samples, bins=60, density=True, alpha=0.5, label="20,000 samples")
    axes[0, 0].plot(grid, normal_pdf(grid), label="PDF")
    axes[0, 0].plot(grid, [normal_cdf(v) for v in grid], label="CDF")
    axes[0, 0].set_title("Standard normal: PDF, CDF and a histogram")
    axes[0, 0].legend()
    axes[0, 1].bar(["class 0", "class 1", "class 2"], probs.data[0])
    axes[0, 1].set_title("softmax([2.0, 1.0, 0.1])")
    save(fig, out_dir, "probability.png")
