"""``engine: scratch`` trains the zoo's mlp, cnn and vit through nnforge.train.fit (the front door)."""
import json

import numpy as np
import pytest
import torch

from nnforge.config import load_config
from nnforge.models.cnn import SimpleCNN
from nnforge.models.mlp import MLP
from nnforge.scratch.models import build_cnn, build_mlp
from nnforge.train import fit


@pytest.mark.parametrize("bn", [False, True])
def test_twins_share_state_dict_layout(bn):
    for s_model, t_model in ((build_mlp((1, 28, 28), 10, batch_norm=bn, dropout=0.2),
                              MLP((1, 28, 28), 10, batch_norm=bn, dropout=0.2)),
                             (build_cnn((1, 28, 28), 10, batch_norm=bn, dropout=0.3),
                              SimpleCNN((1, 28, 28), 10, batch_norm=bn, dropout=0.3)),
                             (build_cnn((1, 28, 28), 10, batch_norm=bn, norm_after_pool=int(bn)),
                              SimpleCNN((1, 28, 28), 10, batch_norm=bn, norm_after_pool=int(bn)))):
        theirs = {k: tuple(v.shape) for k, v in t_model.state_dict().items()}
        assert {k: v.shape for k, v in s_model.state_dict().items()} == theirs
        s_model.load_state_dict(t_model.state_dict())
        t_model.eval(), s_model.eval()
        x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
        from nnforge import scratch
        with torch.no_grad():
            expected = t_model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(s_model(scratch.tensor(x)).data, expected, rtol=1e-4, atol=1e-5)
        for p in s_model.parameters():
            p.data = p.data + 1.0
        t_model.load_state_dict({k: torch.from_numpy(v) for k, v in s_model.state_dict().items()})  # as ScratchEngine.torch_model
        for k, v in t_model.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), s_model.state_dict()[k])


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_scratch_engine_trains_digits(tmp_path, model):
    overrides = ["engine=scratch", "train.epochs=4", "train.progress=none", f"model.name={model}"]
    if model == "cnn":
        overrides += ["model.channels=[8,16]", "model.hidden=32"]
    else:
        overrides += ["model.hidden=[64]"]
    cfg = load_config("configs/digits_mlp.yaml", overrides) if model == "mlp" else \
        load_config(None, ["data.name=digits", "data.batch_size=32", "train.optimizer.name=adam",
                           "train.optimizer.lr=0.003", *overrides])
    run = fit(cfg, tmp_path / "run")
    assert run.metrics["test_accuracy"] >= 0.85
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2, 3, 4]
    assert (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.parametrize("override, words", [
    ("model.name=resnet", "engine 'scratch' trains the models mlp, cnn, vit, not 'resnet'"),
    ("train.precision=bf16", "'train.precision' is 'bf16', but engine 'scratch' does not implement it"),
])
def test_what_the_scratch_engine_cannot_train_is_one_line_and_leaves_no_folder(tmp_path, capsys, override, words):
    from nnforge.cli import main

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("engine: scratch\ndata: {name: digits}\n")
    assert main(["train", str(recipe), "--out", str(tmp_path / "run"), "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {words}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_vision_transformer_twins_compute_the_same_outputs_and_gradients():
    from nnforge import scratch
    from nnforge.models import build_model, check_model_config
    from nnforge.scratch.models import build_vit

    torch.manual_seed(0)
    cfg = check_model_config({"name": "vit", "patch": 4, "dim": 32, "depth": 2, "heads": 4})
    t_model = build_model(cfg, (1, 8, 8), 10).double()
    s_model = build_vit((1, 8, 8), 10, patch=4, dim=32, depth=2, heads=4).double()
    assert list(s_model.state_dict()) == list(t_model.state_dict())
    s_model.load_state_dict(t_model.state_dict())
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8))
    s_out, t_out = s_model(scratch.tensor(x, dtype=scratch.float64)), t_model(torch.tensor(x))
    np.testing.assert_allclose(s_out.data, t_out.detach().numpy(), rtol=1e-6, atol=1e-9)
    (s_out * s_out).sum().backward()
    (t_out * t_out).sum().backward()
    s_params = dict(s_model.named_parameters())
    for name, p in t_model.named_parameters():
        np.testing.assert_allclose(s_params[name].grad.data, p.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)


def test_scratch_engine_trains_a_vision_transformer(tmp_path):
    cfg = load_config(None, ["engine=scratch", "data.name=digits", "data.batch_size=32", "model.name=vit", "model.patch=2",
                             "model.dim=32", "model.depth=2", "train.epochs=8", "train.optimizer.name=adamw",
                             "train.optimizer.lr=0.003", "train.progress=none"])
    assert fit(cfg, tmp_path / "run").metrics["test_accuracy"] >= 0.85


def test_blas_threads_are_measured_and_the_measurement_changes_nothing(tmp_path):
    """threads: 0 picks NumPy's BLAS threads by timing this model's passes; the run is then the one
    the chosen count gives without measuring, bit for bit (weights, RNG and BatchNorm statistics
    are put back after measuring)."""
    import os

    import torch

    from nnforge.config import load_config
    from nnforge.train import fit
    from nnforge.train.engines.scratch_engine import ScratchEngine

    chosen = []
    original = ScratchEngine.measure_blas_threads

    def spy(self, data, repeats=2):
        chosen.append(original(self, data, repeats))
        return chosen[-1]

    keys = ["engine=scratch", "data.name=digits", "model.name=cnn", "model.channels=[4]", "model.hidden=16", "model.batch_norm=true",
            "model.dropout=0.2", "train.epochs=1", "train.progress=none", "train.checkpoint.enabled=false"]
    ScratchEngine.measure_blas_threads = spy
    try:
        measured = fit(load_config(None, keys), tmp_path / "measured")
    finally:
        ScratchEngine.measure_blas_threads = original
    cpus = len(os.sched_getaffinity(0))
    assert len(chosen) == 1 and 1 <= chosen[0] <= cpus
    # the same count without measuring (not `threads: N`, which also sets torch's threads, and with
    # them the bits of the preprocessing statistics): measuring must leave no trace in the run
    ScratchEngine.measure_blas_threads = lambda self, data, repeats=2: chosen[0]
    try:
        named = fit(load_config(None, keys), tmp_path / "named")
    finally:
        ScratchEngine.measure_blas_threads = original
    for key, value in named.model.state_dict().items():
        assert torch.equal(measured.model.state_dict()[key], value), key


def test_a_scratch_run_stopped_mid_epoch_resumes_bit_identical(tmp_path):
    """Adam's moments, the step count, the data order and dropout's generator go through the
    checkpoint: stopped after its first step and resumed, a run ends with the weights of one that
    was never stopped (and the checkpoint holds the optimizer's state, not its work buffers)."""
    from nnforge.train import resume_run
    from nnforge.train.checkpoint import latest_checkpoint

    keys = ["engine=scratch", "data.name=digits", "model.name=mlp", "model.hidden=[32]", "model.dropout=0.2",
            "train.optimizer.name=adam", "train.epochs=2", "train.progress=none", "threads=1"]
    whole = fit(load_config(None, keys), tmp_path / "whole")
    stopped = fit(load_config(None, keys + ["train.max_time=0"]), tmp_path / "stopped")
    assert stopped.metrics["stopped"]["global_step"] == 1
    saved = latest_checkpoint(tmp_path / "stopped").state["engine"]["optimizer"]["state"]
    assert {name for s in saved.values() for name in s} == {"step", "exp_avg", "exp_avg_sq"}
    resumed = resume_run(load_config(None, keys), tmp_path / "stopped")  # without the budget
    for key, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_a_scratch_run_gives_blas_its_threads_back(tmp_path):
    """The engine limits NumPy's BLAS to the run's thread count (``threads`` here, else the measured
    one) while it trains; afterwards the process has the count it had before, so a later run or a
    notebook's next cell does not inherit it: also when the run fails after the engine was built
    (here: its folder is locked by another run)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from nnforge.errors import RunError
    from nnforge.rundir import RunLock

    def blas_threads():
        return sorted(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

    keys = ["engine=scratch", "data.name=digits", "model.name=mlp", "model.hidden=[16]", "train.epochs=1", "train.progress=none",
            "threads=1"]
    fit(load_config(None, keys), tmp_path / "first")  # every BLAS library a run loads is loaded now
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert 2 in before
        fit(load_config(None, keys), tmp_path / "run")
        assert blas_threads() == before
        with RunLock(tmp_path / "held"), pytest.raises(RunError, match="in use by a training run"):
            fit(load_config(None, keys), tmp_path / "held")
        assert blas_threads() == before
