# %% [markdown]
# # next.2 进阶学习方向: 生成对抗网络 (GAN) — a generator learns to write digits
#
# The second seed's advanced directions (进阶学习方向) include **generative adversarial
# networks** (生成对抗网络, GAN), "applied to image generation and data augmentation"; they come
# from Goodfellow et al. (2014), author of the 《深度学习》 book on the first seed's reading list
# (8.2). Two networks play a game. The **generator** G
# turns random noise z into an 8x8 image; the **discriminator** D says how likely an image is
# real. D is trained to tell scikit-learn's real handwritten digits from G's, and G to make D say
# "real" (the non-saturating loss: maximise log D(G(z))). Neither network sees a label, and G
# never sees a real image: it learns only through D's gradients — like the seed's 自监督学习
# (self-supervised learning) trend, it uses data without labels.
#
# Progress is measured without D, by the Fréchet distance between the real images and 1,000
# generated ones, each summarised by its mean and covariance over the 64 pixels (the idea behind
# FID, on raw pixels): 0 means the two sets have the same mean and covariance.

# %%
import numpy as np

from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.gan import train

OUT = lesson_folder("gan")

# %% [markdown]
# ## Training: 3,000 steps, D then G on every batch of 64

# %%
heading("A GAN learns to write 8x8 digits from 1,797 real ones (no labels)")
generator, history, snapshots = train()
print(f"{'step':>6} {'D loss':>8} {'G loss':>8} {'Frechet distance to real':>26}")
for step, d_loss, g_loss, fd in history:
    losses = f"{'-':>8} {'-':>8}" if step == 0 else f"{d_loss:>8.3f} {g_loss:>8.3f}"
    print(f"{step:>6} {losses} {fd:>26.2f}")
print(f"the distance fell from {history[0][3]:.1f} (untrained G: noise) to {history[-1][3]:.1f}; "
      "D's loss near 2 log 2 = 1.39 means it can barely tell real from generated")

# %% [markdown]
# ## What G writes: before training, a third of the way, at the end

# %%
fig, axes = figure(3, 17, size=(14, 3.6))
for r, (step, images) in enumerate(snapshots.items()):
    for c in range(17):
        ax = axes[r, c]
        ax.set_xticks([])
        ax.set_yticks([])
        if c == 0:
            ax.axis("off")
            ax.text(1.0, 0.5, f"step {step}", ha="right", va="center", transform=ax.transAxes)
        else:
            ax.imshow(images[c - 1].view(8, 8).numpy(), cmap="gray_r", vmin=-1, vmax=1)
fig.suptitle("Generated digits: before training, a third of the way, at the end")
save(fig, OUT, "gan_samples.png")

# %% [markdown]
# ## The two losses, and the distance to the real digits

# %%
fig, axes = figure(1, 2, size=(11, 4.2))
steps = [h[0] for h in history[1:]]
axes[0, 0].plot(steps, [h[1] for h in history[1:]], label="D")
axes[0, 0].plot(steps, [h[2] for h in history[1:]], label="G")
axes[0, 0].axhline(2 * np.log(2), color="#888", linestyle="--", linewidth=0.8, label="D at chance (2 log 2)")
axes[0, 0].set_xlabel("step")
axes[0, 0].set_ylabel("loss (mean over 500 steps)")
axes[0, 0].set_title("The two players' losses")
axes[0, 0].legend(loc="upper left", bbox_to_anchor=(0.0, -0.18), ncols=3, fontsize=8)
axes[0, 1].plot([h[0] for h in history], [h[3] for h in history], marker="o")
axes[0, 1].set_yscale("log")
axes[0, 1].set_xlabel("step")
axes[0, 1].set_ylabel("Fréchet distance (pixels)")
axes[0, 1].set_title("Fréchet distance to the real digits")
save(fig, OUT, "gan_training.png")

# %% [markdown]
# ## Try next
# - Call `train(steps=600, every=100)`: the distance is already falling, and the samples a third
#   of the way are blurry digits — most of the learning happens early.
# - Change the generator's `NOISE` (`import nnforge.lessons.gan as lesson; lesson.NOISE = 2`)
#   and retrain: with two noise numbers G has less room for variety, so look for repeated digits.
