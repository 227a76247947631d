"""Federated averaging (FedAvg, McMahan et al. 2017): simulated clients, one training loop.

``federated.clients: N`` splits the training split into N private parts — IID (a seeded shuffle
cut into near-equal parts) or non-IID (each class shared out by a Dirichlet draw with
``federated.alpha``: the smaller alpha, the fewer classes each client sees). Each round the
server sends the global weights to every client; each client trains ``federated.local_epochs``
epochs on its own part with an ordinary :class:`~nnforge.train.trainer.Trainer` (its own engine,
optimizer and data order, kept from round to round, so its local training is exactly what a
centralised run does); the server replaces the global weights by the clients' weights averaged
with their data sizes as weights. No client's examples leave it: only weights travel, and each
round's ``bytes_sent`` (global model down to every client and every client's model back up,
cumulative) is logged beside the accuracy.

A round is an epoch of the run: ``federated.rounds`` (default ``train.epochs``) rounds, each
validated on the global model and logged, checkpointed and resumable like an epoch (the
clients' optimizer states and data orders are saved with the checkpoint, so a resumed run goes
on as if it had not stopped). With one client and one local epoch, a round is exactly one
centralised epoch: the test checks the two runs step for step. Each client's learning-rate schedule
spans its whole local training, ``rounds x local_epochs`` epochs (``warmup_epochs`` and a step
schedule's ``step_size`` count those); ``data.augment.clean_epochs`` counts rounds.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from nnforge.config import plain
from nnforge.errors import ConfigError
from nnforge.train import ddp
from nnforge.train.callbacks import Callback
from nnforge.train.keys import changed_keys, epoch_counts
from nnforge.train.trainer import Trainer

#: keys that act inside a step or on the one shared loader, which clients' local training does not offer
NOT_WITH_CLIENTS = {
    "train.l1": "a client's steps take no callbacks",
    "train.gradients": "a client's steps take no callbacks",
    "train.nonfinite": "a client's steps take no callbacks",
    "train.unfreeze_epoch": "clients keep the layers train.freeze froze",
    "train.checkpoint.every_steps": "a federated run is checkpointed after each round",
    "data.sampling": "each client trains on its own part as it is",
    "data.augment.mixup": "clients' loaders do not mix batches",
    "data.augment.cutmix": "clients' loaders do not mix batches",
    "train.accumulate": "a client's steps take no callbacks",
    "train.ema": "the server averages clients, not epochs",
    "train.swa": "the server averages clients, not epochs",
    "train.distill": "a client's loss is the task's own",
    "train.max_time": "a federated run stops at round boundaries",
    "train.overfit_batches": "each client trains on its own part as it is",
    "train.fast_dev_run": "a round trains every client",
    "train.log_lr": "a client's steps take no callbacks",
}


def check(recipe, find_lr: bool = False) -> None:
    """One-line :class:`ConfigError` for a federated recipe that cannot run as written."""
    fed = recipe.federated
    changed = changed_keys(recipe)
    if not fed.clients:
        set_here = [k for k in changed if k.startswith("federated.")]
        if set_here:
            raise ConfigError(f"'{set_here[0]}' is set but federated.clients is 0 (centralised training); "
                              "set federated.clients to the number of clients")
        return
    if find_lr:
        raise ConfigError("--find-lr sweeps one model's learning rate; run it without federated.clients")
    if ddp.is_active():
        raise ConfigError("federated.clients simulates clients in one process; run it without --nproc")
    for key in changed:
        for prefix, why in NOT_WITH_CLIENTS.items():
            if key == prefix or key.startswith(prefix + "."):
                raise ConfigError(f"'{key}' is {plain(recipe.at(key))!r}, which federated training does not implement "
                                  f"({why}); leave it at its default or set federated.clients: 0")
    if recipe.train.scheduler.name == "plateau":
        raise ConfigError("train.scheduler.name 'plateau' watches validation, which clients do not have; "
                          "use step, cosine or onecycle with federated.clients")
    if fed.split == "iid" and "federated.alpha" in changed:
        raise ConfigError("'federated.alpha' only applies to federated.split: dirichlet (non-IID)")
    if fed.alpha <= 0:
        raise ConfigError(f"'federated.alpha' is {fed.alpha}; a Dirichlet concentration must be above 0 (0.1: very skewed, 100: nearly IID)")


def split_clients(labels: np.ndarray, clients: int, split: str = "iid", alpha: float = 0.5, seed: int = 0) -> list[np.ndarray]:
    """Each client's row indices into the training split (sorted, disjoint, together all rows).

    ``iid``: a seeded shuffle cut into near-equal parts. ``dirichlet``: for each class, the
    shares of the clients are drawn from Dirichlet(alpha, ..., alpha) (Hsu et al. 2019), drawn
    again until every client holds at least one example."""
    labels = np.asarray(labels)
    n = len(labels)
    if clients > n:
        raise ConfigError(f"federated.clients is {clients}, more than the {n} training examples")
    rng = np.random.default_rng(seed)
    if split == "iid":
        return [np.sort(part) for part in np.array_split(rng.permutation(n), clients)]
    for _ in range(100):
        parts: list[list[np.ndarray]] = [[] for _ in range(clients)]
        for c in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(labels == c))
            cuts = (np.cumsum(rng.dirichlet(np.full(clients, alpha))) * len(rows)).astype(int)[:-1]
            for k, piece in enumerate(np.split(rows, cuts)):
                parts[k].append(piece)
        out = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(p) for p in out) > 0:
            return out
    raise ConfigError(f"federated.alpha {alpha} leaves a client without data in 100 draws for {clients} clients; "
                      "raise federated.alpha or lower federated.clients")


def average(states: list[dict], sizes: list[int]) -> dict:
    """FedAvg: the clients' weights averaged with their data sizes as weights (integer buffers,
    such as BatchNorm's batch counter, are taken from the largest client)."""
    total = float(sum(sizes))
    shares = [n / total for n in sizes]
    largest = states[int(np.argmax(sizes))]
    out = {}
    for name, first in states[0].items():
        if first.is_floating_point():
            acc = states[0][name] * shares[0]
            for state, share in zip(states[1:], shares[1:]):
                acc = acc + state[name] * share
            out[name] = acc.to(first.dtype)
        else:
            out[name] = largest[name].clone()
    return out


