"""Every key of the schema, set on every engine, changes the run or is refused in one line.

Each probe sets one key away from its default (with whatever it needs to matter, ``needs``) and
compares what the run produced — weights, logged epochs, files, printed output, warnings, the
error it ended with, and a few facts an observer callback records — with the same run without
that key. Equal outcomes mean a key was silently ignored, which is the bug this test exists for.
A key added to the schema without a probe here fails :func:`test_every_key_has_a_probe`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from nnforge.config import leaf_paths, resolve
from nnforge.errors import ConfigError, UserError
from nnforge.train import Callback, run
from nnforge.train.keys import CORE
from nnforge.train.tasks import TASKS

BASE = {"data": {"name": "digits", "batch_size": 128}, "model": {"name": "mlp", "hidden": [8]},
        "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none"}}
FORECAST = {"task": "forecast", "data": {"name": "sunspots", "batch_size": 64}, "model": {"name": "lstm", "hidden": 4},
            "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none"}}
CONTRASTIVE = {"task": "contrastive", "data": {"name": "digits", "batch_size": 128, "augment": {"rotate": 15.0}},
               "model": {"name": "mlp", "hidden": [8]}, "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none"}}
NOWHERE = "http://127.0.0.1:9/"  # a closed port: a download fails at once, naming the address


@dataclass
class Probe:
    value: object
    needs: dict = field(default_factory=dict)
    base: dict = field(default_factory=lambda: BASE)
    against: object = None  # compare with this value instead of the default (both non-default)
    find_lr: bool = False
    stop_at_begin: bool = False  # record what the run was built with, then stop (no training)


PROBES: dict[str, Probe] = {
    "engine": Probe("__other__"),
    "seed": Probe(1),
    "deterministic": Probe(True),
    "device": Probe("cuda"),  # refused without a GPU; on one it moves the run
    "threads": Probe(3),
    "task": Probe("forecast"),
    "model": Probe({"name": "mlp", "hidden": [12]}),
    "data.name": Probe("csv:{tmp}/rows.csv", {"data.target": "label"}, against="csv:{tmp}/other.csv"),
    "data.root": Probe("{tmp}/empty", {"data.name": "mnist"}),
    "data.target": Probe("label", {"data.name": "csv:{tmp}/rows.csv"}, against="other"),
    "data.url": Probe(NOWHERE + "a/", {"data.name": "mnist", "data.root": "{tmp}/empty", "data.download": True}, against=NOWHERE + "b/"),
    "data.download": Probe(True, {"data.name": "mnist", "data.root": "{tmp}/empty", "data.url": NOWHERE}),
    "data.batch_size": Probe(64),
    "data.eval_batch_size": Probe(50),
    "data.image_size": Probe(12),
    "data.fit_content": Probe(True),
    "data.train_fraction": Probe(0.5),
    "data.sampling": Probe("oversample"),
    "data.imbalance": Probe({"3": 0.1}),
    "data.denoise": Probe("median"),
    "data.denoise_size": Probe(5, {"data.denoise": "median"}),
    "data.val_fraction": Probe(0.3),
    "data.normalize": Probe(False),
    "data.augment.rotate": Probe(15.0),
    "data.augment.shift": Probe(0.1),
    "data.augment.scale": Probe(0.1),
    "data.augment.shear": Probe(10.0),
    "data.augment.hflip": Probe(True),
    "data.augment.crop_padding": Probe(1),
    "data.augment.noise": Probe(0.1),
    "data.augment.cutout": Probe(0.3),
    "data.augment.clean_epochs": Probe(1, {"data.augment.rotate": 15.0}),
    "data.augment.mixup": Probe(0.4),
    "data.augment.cutmix": Probe(1.0),
    "data.augment.mix_prob": Probe(0.5, {"data.augment.mixup": 0.4}),
    "data.augment.policy": Probe("randaugment"),
    "data.augment.magnitude": Probe(20, {"data.augment.policy": "randaugment"}),
    "data.augment.num_ops": Probe(3, {"data.augment.policy": "randaugment"}),
    "train.epochs": Probe(3),
    "train.loss.name": Probe("focal"),
    "train.loss.label_smoothing": Probe(0.1),
    "train.loss.class_weight": Probe("balanced", {"data.imbalance": {"3": 0.2}}),
    "train.loss.focal_gamma": Probe(1.0, {"train.loss.name": "focal"}),
    "train.optimizer.name": Probe("sgd"),
    "train.optimizer.lr": Probe(0.05),
    "train.optimizer.momentum": Probe(0.9, {"train.optimizer.name": "sgd"}),
    "train.optimizer.nesterov": Probe(True, {"train.optimizer.name": "sgd", "train.optimizer.momentum": 0.9}),
    "train.optimizer.weight_decay": Probe(0.1),
    "train.optimizer.betas": Probe([0.5, 0.9]),
    "train.optimizer.eps": Probe(0.1),
    "train.optimizer.alpha": Probe(0.5, {"train.optimizer.name": "rmsprop"}),
    "train.optimizer.lr_mult": Probe({"layers.0.*": 0.1}),
    "train.scheduler.name": Probe("cosine"),
    "train.scheduler.step_size": Probe(1, {"train.scheduler.name": "step"}),
    "train.scheduler.gamma": Probe(0.5, {"train.scheduler.name": "step", "train.scheduler.step_size": 1}),
    "train.scheduler.max_lr": Probe(0.05, {"train.scheduler.name": "onecycle"}),
    "train.scheduler.pct_start": Probe(0.5, {"train.scheduler.name": "onecycle"}),
    "train.scheduler.min_lr": Probe(0.005, {"train.scheduler.name": "cosine"}),
    "train.scheduler.patience": Probe(0, {"train.scheduler.name": "plateau", "train.monitor": "val_accuracy", "train.epochs": 4,
                                          "train.optimizer.lr": 0.5}),
    "train.scheduler.warmup_epochs": Probe(0.5),
    "train.monitor": Probe("val_accuracy", {"train.save_best": True}),
    "train.early_stopping.patience": Probe(1, {"train.early_stopping.min_delta": 10.0, "train.epochs": 3}),
    "train.early_stopping.min_delta": Probe(10.0, {"train.early_stopping.patience": 1, "train.epochs": 3}),
    "train.early_stopping.restore_best": Probe(False, {"train.early_stopping.patience": 1, "train.early_stopping.min_delta": 10.0,
                                                       "train.epochs": 3}),
    "train.save_best": Probe(True),
    "train.log_csv": Probe(True),
    "train.l1": Probe(0.01),
    "train.gradients.clip_norm": Probe(0.1),
    "train.gradients.clip_value": Probe(0.001),
    "train.gradients.log_norms": Probe(True),
    "train.gradients.check": Probe(True, {"train.gradients.explode_above": 1e-3}),
    "train.gradients.vanish_below": Probe(1e3, {"train.gradients.check": True}),
    "train.gradients.explode_above": Probe(1e-3, {"train.gradients.check": True}),
    "train.init.weights": Probe("{tmp}/init.safetensors"),
    "train.init.skip": Probe(["layers.0.*"], {"train.init.weights": "{tmp}/init.safetensors"}),
    "train.freeze": Probe(["layers.0.*"]),
    "train.unfreeze_epoch": Probe(2, {"train.freeze": ["layers.0.*"]}),
    "train.precision": Probe("bf16"),
    "train.channels_last": Probe(True, {"model": {"name": "cnn", "channels": [4, 4], "hidden": 8}}, stop_at_begin=True),
    "train.compile": Probe(True, stop_at_begin=True),
    "train.lr_finder.start": Probe(1e-4, {"train.lr_finder.steps": 10}, find_lr=True),
    "train.lr_finder.end": Probe(1.0, {"train.lr_finder.steps": 10}, find_lr=True),
    "train.lr_finder.steps": Probe(10, find_lr=True),
    "train.progress": Probe("lines"),
    "train.checkpoint.enabled": Probe(False),
    "train.checkpoint.every_steps": Probe(3),
    "train.checkpoint.keep": Probe(1),
    "train.nonfinite": Probe("skip", {"train.optimizer.lr": 1e30, "train.optimizer.name": "sgd"}),
    "train.accumulate": Probe(2),
    "train.ema.decay": Probe(0.9),
    "train.ema.every": Probe(3, {"train.ema.decay": 0.9}),
    "train.swa.start_epoch": Probe(1),
    "train.swa.lr": Probe(0.001, {"train.swa.start_epoch": 1}),
    "train.distill.teacher": Probe("{tmp}/teacher"),
    "train.distill.temperature": Probe(2.0, {"train.distill.teacher": "{tmp}/teacher"}),
    "train.distill.alpha": Probe(0.9, {"train.distill.teacher": "{tmp}/teacher"}),
    "train.max_time": Probe(0),  # stops after the first step
    "train.overfit_batches": Probe(2),
    "train.fast_dev_run": Probe(True),
    "train.log_lr": Probe("step"),
    "train.loggers": Probe(["tensorboard"]),
    # where the MLflow run went is written to mlflow.json before training starts
    "train.mlflow.tracking_uri": Probe("sqlite:///{tmp}/probe-mlflow.db", {"train.loggers": ["mlflow"]}, stop_at_begin=True),
    "train.mlflow.experiment": Probe("probe", {"train.loggers": ["mlflow"]}, stop_at_begin=True),
    "forecast.window": Probe(12, base=FORECAST),
    "forecast.horizon": Probe(2, base=FORECAST),
    "forecast.test_fraction": Probe(0.3, base=FORECAST),
    "federated.clients": Probe(2),
    "federated.rounds": Probe(1, {"federated.clients": 2}),
    "federated.local_epochs": Probe(2, {"federated.clients": 2}),
    "federated.split": Probe("dirichlet", {"federated.clients": 2}),
    "federated.alpha": Probe(5.0, {"federated.clients": 3, "federated.split": "dirichlet"}),
    "contrastive.temperature": Probe(0.2, base=CONTRASTIVE),
    "contrastive.projection_dim": Probe(16, base=CONTRASTIVE),
    "contrastive.probe_labels": Probe(50, base=CONTRASTIVE),
}
#: keys no training run reads, and who does
NOT_READ_BY_TRAINING = {"tune": "nnforge tune (tests/tune)"}


def test_every_key_has_a_probe():
    assert set(PROBES) | set(NOT_READ_BY_TRAINING) == set(leaf_paths())


class Observer(Callback):
    """Facts that leave no trace in the weights: how the run was set up."""

    def __init__(self, stop: bool):
        self.stop, self.facts = stop, {}

    def on_train_begin(self, trainer):
        engine = trainer.engine
        params = [p for p in getattr(engine.model, "parameters", lambda: [])() if hasattr(p, "is_contiguous")]
        self.facts = {"deterministic": torch.are_deterministic_algorithms_enabled(), "threads": torch.get_num_threads(),
                      "compiled": getattr(engine.model, "_compiled_call_impl", None) is not None,
                      "channels_last": [p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                                        for p in params if p.dim() == 4]}
        predict = engine.predict
        sizes = self.facts.setdefault("eval_batches", [])

        def counted(batches):
            sizes.append(batches.batch_size)
            return predict(batches)

        engine.predict = counted
        if self.stop:
            raise _Stopped()


class _Stopped(Exception):
    pass


def _set(tree: dict, dotted: str, value) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _fill(value, tmp: Path):
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, list):
        return [_fill(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, tmp) for k, v in value.items()}
    return value


_TIMING = re.compile(r"\d[\d,.]*\s?(s|samples/s)\b")  # in printed lines
_CLOCK = {"seconds", "samples_per_second", "train_seconds", "latency"}  # in logged records (summary.json: latency)


def _untimed(text: str):
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            return json.loads(text) if text.strip().startswith("{") else text
        rows.append({k: v for k, v in row.items() if k not in _CLOCK} if isinstance(row, dict) else row)
    return rows


_SEEN: dict[str, object] = {}  # outcomes by recipe: the runs without the probed key are shared


def _outcome(recipe: dict, tmp: Path, probe: Probe):
    ident = json.dumps([recipe, probe.find_lr, probe.stop_at_begin], sort_keys=True, default=str)
    if ident not in _SEEN:
        _SEEN[ident] = _measure(recipe, tmp / f"run-{hashlib.sha1(ident.encode()).hexdigest()[:12]}", probe)
    return _SEEN[ident]


THREADS = torch.get_num_threads()


def _measure(recipe: dict, out: Path, probe: Probe):
    torch.set_num_threads(THREADS)  # a run with `threads` leaves it set for the process
    observer = Observer(probe.stop_at_begin)
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if probe.find_lr:
                run(recipe, out, find_lr=True)
            else:
                run(recipe, out, callbacks=[observer])
            error = None
        except _Stopped:
            error = "stopped"
        except UserError as exc:
            error = (type(exc).__name__, str(exc).replace(str(out), "OUT"))
            if isinstance(exc, ConfigError):
                assert "\n" not in str(exc) and not out.exists(), "a refusal is one line, before a run folder exists"
                return ("refused", error)
    files = {}
    for path in sorted(out.rglob("*")) if out.exists() else []:
        rel = str(path.relative_to(out))
        if path.is_dir() or rel in ("config.yaml", ".lock") or path.suffix == ".png":
            continue
        if rel.startswith("checkpoints/"):
            files[rel] = "present"
        elif path.suffix == ".jsonl" or path.name in ("metrics.json", "lr_find.json", "summary.json"):
            data = _untimed(path.read_text())
            files[rel] = {k: v for k, v in data.items() if k not in _CLOCK} if isinstance(data, dict) else data
        elif path.name == "mlflow.json":  # where the run was logged; its run id is new every time
            files[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k != "run_id"}
        elif path.suffix == ".csv":
            lines = [line.split(",") for line in path.read_text().splitlines()]
            keep = [i for i, name in enumerate(lines[0]) if name not in _CLOCK]
            files[rel] = [[cells[i] for i in keep] for cells in lines]
        else:
            files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    messages = sorted({str(w.message) for w in caught if "nnforge" in (w.filename or "") or "gradients" in str(w.message)})
    return {"error": error, "files": files, "text": _TIMING.sub("", text.getvalue()), "warnings": messages, "facts": observer.facts}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Files the probes name: two tables, an empty data folder, weights to start from, and a teacher run."""
    from safetensors.torch import save_file

    from nnforge.data import load_dataset
    from nnforge.models import build_model

    tmp = tmp_path_factory.mktemp("probes")
    ds = load_dataset({"name": "digits"})
    x, y = ds.x_train.reshape(len(ds.x_train), -1)[:, :6].numpy(), ds.y_train.numpy()
    rows = ["f0,f1,f2,f3,f4,f5,label,other"] + [",".join(map(str, [*r, int(c), int(c) % 2])) for r, c in zip(x, y)]
    (tmp / "rows.csv").write_text("\n".join(rows) + "\n")
    (tmp / "other.csv").write_text("\n".join([rows[0]] + rows[1:][::-1][:600]) + "\n")
    (tmp / "empty").mkdir()
    torch.manual_seed(5)
    model = build_model(resolve(BASE).model, (1, 8, 8), 10)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / "init.safetensors"))
    run(BASE, tmp / "teacher")  # a trained run to distill from
    return tmp


