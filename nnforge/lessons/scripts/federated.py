# %% [markdown]
# # 8.1 当前趋势: 联邦学习 (federated learning) — training on data that never leaves its owners
#
# The first seed's trends (8.1) include **联邦学习: 隐私保护的分布式训练**, privacy-preserving
# distributed training. Hospitals, phones or banks each hold data they may not hand over. In
# **federated averaging** (FedAvg, McMahan et al. 2017) a server sends the current model to every
# client; each client trains it for a few epochs on its own examples; the server replaces the
# model by the clients' models averaged, each weighted by how many examples it trained on. Only
# weights travel, never an example.
#
# Here 5 simulated clients share scikit-learn's digits, in two ways: **IID** (each holds a random
# fifth) and **non-IID** (a Dirichlet(0.1) draw gives each client mostly two or three digits, as
# real users' data is skewed). Both are compared with **centralised** training on all the data,
# by accuracy per round and by the bytes sent. All three are ordinary `nnforge train` runs: the
# recipe section `federated: {clients, rounds, local_epochs, split, alpha}` switches FedAvg on.

# %%
import numpy as np

from nnforge.lessons._common import figure, heading, lesson_folder, save
from nnforge.lessons.federated import CLIENTS, LOCAL_EPOCHS, ROUNDS, SETUPS, client_classes, train, training_split

OUT = lesson_folder("federated")

# %% [markdown]
# ## Who holds what
# The same seeded split the runs use. Non-IID clients each see a few digits, so each one's local
# training pulls the model towards its own digits.

# %%
x, y = training_split()
labels = y.numpy()
heading(f"{len(labels)} training digits over {CLIENTS} clients (examples of each digit 0-9 per client)")
for split in ("iid", "dirichlet"):
    print(split)
    for k, row in enumerate(client_classes(labels, split)):
        print(f"  client {k}: {' '.join(f'{n:3d}' for n in row)}   ({row.sum()} examples, {(row > 0.05 * row.sum()).sum()} digits above 5 %)")

# %% [markdown]
# ## Three runs, the same model and optimizer
# Centralised: 15 epochs on everything. FedAvg: 15 rounds, each client 2 local epochs a round.
# Accuracy is the global model's on the validation split after every epoch or round.

# %%
runs = {name: train(name) for name in SETUPS}
heading(f"Validation accuracy per round ({CLIENTS} clients, {LOCAL_EPOCHS} local epochs per round)")
print(f"{'round':>5} " + " ".join(f"{name:>34}" for name in runs))
for r in (0, 1, 2, 4, 9, ROUNDS - 1):
    print(f"{r + 1:>5} " + " ".join(f"{run.history[r]['val_accuracy']:>34.1%}" for run in runs.values()))
test = {name: run.metrics["test_accuracy"] for name, run in runs.items()}
print("test accuracy: " + ", ".join(f"{name} {acc:.1%}" for name, acc in test.items()))

# %% [markdown]
# ## What travelled
# FedAvg sends the model down to every client and back up, every round. Centralised training
# instead needs the examples themselves on the server, once.

# %%
data_bytes = x.numpy().nbytes + y.numpy().nbytes
fed_bytes = runs["FedAvg, IID"].history[-1]["bytes_sent"]
print(f"centralised: the training data uploaded once, {data_bytes / 1e6:.2f} MB of examples")
print(f"FedAvg: {fed_bytes / 1e6:.2f} MB of weights over {ROUNDS} rounds "
      f"({fed_bytes / ROUNDS / CLIENTS / 2 / 1e3:.1f} kB per model copy), and no example sent")
print(f"here the weights outweigh the data {fed_bytes / data_bytes:.0f} times: FedAvg buys privacy with bandwidth, and saves "
      "bytes only where clients hold much more data than one copy of the model")
gap = test["FedAvg, IID"] - test[list(test)[2]]
print(f"non-IID clients cost {gap * 100:.1f} points against IID ones: each client's local epochs drift towards "
      "its few digits, and the average of models pulled apart is worse than a model trained on all of them")

# %% [markdown]
# ## The picture: accuracy per round, and bytes sent

# %%
fig, axes = figure(1, 2, size=(11, 4.2))
colors = ["#34495e", "#2e86c1", "#c0392b"]
for (name, run), color in zip(runs.items(), colors):
    rounds = np.arange(1, len(run.history) + 1)
    axes[0, 0].plot(rounds, [h["val_accuracy"] for h in run.history], marker="o", ms=3, color=color, label=name)
history = runs["FedAvg, IID"].history  # IID and non-IID clients send the same bytes
axes[0, 1].plot(rounds, [h["bytes_sent"] / 1e6 for h in history], marker="o", ms=3, color=colors[1], label="FedAvg: weights")
axes[0, 1].axhline(data_bytes / 1e6, color=colors[0], linestyle="--", label="centralised: the data, once")
axes[0, 0].set_xlabel("round (centralised: epoch)")
axes[0, 0].set_ylabel("validation accuracy")
axes[0, 0].set_title("Accuracy per round")
axes[0, 0].legend(fontsize=8, loc="lower right")
axes[0, 1].set_xlabel("round")
axes[0, 1].set_ylabel("MB sent (cumulative)")
axes[0, 1].set_title("Bytes sent")
axes[0, 1].legend(fontsize=8, loc="upper left")
save(fig, OUT, "federated.png")

# %% [markdown]
# ## Try next
# - `nnforge train digits_mlp --set federated.clients=5 --set federated.split=dirichlet --set federated.alpha=1.0`:
#   a larger alpha gives each client more digits, and the gap to IID shrinks.
# - Raise `federated.local_epochs` for the non-IID clients: more local work per round means
#   more drift, and fewer bytes per point of accuracy only while the clients agree.