@dataclass
class Client:
    engine: object
    trainer: Trainer
    loader: object
    size: int


class _FollowServer(Callback):
    """A signal that stops the server's trainer stops the client training now too."""

    def __init__(self, server: Trainer):
        self.server = server

    def on_batch_end(self, trainer, step, logs):
        trainer.stop_now = self.server.stop_now


class ClientStates(Callback):
    """The clients' optimizer states and data orders, for the checkpoint callback to save and restore."""

    def __init__(self, clients: list[Client]):
        self.clients = clients

    def state_dict(self) -> dict:
        return {"clients": [{"engine": c.engine.state_dict(), "data_order": c.loader.generator.get_state(),
                             "epoch": c.trainer.epoch, "global_step": c.trainer.global_step} for c in self.clients]}

    def load_state_dict(self, state: dict) -> None:
        for c, s in zip(self.clients, state["clients"]):
            c.engine.load_state_dict(s["engine"])
            c.loader.generator.set_state(s["data_order"])
            c.trainer.epoch, c.trainer.global_step = int(s["epoch"]), int(s["global_step"])


class FederatedTrainer(Trainer):
    """The server: its engine holds the global model; the one loop runs rounds instead of epochs."""

    def __init__(self, engine, task, recipe, data, engine_cls):
        super().__init__(engine, task)
        fed = recipe.federated
        self.local_epochs, self.rounds = fed.local_epochs, fed.rounds
        train = data.train
        parts = split_clients(train.y.cpu().numpy(), fed.clients, fed.split, fed.alpha, recipe.seed)
        client_recipe = recipe.with_overrides({"train.epochs": epoch_counts(recipe)[1]})  # its schedule spans all its local epochs
        self.clients: list[Client] = []
        for k, rows in enumerate(parts):
            index = torch.from_numpy(rows).to(train.x.device)
            loader = type(train)(train.x[index], train.y[index], train.batch_size, shuffle=True,
                                 generator=torch.Generator().manual_seed(recipe.seed + k), transform=train.transform)
            model = copy.deepcopy(engine.torch_model())  # the global model's start, drawing no random numbers
            client_engine = engine_cls(client_recipe, task, replace(data, train=loader, val=None), model, data.device)
            self.clients.append(Client(client_engine, Trainer(client_engine, task, [_FollowServer(self)]), loader, len(rows)))
        self.model_bytes = sum(t.numel() * t.element_size() for t in engine.snapshot().values())  # one copy on the wire
        self.callbacks.append(ClientStates(self.clients))

    def fit(self, train_batches, val_batches=None, epochs: int = 1) -> list[dict]:
        return super().fit(train_batches, val_batches, self.rounds or epochs)

    def _epoch(self, train_batches, val_batches) -> bool:
        """One round; False when it was stopped mid-way (the round is lost; the checkpoint of the round before stays)."""
        engine, task, clients, rnd = self.engine, self.task, self.clients, self.epoch
        self.steps_per_epoch = sum(len(c.loader) for c in clients) * self.local_epochs
        self._call("on_epoch_begin", rnd)
        start = time.perf_counter()
        server_weights = engine.snapshot()
        lr = clients[0].engine.lr()  # the rate this round trains with (as an epoch logs it)
        states, totals, seen, steps = [], {"loss": 0.0, **{m: 0.0 for m in task.metrics}}, 0, 0
        for client in clients:
            client.engine.restore(server_weights)  # the server sends the global model
            before = client.trainer.global_step
            client.trainer.fit(client.loader, None, client.trainer.epoch + self.local_epochs)
            if self.stop_now:
                return False
            steps += client.trainer.global_step - before
            states.append(client.engine.snapshot())  # the client sends its model back
            for k in totals:
                totals[k] += client.trainer.history[-1][f"train_{k}"] * client.size
            seen += client.size
        engine.restore(average(states, [c.size for c in clients]))
        self.global_step += steps
        seconds = time.perf_counter() - start
        logs = self.validate(rnd, totals, seen, val_batches)
        logs.update({"lr": lr, "seconds": round(seconds, 4), "samples_per_second": round(seen * self.local_epochs / max(seconds, 1e-9), 1),
                     "bytes_sent": (rnd + 1) * 2 * len(clients) * self.model_bytes})
        self.end_epoch(rnd, logs)
        return True


def make_trainer(engine, task, recipe, data, engine_cls) -> Trainer:
    """The trainer a run drives: the plain one, or the FedAvg server when ``federated.clients`` is set."""
    if not recipe.federated.clients:
        return Trainer(engine, task, accumulate=recipe.train.accumulate)
    return FederatedTrainer(engine, task, recipe, data, engine_cls)
