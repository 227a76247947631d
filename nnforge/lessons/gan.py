"""Next steps: a generative adversarial network (GAN) that learns to write digits.

Two networks play a game (Goodfellow et al., 2014). The generator G turns random noise z into an
8x8 image; the discriminator D says how likely an image is real. D is trained to tell scikit-
learn's real handwritten digits from G's, and G to make D say "real" (the non-saturating loss:
maximise log D(G(z))). Neither network ever sees a label, and G never sees a real image: it
learns only through D's gradients.

Progress is measured without D, by the Fréchet distance between the real images and 1,000
generated ones, each summarised by its mean and covariance over the 64 pixels (the idea behind
FID, on raw pixels): 0 means the two sets have the same mean and covariance.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._common import one_torch_thread


NOISE = 16


def real_digits() -> torch.Tensor:
    """scikit-learn's 1,797 real 8x8 digits as (N, 64), scaled to [-1, 1] like G's tanh output."""
    from sklearn.datasets import load_digits

    return torch.tensor(load_digits().data / 8.0 - 1.0, dtype=torch.float32)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between two sets of vectors (rows)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr (S_a S_b)^1/2 = Tr (S_a^1/2 S_b S_a^1/2)^1/2, a symmetric form that stays stable when a
    # covariance is singular (the digits' corner pixels are always blank).
    w, v = np.linalg.eigh(cov_a)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(half @ cov_b @ half), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def build(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(NOISE, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2),
                              nn.Linear(128, 64), nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 64), nn.LeakyReLU(0.2),
                                  nn.Linear(64, 1))
    return generator, discriminator


def sample(generator: nn.Module, n: int, seed: int = 1) -> torch.Tensor:
    with torch.no_grad():
        return generator(torch.randn(n, NOISE, generator=torch.Generator().manual_seed(seed)))


def train(steps: int = 3000, batch: int = 64, seed: int = 0, every: int = 500):
    """Train on one torch thread (``_common.one_torch_thread``: tiny models run faster so); see ``_train``."""
    with one_torch_thread():
        return _train(steps, batch, seed, every)


def _train(steps: int = 3000, batch: int = 64, seed: int = 0, every: int = 500):
    """Returns (generator, history rows (step, D loss, G loss, Fréchet distance), snapshots {step: 16 samples})."""
    real = real_digits()
    generator, discriminator = build(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    reference = real.numpy()
    history, snapshots = [], {0: sample(generator, 16)}
    history.append((0, float("nan"), float("nan"), frechet_distance(sample(generator, 1000).numpy(), reference)))
    d_losses, g_losses = [], []
    for step in range(1, steps + 1):
        x = real[torch.randint(len(real), (batch,))]
        fake = generator(torch.randn(batch, NOISE))
        # D: real -> 1, generated -> 0 (the generated batch is detached: this step trains D only)
        d_loss = bce(discriminator(x), ones) + bce(discriminator(fake.detach()), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        # G: make D answer 1 for its images
        g_loss = bce(discriminator(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_losses.append(d_loss.item())
        g_losses.append(g_loss.item())
        if step % every == 0:
            fd = frechet_distance(sample(generator, 1000).numpy(), reference)
            history.append((step, float(np.mean(d_losses)), float(np.mean(g_losses)), fd))
            d_losses, g_losses = [], []
            if step in (steps // 3, steps):
                snapshots[step] = sample(generator, 16)
    return generator, history, snapshots
