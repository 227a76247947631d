"""The playground's training step against PyTorch in float64: the same network, batch and optimiser
give the same loss, gradients and updated weights; batches and Reset behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnforge.data.sources.toy2d import DataSpec
from nnforge.playground.network import ACTIVATIONS, NetSpec
from nnforge.playground.session import TrainingSession


def torch_twin(session: TrainingSession) -> torch.nn.Sequential:
    """The session's network rebuilt in torch (float64) with the session's current weights."""
    layers = []
    for module in session.model:
        name = type(module).__name__
        layers.append(torch.nn.Linear(module.in_features, module.out_features) if name == "Linear" else getattr(torch.nn, name)())
    model = torch.nn.Sequential(*layers).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in session.model.state_dict().items()})
    return model


def torch_optimizer(spec: NetSpec, params):
    if spec.optimizer == "adam":
        return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.l2)
    return torch.optim.SGD(params, lr=spec.lr, momentum=0.9 if spec.optimizer == "momentum" else 0.0, weight_decay=spec.l2)


@pytest.mark.parametrize("net", [
    NetSpec(hidden=(4, 3), activation="tanh", optimizer="sgd", lr=0.1),
    NetSpec(hidden=(5,), activation="relu", optimizer="momentum", lr=0.05, l2=0.01, l1=0.003, batch_size=7),
    NetSpec(hidden=(3, 3, 2), activation="sigmoid", optimizer="adam", lr=0.02, l2=0.001),
    NetSpec(hidden=(2,), activation="linear", optimizer="adam", lr=0.01, l1=0.01),
    NetSpec(hidden=(), optimizer="sgd", lr=0.3),
])
def test_steps_match_torch_float64(net):
    data = DataSpec(kind="moons", samples=120, noise=20, features=("x1", "x2", "x1*x2", "sin(x1)"))
    session = TrainingSession(data, net)
    model = torch_twin(session)
    opt = torch_optimizer(net, model.parameters())
    x, y = session.points.x_train, session.points.y_train
    for _ in range(3 * session.batches_per_epoch // 2):  # across an epoch boundary: a reshuffle
        i = session.steps % session.batches_per_epoch
        loss = session.step()
        idx = session.order[i * net.batch_size:(i + 1) * net.batch_size]
        ref = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        opt.zero_grad()
        ref.backward()
        for p in model.parameters():
            if net.l1 and p.dim() > 1:
                p.grad.add_(torch.sign(p.detach()), alpha=net.l1)
        grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
        opt.step()
        assert loss == pytest.approx(ref.item(), rel=1e-10, abs=1e-12)
        for name, p in session.model.named_parameters():
            np.testing.assert_allclose(p.grad.data, grads[name], rtol=1e-8, atol=1e-12, err_msg=name)
        state = session.model.state_dict()
        for name, p in model.named_parameters():
            np.testing.assert_allclose(state[name], p.detach().numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_each_epoch_visits_every_training_point_once_with_a_fresh_order():
    session = TrainingSession(DataSpec(kind="circle", samples=103, train_ratio=50), NetSpec(batch_size=10))
    n = len(session.points.y_train)
    epochs = []
    for _ in range(2):
        seen = []
        for i in range(session.batches_per_epoch):
            session.step()
            seen.extend(session.order[i * 10:(i + 1) * 10])
        epochs.append(seen)
    assert sorted(epochs[0]) == list(range(n)) == sorted(epochs[1])
    assert epochs[0] != epochs[1]
    assert session.epoch == 2.0


def test_reset_restores_the_start_and_replays_the_same_run():
    session = TrainingSession(DataSpec(kind="xor"), NetSpec(hidden=(4,), optimizer="adam"))
    start = session.model.state_dict()
    for _ in range(30):
        session.step()
    after_30 = session.model.state_dict()
    assert any(not np.array_equal(start[k], after_30[k]) for k in start)
    session.reset()
    assert session.steps == 0 and session.batch_loss is None
    assert all(np.array_equal(start[k], v) for k, v in session.model.state_dict().items())
    for _ in range(30):
        session.step()
    assert all(np.array_equal(after_30[k], v) for k, v in session.model.state_dict().items())


def test_model_is_sequential_of_linear_and_activation_with_two_logits():
    session = TrainingSession(DataSpec(features=("x1", "x2", "x1^2")), NetSpec(hidden=(3, 2), activation="relu"))
    names = [type(m).__name__ for m in session.model]
    assert names == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert session.model[0].in_features == 3 and session.model[-1].out_features == 2
    assert set(ACTIVATIONS) == {"relu", "tanh", "sigmoid", "linear"}
