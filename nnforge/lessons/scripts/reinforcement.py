# %% [markdown]
# # next.3 进阶学习方向: 强化学习 — an agent learns from rewards alone (Q-learning)
#
# The second seed's advanced directions (进阶学习方向) include **reinforcement learning**
# (强化学习), "applied to games and robots".
# No examples and no labels: an agent walks a frozen lake from S to the goal G, and holes H end
# the walk. It gets +1 at the goal, -1 in a hole and -0.01 per step, and must find out which moves
# pay. Q-learning (Watkins, 1989) keeps an estimate Q(s, a) of the return of move a in square s
# and nudges it toward what one step showed:
#
# $$Q(s, a) \leftarrow Q(s, a) + \alpha\,\big(r + \gamma \max_{a'} Q(s', a') - Q(s, a)\big)$$
#
# while exploring with an epsilon-greedy policy (a random move with probability epsilon, which
# decays). The table has 36 x 4 entries; a deep Q-network (DQN) replaces it with a neural network
# when the states are too many to list, such as the pixels of a game screen.

# %%
import numpy as np

from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.reinforcement import ARROWS, LAKE, greedy_walk, q_learning, shortest_path_length

OUT = lesson_folder("reinforcement")

# %% [markdown]
# ## The lake, and 600 episodes of Q-learning

# %%
heading("Q-learning: an agent learns to cross a frozen lake from rewards alone")
print("\n".join("   " + " ".join(row) for row in LAKE))
q, returns, reached = q_learning()
for start in range(0, len(returns), 100):
    window = slice(start, start + 100)
    print(f"episodes {start + 1:4d}-{start + 100:4d}: mean return {np.mean(returns[window]):+.3f}, "
          f"reached the goal {np.mean(reached[window]):.0%}")

# %% [markdown]
# ## The learnt policy: the best move in each square

# %%
path = greedy_walk(q)
print(f"greedy policy: {len(path) - 1} moves to {'the goal' if LAKE[path[-1][0]][path[-1][1]] == 'G' else 'a stop'}; "
      f"the shortest safe path is {shortest_path_length()} moves")
print("learnt policy (best move in each square):")
for r, row in enumerate(LAKE):
    print("   " + " ".join(cell if cell in "HG" else ARROWS[int(q[r, c].argmax())] for c, cell in enumerate(row)))

# %% [markdown]
# ## The picture
# Left: the return of every episode and its running mean. Right: each square coloured by its best
# Q value, with the best move, and the greedy walk from S to G in blue.

# %%
fig, axes = figure(1, 2, size=(11, 4.6))
smooth = np.convolve(returns, np.ones(25) / 25, mode="valid")
axes[0, 0].plot(returns, color="#bbb", linewidth=0.6, label="each episode")
axes[0, 0].plot(np.arange(24, len(returns)), smooth, color="#c0392b", label="mean of 25")
axes[0, 0].set_xlabel("episode")
axes[0, 0].set_ylabel("return")
axes[0, 0].set_title("Learning curve")
axes[0, 0].legend(loc="upper left", bbox_to_anchor=(0.0, -0.15), ncols=2)
ax = axes[0, 1]
value = q.max(axis=2)
shown = ax.imshow(value, cmap="RdYlGn", vmin=-1, vmax=1)
for r, row in enumerate(LAKE):
    for c, cell in enumerate(row):
        ax.text(c, r, cell if cell in "HGS" else ARROWS[int(q[r, c].argmax())], ha="center", va="center", fontsize=14)
rows, cols = zip(*path)
ax.plot(cols, rows, color="#1f4e99", linewidth=2, alpha=0.6)
ax.set_xticks([])
ax.set_yticks([])
ax.set_title("max Q per square, best moves, the greedy walk")
fig.colorbar(shown, ax=ax, label="max Q (expected return)")
save(fig, OUT, "q_learning.png")

# %% [markdown]
# ## Try next
# - Call `q_learning(gamma=0.5)`: a reward ten moves away now counts 0.5^10 ≈ 0.001, so in the
#   right-hand picture the squares far from G flatten toward the step cost; on this small lake the
#   agent still finds the 10-move path, with far less to tell the moves apart.
# - Call `q_learning(episodes=100)`: exploration (epsilon) decays over 60 episodes instead of 360;
#   compare how often the episodes reached the goal, and whether the greedy walk still does.