@pytest.mark.parametrize("engine", ["torch", "scratch"])
@pytest.mark.parametrize("key", sorted(PROBES))
def test_a_key_changes_the_run_or_is_refused(workspace, key, engine):
    probe = PROBES[key]
    base = json.loads(json.dumps(probe.base))
    base["engine"] = engine
    for dotted, value in probe.needs.items():
        _set(base, dotted, _fill(value, workspace))
    changed = json.loads(json.dumps(base))
    value = {"torch": "scratch", "scratch": "torch"}[engine] if probe.value == "__other__" else _fill(probe.value, workspace)
    _set(changed, key, value)
    if probe.against is not None:
        _set(base, key, _fill(probe.against, workspace))
    after = _outcome(changed, workspace, probe)
    if isinstance(after, tuple):
        return  # refused before a run folder exists, in one line
    before = _outcome(base, workspace, probe)
    assert after != before, f"'{key}' = {value!r} on engine {engine} changed nothing"


REGRESS = {"task": "regress", "data": {"name": "diabetes", "batch_size": 64}, "model": {"name": "mlp", "hidden": [8]},
           "train": {"epochs": 1, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none"}}


@pytest.mark.parametrize("key", sorted(k for k in PROBES if k not in CORE and k not in TASKS["regress"].implements and k != "task"))
def test_a_key_the_regression_task_does_not_have_is_refused(tmp_path, key):
    """task: regress declares its keys; every other key of the schema, set on a regression, is refused in one line."""
    probe = PROBES[key]
    recipe = json.loads(json.dumps(REGRESS))
    for dotted, value in probe.needs.items():
        _set(recipe, dotted, _fill(value, tmp_path))
    _set(recipe, key, _fill(probe.value, tmp_path))
    with pytest.raises(ConfigError) as err:
        run(recipe, tmp_path / "run")
    assert "\n" not in str(err.value) and "task 'regress'" in str(err.value) and not (tmp_path / "run").exists()


#: an option set while the key that turns its feature on is off, what the refusal names (and what else the recipe sets)
OFF = {
    "train.unfreeze_epoch": (3, "train.freeze is empty"),
    "train.swa.lr": (0.01, "train.swa.start_epoch is 0"),
    "train.distill.alpha": (0.9, "train.distill.teacher is not set"),
    "train.distill.temperature": (2.0, "train.distill.teacher is not set"),
    "train.checkpoint.every_steps": (5, "train.checkpoint.enabled is false", {"train.checkpoint.enabled": False}),
    "train.checkpoint.keep": (4, "train.checkpoint.enabled is false", {"train.checkpoint.enabled": False}),
    "train.ema.every": (3, "train.ema.decay is not set"),
    "train.early_stopping.min_delta": (0.1, "train.early_stopping.patience is 0"),
    "train.early_stopping.restore_best": (False, "train.early_stopping.patience is 0"),
    "train.gradients.vanish_below": (1e-3, "train.gradients.check is false"),
    "train.gradients.explode_above": (10.0, "train.gradients.check is false"),
    "train.mlflow.experiment": ("other", "train.loggers does not list mlflow"),
    "data.denoise_size": (5, "data.denoise is none"),
    "data.augment.clean_epochs": (1, "no augmentation is on"),
    "train.optimizer.momentum": (0.9, "train.optimizer.name is adam, which does not read it; use train.optimizer.name sgd or rmsprop"),
    "train.optimizer.alpha": (0.9, "train.optimizer.name is adam"),
    "train.scheduler.step_size": (5, "train.scheduler.name is none, which does not read it; use train.scheduler.name step"),
    "train.scheduler.min_lr": (0.001, "train.scheduler.name is none"),
    "train.scheduler.pct_start": (0.5, "train.scheduler.name is none"),
}


@pytest.mark.parametrize("key", sorted(OFF))
def test_an_option_of_a_feature_that_is_off_is_refused_in_one_line(tmp_path, key):
    """Before: each of these trained as if it were not there (``train.swa.lr`` without
    ``train.swa.start_epoch``, ``train.distill.alpha`` without a teacher, momentum with Adam, ...)."""
    value, why, *needs = OFF[key]
    recipe = json.loads(json.dumps(BASE))
    for dotted, setting in {key: value, **(needs[0] if needs else {})}.items():
        _set(recipe, dotted, setting)
    with pytest.raises(ConfigError) as err:
        run(recipe, tmp_path / "run")
    message = str(err.value)
    assert message.startswith(f"'{key}' is ") and why in message and "or leave it at its default" in message, message
    assert "\n" not in message and not (tmp_path / "run").exists()


def test_nesterov_without_momentum_is_refused_and_defaults_never_are(tmp_path):
    from nnforge.train.keys import FEATURE_OPTIONS, check_feature_options, field_at

    with pytest.raises(ConfigError, match="'train.optimizer.nesterov' is True, but train.optimizer.momentum is 0"):
        run({**BASE, "train": {**BASE["train"], "optimizer": {"name": "sgd", "nesterov": True}}}, tmp_path / "run")
    defaults = {}  # every option written out at its default, with every feature off
    for key in [*FEATURE_OPTIONS, "train.optimizer.momentum", "train.optimizer.betas", "train.scheduler.gamma", "train.scheduler.max_lr"]:
        _set(defaults, key, field_at(key).default)
    check_feature_options(resolve(defaults))
