"""Next steps: reinforcement learning, an agent that learns from rewards alone (Q-learning).

No examples and no labels: an agent walks a frozen lake from S to the goal G, and holes H end the
walk. It gets +1 at the goal, -1 in a hole and -0.01 per step, and must find out which moves
pay. Q-learning (Watkins, 1989) keeps an estimate Q(s, a) of the return of move a in square s
and nudges it toward what one step showed:

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * max_a' Q(s', a') - Q(s, a))

while exploring with an epsilon-greedy policy (a random move with probability epsilon, which
decays). The table here has 36 x 4 entries; a deep Q-network (DQN) replaces the table with a
neural network when the states are too many to list, such as the pixels of a game screen.
"""
from __future__ import annotations

from collections import deque

import numpy as np


LAKE = [
    "S..H..",
    ".H...H",
    "...H..",
    "H.H...",
    "...H.H",
    ".H...G",
]
MOVES = [(-1, 0), (1, 0), (0, -1), (0, 1)]  # up, down, left, right
ARROWS = "^v<>"


def step(state: tuple[int, int], action: int) -> tuple[tuple[int, int], float, bool]:
    """One move on the lake: (next square, reward, episode over). Walking into the edge stays put."""
    r, c = state[0] + MOVES[action][0], state[1] + MOVES[action][1]
    if not (0 <= r < len(LAKE) and 0 <= c < len(LAKE[0])):
        r, c = state
    cell = LAKE[r][c]
    if cell == "G":
        return (r, c), 1.0, True
    if cell == "H":
        return (r, c), -1.0, True
    return (r, c), -0.01, False


def shortest_path_length() -> int:
    """Moves on the shortest safe path from S to G (breadth-first search), to check the agent against."""
    start, seen, queue = (0, 0), {(0, 0)}, deque([((0, 0), 0)])
    while queue:
        state, dist = queue.popleft()
        for a in range(4):
            nxt, _, done = step(state, a)
            if LAKE[nxt[0]][nxt[1]] == "G":
                return dist + 1
            if not done and nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, dist + 1))
    raise ValueError(f"no path from {start} to the goal")


def q_learning(episodes: int = 600, alpha: float = 0.5, gamma: float = 0.95, seed: int = 0, max_steps: int = 100):
    """Returns (Q table (rows, cols, 4), return of each episode, whether each episode reached G)."""
    rng = np.random.default_rng(seed)
    q = np.zeros((len(LAKE), len(LAKE[0]), 4))
    returns, reached = [], []
    for episode in range(episodes):
        epsilon = max(0.05, 1.0 - episode / (0.6 * episodes))  # explore a lot first, then mostly exploit
        state, total, done = (0, 0), 0.0, False
        for _ in range(max_steps):
            if rng.random() < epsilon:
                action = int(rng.integers(4))
            else:  # greedy, ties broken at random so an untried move is not always the same one
                best = np.flatnonzero(q[state] == q[state].max())
                action = int(rng.choice(best))
            nxt, reward, done = step(state, action)
            target = reward if done else reward + gamma * q[nxt].max()
            q[state][action] += alpha * (target - q[state][action])
            state, total = nxt, total + reward
            if done:
                break
        returns.append(total)
        reached.append(done and LAKE[state[0]][state[1]] == "G")
    return q, returns, reached


def greedy_walk(q: np.ndarray, max_steps: int = 100) -> list[tuple[int, int]]:
    """The squares the learnt greedy policy visits from S (stops at the goal, a hole, or max_steps)."""
    state, path = (0, 0), [(0, 0)]
    for _ in range(max_steps):
        state, _, done = step(state, int(q[state].argmax()))
        path.append(state)
        if done:
            break
    return path
