"""FedAvg (federated.*): one client is centralised training, IID clients come close, non-IID ones fall behind."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from nnforge.errors import ConfigError
from nnforge.train import Callback, run
from nnforge.train.federated import average, split_clients

BASE = {"data": {"name": "digits", "batch_size": 32}, "model": {"name": "mlp", "hidden": [64]},
        "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.005}, "scheduler": {"name": "cosine"}, "progress": "none",
                  "checkpoint": {"enabled": False}}}


def recipe(**federated) -> dict:
    out = json.loads(json.dumps(BASE))
    if federated:
        out["federated"] = federated
    return out


class Weights(Callback):
    """The (global) weights and step count at the end of every epoch, or of every round."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.seen.append((trainer.global_step, {k: v.clone() for k, v in trainer.engine.snapshot().items()}))


def quiet_run(r: dict, out, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return run(r, out, **kwargs)


def test_one_client_one_local_epoch_is_centralised_training_step_for_step(tmp_path):
    central, fed = Weights(), Weights()
    a = quiet_run(recipe(), tmp_path / "central", callbacks=[central])
    b = quiet_run(recipe(clients=1, local_epochs=1), tmp_path / "fed", callbacks=[fed])
    assert len(central.seen) == len(fed.seen) == 3
    for (step_a, wa), (step_b, wb) in zip(central.seen, fed.seen):
        assert step_a == step_b  # the same number of optimizer steps, with Adam's state and the schedule carried on
        for name in wa:
            assert torch.equal(wa[name], wb[name]), name
    for ha, hb in zip(a.history, b.history):
        assert ha["train_loss"] == hb["train_loss"] and ha["val_accuracy"] == hb["val_accuracy"] and ha["lr"] == hb["lr"]
    assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"]
    model_bytes = sum(t.numel() * t.element_size() for t in fed.seen[0][1].values())
    assert [h["bytes_sent"] for h in b.history] == [2 * model_bytes * r for r in (1, 2, 3)]  # down and up, per round


@pytest.mark.slow
def test_iid_clients_come_within_two_points_of_centralised_and_non_iid_falls_behind(tmp_path):
    """5 clients, 2 local epochs a round, 15 rounds, against 10 centralised epochs (test split of digits)."""
    central = recipe()
    central["train"]["epochs"] = 10
    accuracy = {"central": quiet_run(central, tmp_path / "central").metrics["test_accuracy"]}
    for split in ("iid", "dirichlet"):
        r = recipe(clients=5, local_epochs=2, rounds=15, split=split, **({"alpha": 0.1} if split == "dirichlet" else {}))
        accuracy[split] = quiet_run(r, tmp_path / split).metrics["test_accuracy"]
    assert accuracy["central"] > 0.95
    assert accuracy["iid"] >= accuracy["central"] - 0.02, accuracy
    assert accuracy["dirichlet"] <= accuracy["iid"] - 0.04, accuracy


def test_client_parts_are_private_and_dirichlet_skews_them():
    from nnforge.data import load_dataset

    y = load_dataset({"name": "digits"}).y_train.numpy()
    for split, alpha in (("iid", 0.5), ("dirichlet", 0.1), ("dirichlet", 100.0)):
        parts = split_clients(y, 5, split, alpha, seed=0)
        rows = np.concatenate(parts)
        assert len(rows) == len(y) and len(np.unique(rows)) == len(y)  # disjoint, and every row belongs to a client

    def classes_per_client(split, alpha):
        # classes making up at least 5 % of a client's part
        return np.mean([(np.bincount(y[p], minlength=10) / len(p) >= 0.05).sum() for p in split_clients(y, 5, split, alpha, 0)])

    assert classes_per_client("iid", 0.5) == 10
    assert classes_per_client("dirichlet", 100.0) == 10
    assert classes_per_client("dirichlet", 0.1) <= 4


def test_average_is_weighted_by_client_data_size():
    a = {"w": torch.tensor([0.0, 4.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([8.0, 0.0]), "n": torch.tensor(7)}
    out = average([a, b], [30, 10])
    assert torch.allclose(out["w"], torch.tensor([2.0, 3.0])) and out["n"].item() == 3


class StopAtRound(Callback):
    def __init__(self, round_: int):
        self.round = round_

    def on_epoch_begin(self, trainer, epoch):
        if epoch == self.round:
            raise KeyboardInterrupt  # as if the machine went away: the last round's checkpoint stays


def test_a_federated_run_resumes_by_round_as_if_never_stopped(tmp_path):
    r = recipe(clients=3, local_epochs=1, rounds=4, split="dirichlet", alpha=0.5)
    r["train"]["checkpoint"]["enabled"] = True
    whole = quiet_run(r, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        quiet_run(r, tmp_path / "cut", callbacks=[StopAtRound(2)])
    resumed = quiet_run(r, tmp_path / "cut", resume=True)

    def untimed(history):
        return [{k: v for k, v in h.items() if k not in ("seconds", "samples_per_second")} for h in history]

    assert untimed(resumed.history) == untimed(whole.history)
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


class RoundStarts(Callback):
    """The learning rate each round starts with, and whether the clients' augmentation is on."""

    def __init__(self):
        self.lrs, self.augmenting = [], []

    def on_epoch_begin(self, trainer, epoch):
        self.lrs.append(trainer.clients[0].engine.lr())
        transform = trainer.clients[0].loader.transform
        self.augmenting.append(getattr(transform, "active", None))


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_each_clients_schedule_spans_all_its_local_epochs(tmp_path, schedule):
    # 3 rounds of 2 local epochs: 6 epochs of client training against train.epochs 3. Before, the
    # schedule spanned 3 epochs: cosine came back up in the last round and one-cycle raised
    # "Tried to step 40 times" from torch in the middle of the run.
    r = recipe(clients=2, local_epochs=2, rounds=3)
    r["train"]["scheduler"] = {"name": schedule}
    seen = RoundStarts()
    done = quiet_run(r, tmp_path / "run", callbacks=[seen])
    assert len(done.history) == 3
    if schedule == "cosine":
        assert seen.lrs == pytest.approx([0.005, 0.005 * 0.75, 0.005 * 0.25])  # cosine over 6 epochs, at epochs 0, 2 and 4
    else:
        assert seen.lrs[0] < seen.lrs[1] > seen.lrs[2]  # up to the peak (30 % of 6 epochs), then down


def test_clean_epochs_count_rounds_in_a_federated_run(tmp_path):
    r = recipe(clients=2, rounds=4)  # train.epochs is 3: before, two clean epochs were checked against it
    r["data"]["augment"] = {"rotate": 10, "clean_epochs": 2}
    seen = RoundStarts()
    quiet_run(r, tmp_path / "run", callbacks=[seen])
    assert seen.augmenting == [True, True, False, False]
    r = recipe(clients=2, rounds=2)
    r["data"]["augment"] = {"rotate": 10, "clean_epochs": 2}  # before: accepted against train.epochs 3, and no round augmented
    with pytest.raises(ConfigError, match=r"^'data.augment.clean_epochs' is 2, but the run has 2 rounds.*federated.rounds \(at most 1\)"):
        quiet_run(r, tmp_path / "short")
    r = recipe(clients=2, rounds=2, local_epochs=2)
    r["train"]["scheduler"]["warmup_epochs"] = 3  # 3 of each client's 4 epochs: accepted (before: refused against train.epochs 3)
    quiet_run(r, tmp_path / "warm")
    r["train"]["scheduler"]["warmup_epochs"] = 4
    with pytest.raises(ConfigError, match="each client's schedule spans 4 epochs"):
        quiet_run(r, tmp_path / "warmer")


@pytest.mark.parametrize("changes, words", [
    ({"federated": {"rounds": 3}}, "federated.clients is 0"),
    ({"federated": {"clients": 2}, "train": {"l1": 0.001}}, "'train.l1'"),
    ({"federated": {"clients": 2, "alpha": 0.3}}, "split: dirichlet"),
    ({"federated": {"clients": 2, "split": "dirichlet", "alpha": 0}}, "above 0"),
    ({"federated": {"clients": 2}, "engine": "scratch"}, "engine 'scratch' does not implement"),
])
def test_a_federated_recipe_that_cannot_run_is_one_line(tmp_path, changes, words):
    r = recipe()
    for key, value in changes.items():
        r[key] = {**r.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=words) as err:
        quiet_run(r, tmp_path / "run")
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()
