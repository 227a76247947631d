"""nnforge's optimizers are torch's, minus the torch._dynamo import: same steps, same state, faster start."""

from __future__ import annotations

import copy
import inspect
import subprocess
import sys
import textwrap

import pytest
import torch

from nnforge.config import load_config
from nnforge.train.eager_optim import eager
from nnforge.train.optim import build_optimizer

SETTINGS = {
    "sgd": ["train.optimizer.momentum=0.9", "train.optimizer.nesterov=true", "train.optimizer.weight_decay=0.01"],
    "adam": ["train.optimizer.weight_decay=0.01"],
    "adamw": ["train.optimizer.weight_decay=0.05"],
    "rmsprop": ["train.optimizer.momentum=0.5"],
}
TORCH_CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def _train(model, opt, steps: int = 6) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_steps_and_state_are_bit_identical_to_torchs_own_class(name):
    recipe = load_config(None, [f"train.optimizer.name={name}", "train.optimizer.lr=0.01", *SETTINGS[name]])
    ours_model, torch_model = _model(), _model()
    ours = build_optimizer(ours_model, recipe.train)
    assert isinstance(ours, TORCH_CLASSES[name]) and type(ours) is not TORCH_CLASSES[name]
    accepted = inspect.signature(TORCH_CLASSES[name]).parameters
    kwargs = {k: v for k, v in ours.defaults.items() if k in accepted}
    theirs = TORCH_CLASSES[name](torch_model.parameters(), **kwargs)
    _train(ours_model, ours)
    _train(torch_model, theirs)
    for a, b in zip(ours_model.parameters(), torch_model.parameters()):
        assert torch.equal(a, b)
    # state written by one loads into the other, and both go on identically (copies: loading keeps the tensors)
    ours_state, theirs_state = copy.deepcopy(ours.state_dict()), copy.deepcopy(theirs.state_dict())
    ours.load_state_dict(theirs_state)
    theirs.load_state_dict(ours_state)
    _train(ours_model, ours, 2)
    _train(torch_model, theirs, 2)
    for a, b in zip(ours_model.parameters(), torch_model.parameters()):
        assert torch.equal(a, b)


def test_step_hooks_and_schedules_work_and_the_caller_keeps_its_grad_mode():
    """The step runs with gradients off (an in-place update of a leaf that requires grad would raise)."""
    model = _model()
    opt = eager(torch.optim.AdamW)(model.parameters(), lr=0.01)
    seen = []
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(o))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.02, total_steps=100)
    lrs = []
    for _ in range(3):
        _train(model, opt, 1)
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert seen == [opt] * 3 and torch.is_grad_enabled()
    assert lrs == sorted(lrs) and lrs[0] < lrs[-1]  # the schedule drives the eager class's groups: warming up
    assert all(p.grad_fn is None and p.requires_grad for p in model.parameters())


def test_a_run_never_imports_torch_dynamo(tmp_path):
    """In a fresh interpreter (this one may have imported it already): 1 s of every run's start, and
    the FLOP count of summary.json after training (nnforge/models/summary.py) does not pay it either."""
    child = textwrap.dedent(f"""
        import sys
        from nnforge.config import load_config
        from nnforge.train import run
        from nnforge.train.callbacks import Callback

        class Watch(Callback):
            def __init__(self):
                self.imported = []
            def on_batch_end(self, trainer, step, logs):
                self.imported.append("torch._dynamo" in sys.modules)

        watch = Watch()
        recipe = load_config(None, ["data.name=digits", "model.name=mlp", "model.hidden=[16]", "train.epochs=1",
                                    "train.optimizer.name=adamw", "train.scheduler.name=onecycle", "train.progress=none"])
        run(recipe, {str(tmp_path / "run")!r}, callbacks=[watch])
        print(len(watch.imported), any(watch.imported), "torch._dynamo" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    steps, while_training, by_the_end = proc.stdout.split()
    assert int(steps) > 10 and while_training == by_the_end == "False"
    assert (tmp_path / "run" / "summary.json").is_file()
