"""Checkpoints and resume: a run killed at any moment continues where it stopped.

A checkpoint is one safetensors file: the tensors (model, optimizer, RNG and generator states,
callback tensors) as tensors, and everything else as JSON in the file's header — no pickle. It
is written with :func:`nnforge.io.atomic_write` (temporary file, fsync, rename), so a crash leaves
the previous file or the new one, never a torn one; a CRC32 per tensor catches later damage.

``RUN/checkpoints/`` holds ``step-NNNNNNNN.safetensors`` (the newest ``train.checkpoint.keep``)
and ``best.safetensors`` (the epoch with the best validation accuracy, else the lowest loss).
Each holds the model, optimizer, scheduler, callback states, the data order's and the
augmentation's generator states, Python/NumPy/torch RNG states and the position in the epoch.
With ``deterministic: true`` a resumed run ends bit-identical to an uninterrupted one.

Callbacks take part by defining ``state_dict() -> dict`` / ``load_state_dict(dict)`` (JSON
values and tensors); a callback without them has its plain attributes (numbers, strings, lists,
dicts, tensors) saved and restored as they are.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnforge import io
from nnforge.errors import RunError
from nnforge.train.callbacks import Callback

FORMAT = 1
META_KEY = "nnforge.checkpoint"
STEP_FILE = re.compile(r"^step-(\d+)\.safetensors$")


# -- state <-> (JSON, tensors) ------------------------------------------------------------

def encode_state(obj, tensors: dict[str, torch.Tensor], prefix: str = "t"):
    """A JSON-able mirror of ``obj`` with every tensor/array moved into ``tensors`` by key."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = torch.from_numpy(obj.astype(np.int64) if obj.dtype == np.uint32 else obj.copy())
        return {"__ndarray__": key, "dtype": str(obj.dtype)}
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [encode_state(v, tensors, prefix) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_state(v, tensors, prefix) for k, v in obj.items()}
        return {"__dict__": [[encode_state(k, tensors, prefix), encode_state(v, tensors, prefix)] for k, v in obj.items()]}
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}")


def decode_state(obj, tensors: dict[str, torch.Tensor]):
    if isinstance(obj, list):
        return [decode_state(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return tensors[obj["__ndarray__"]].numpy().astype(obj["dtype"])
    if "__tuple__" in obj:
        return tuple(decode_state(v, tensors) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {decode_state(k, tensors): decode_state(v, tensors) for k, v in obj["__dict__"]}
    return {k: decode_state(v, tensors) for k, v in obj.items()}


def _crc(t: torch.Tensor) -> int:
    return zlib.crc32(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else 0


# -- files --------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """A loaded checkpoint: its file and its decoded state (``position``, ``model``, ``optimizer``, ...)."""

    path: Path
    state: dict

    @property
    def position(self) -> dict:
        return self.state["position"]


def _fault(event: str, count: int) -> None:
    """Crash tests only: ``NNFORGE_FAULT=kill_at_step:N`` / ``kill_in_write:N`` SIGKILLs this process there."""
    spec = os.environ.get("NNFORGE_FAULT", "")
    if spec and spec == f"{event}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)


_writes = 0


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` atomically as one safetensors file (tensors + a JSON header entry)."""
    global _writes
    tensors: dict[str, torch.Tensor] = {}
    body = encode_state(state, tensors)
    header = {"format": FORMAT, "state": body, "crc32": {k: _crc(t) for k, t in tensors.items()}}
    meta = {META_KEY: json.dumps(header), "format": "pt"}
    _writes += 1
    count = _writes

    def write(tmp: Path) -> None:
        from safetensors.torch import save_file

        save_file(tensors, str(tmp), metadata=meta)
        _fault("kill_in_write", count)

    return io.atomic_write(path, write)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint; a truncated or damaged file raises :class:`RunError` saying so."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunError(f"checkpoint {path} is truncated or corrupt ({exc})") from None
    try:
        header = json.loads(meta[META_KEY])
        state, crcs = header["state"], header["crc32"]
    except (KeyError, ValueError, TypeError):
        raise RunError(f"checkpoint {path} has no readable nnforge state; it is not an nnforge checkpoint or is damaged") from None
    if header.get("format") != FORMAT:
        raise RunError(f"checkpoint {path} has format {header.get('format')}; this nnforge reads format {FORMAT}")
    for key, t in tensors.items():
        if crcs.get(key) != _crc(t):
            raise RunError(f"checkpoint {path} is corrupt: tensor '{key}' fails its CRC32 check")
    if set(crcs) != set(tensors):
        raise RunError(f"checkpoint {path} is incomplete: tensors are missing")
    return Checkpoint(path, decode_state(state, tensors))


def step_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """``(global_step, path)`` for the step checkpoints in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_FILE.match(p.name))]
    return sorted(found, reverse=True)


def latest_checkpoint(run_dir: str | Path, stream=None) -> Checkpoint:
    """The newest readable checkpoint of a run; unreadable ones are reported and skipped."""
    stream = stream or sys.stderr
    folder = Path(run_dir) / "checkpoints"
    problems = []
    for _, path in step_checkpoints(folder):
        try:
            ckpt = load_checkpoint(path)
        except RunError as exc:
            problems.append(str(exc))
            stream.write(f"warning: {exc}; trying the previous checkpoint\n")
            continue
        return ckpt
    if problems:
        raise RunError(f"no usable checkpoint in {folder}: {'; '.join(problems)}")
    raise RunError(f"no checkpoint in {folder}; a run writes them during training unless train.checkpoint.enabled is false")


def clean_partial_writes(folder: Path) -> None:
    """Remove temporary files that a crash during a write left behind."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


# -- capture and restore ------------------------------------------------------------------

def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module itself, also when wrapped by DistributedDataParallel."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):  # DDP, torch.compile
        model = getattr(model, "module", None) or model._orig_mod
    return model


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _callback_key(callbacks, cb) -> str:
    name = type(cb).__name__
    same = [c for c in callbacks if type(c).__name__ == name]
    return f"{name}#{same.index(cb)}"


def callback_state(cb) -> dict:
    if hasattr(cb, "state_dict"):
        return cb.state_dict()
    out = {}
    for key, value in vars(cb).items():
        try:
            encode_state(value, {})
        except TypeError:
            continue  # files, streams, paths: set up again by whoever built the callback
        out[key] = value
    return out


def load_callback_state(cb, state: dict) -> None:
    if hasattr(cb, "load_state_dict"):
        cb.load_state_dict(state)
    else:
        for key, value in state.items():
            setattr(cb, key, value)


@dataclass
class EpochPosition:
    """Where in an epoch a checkpoint was taken: batches done, the epoch's order, running totals."""

    step: int
    loss_sum: float
    correct: int
    seen: int

    def continue_epoch(self, loader, device):
        """Batches after the first ``step`` (skipped without their transform), and the epoch's totals so far."""
        return (_skip_batches(loader, self.step), self.step,
                torch.tensor(self.loss_sum, dtype=torch.float32, device=device),
                torch.tensor(self.correct, dtype=torch.long, device=device), self.seen)


def _skip_batches(loader, skip: int):
    transform = getattr(loader, "transform", None)
    it = iter(loader)
    if transform is not None:
        loader.transform = None  # skipped batches must not draw from the augmentation generator
    try:
        for _ in range(skip):
            next(it)
    finally:
        if transform is not None:
            loader.transform = transform
    yield from it


def _finite(tensors) -> bool:
    from nnforge.train.nonfinite import all_finite

    return all_finite(tensors)


class Checkpointer(Callback):
    """Saves resumable state every ``every_steps`` steps and at each epoch's end; restores it on resume.

    It must be the last callback, so that restored callback states are not reset by their own
    ``on_train_begin`` and the data-order snapshot is taken right before the epoch draws its order.
    ``write=False`` (DistributedDataParallel ranks other than 0) restores without writing.
    """

    def __init__(self, folder: str | Path, loader, every_steps: int = 0, keep: int = 2, resume: Checkpoint | None = None,
                 write: bool = True):
        self.folder, self.loader, self.every_steps, self.keep = Path(folder), loader, every_steps, keep
        self.resume, self.write = resume, write
        self.epoch_start_generator: torch.Tensor | None = None
        self.loss_sum = torch.zeros((), dtype=torch.float32)
        self.correct, self.seen = 0, 0
        self.best: float | None = None
        self.monitor: str | None = None

    # capture
    def capture(self, trainer, step_in_epoch: int) -> dict:
        mid = step_in_epoch > 0
        loader_gen = self.epoch_start_generator if mid else self.loader.generator.get_state()
        aug = getattr(self.loader, "augment_generator", None)
        others = [cb for cb in trainer.callbacks if cb is not self]
        sampler = getattr(self.loader, "sampler", None)
        return {
            "position": {"epoch": trainer.epoch, "step_in_epoch": step_in_epoch, "global_step": trainer.global_step,
                         "epochs": trainer.epochs},
            "epoch_totals": {"loss_sum": float(self.loss_sum), "correct": self.correct, "seen": self.seen},
            "history": trainer.history,
            "stop_training": trainer.stop_training,
            "best": {"monitor": self.monitor, "value": self.best},
            "model": unwrap(trainer.model).state_dict(),
            "optimizer": trainer.optimizer.state_dict(),
            "scheduler": trainer.schedule.state_dict(),
            "callbacks": {_callback_key(others, cb): callback_state(cb) for cb in others},
            "sampler": sampler.state_dict() if hasattr(sampler, "state_dict") else None,
            "generators": {"data_order": loader_gen, "augment": aug.get_state() if aug is not None else None},
            "rng": rng_state(),
        }

    def _save(self, trainer, step_in_epoch: int, best: bool = False) -> None:
        model = unwrap(trainer.model)
        opt_tensors = [t for s in trainer.optimizer.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
        if not _finite(list(model.state_dict().values()) + opt_tensors):
            from nnforge.train.nonfinite import NonFiniteError

            raise NonFiniteError(f"the weights became non-finite by step {trainer.global_step} (epoch {trainer.epoch + 1}); "
                                 f"no checkpoint was written with them, the last good one is kept; lower train.optimizer.lr")
        if not self.write:
            return
        state = self.capture(trainer, step_in_epoch)
        if best:
            save_checkpoint(self.folder / "best.safetensors", state)
        save_checkpoint(self.folder / f"step-{trainer.global_step:08d}.safetensors", state)
        for _, old in step_checkpoints(self.folder)[self.keep:]:
            old.unlink(missing_ok=True)

    # hooks
    def on_train_begin(self, trainer):
        if self.write:
            clean_partial_writes(self.folder)
        ckpt, self.resume = self.resume, None
        if ckpt is None:
            return
        s = ckpt.state
        others = [cb for cb in trainer.callbacks if cb is not self]
        for cb in others:
            key = _callback_key(others, cb)
            if key in s["callbacks"]:
                load_callback_state(cb, s["callbacks"][key])
        sampler = getattr(self.loader, "sampler", None)
        if s.get("sampler") is not None and hasattr(sampler, "load_state_dict"):
            sampler.load_state_dict(s["sampler"])
        self.loader.generator.set_state(s["generators"]["data_order"])
        aug = getattr(self.loader, "augment_generator", None)
        if aug is not None and s["generators"]["augment"] is not None:
            aug.set_state(s["generators"]["augment"])
        totals = s["epoch_totals"]
        self.loss_sum = torch.tensor(totals["loss_sum"], dtype=torch.float32)
        self.correct, self.seen = totals["correct"], totals["seen"]
        self.best, self.monitor = s["best"]["value"], s["best"]["monitor"]
        trainer.stop_training = bool(s["stop_training"])
        set_rng_state(s["rng"])

    def on_epoch_begin(self, trainer, epoch):
        self.epoch_start_generator = self.loader.generator.get_state()
        if trainer.resume_position is None:
            self.loss_sum = torch.zeros((), dtype=torch.float32)
            self.correct, self.seen = 0, 0

    def on_batch_end(self, trainer, step, logs):
        if not logs.get("skipped"):
            n = logs["batch_size"]
            self.loss_sum += torch.tensor(logs["loss"], dtype=torch.float32) * n  # the loop's own float32 sum
            self.correct += round(logs["accuracy"] * n)
            self.seen += n
        _fault("kill_at_step", trainer.global_step)
        if self.every_steps and trainer.global_step % self.every_steps == 0 and step + 1 < trainer.steps_per_epoch:
            self._save(trainer, step + 1)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor is None:
            self.monitor = "val_accuracy" if logs.get("val_accuracy") is not None else (
                "val_loss" if logs.get("val_loss") is not None else "train_loss")
        value = logs.get(self.monitor)
        better = value is not None and (self.best is None or (value > self.best if self.monitor.endswith("accuracy") else value < self.best))
        if better:
            self.best = value
        self._save(trainer, 0, best=better)


# -- wiring into fit, and resume ----------------------------------------------------------

def attach(trainer, config: dict, out: Path, prepared, resume: Checkpoint | None = None) -> None:
    """Add the non-finite guard and the checkpointer to a trainer; restore ``resume``; set up DDP if running."""
    from nnforge.train import distributed
    from nnforge.train.nonfinite import NonFiniteGuard

    train_cfg = config["train"]
    ddp = distributed.is_active()
    if resume is not None:
        restore_trainer(trainer, resume, out)
    if ddp:
        distributed.setup_trainer(trainer, prepared)
    trainer.callbacks.append(NonFiniteGuard(train_cfg["nonfinite"], train_cfg["optimizer"]["lr"]))
    ck = train_cfg["checkpoint"]
    if ck["enabled"] or resume is not None:
        trainer.callbacks.append(Checkpointer(Path(out) / "checkpoints", prepared.train_batches, ck["every_steps"], ck["keep"],
                                              resume, write=ck["enabled"] and distributed.rank() == 0))


def restore_trainer(trainer, ckpt: Checkpoint, out: Path) -> None:
    """Put the model, optimizer, schedule and position back; the rest follows in ``on_train_begin``."""
    s = ckpt.state
    try:
        unwrap(trainer.model).load_state_dict(s["model"])
        trainer.optimizer.load_state_dict(s["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise RunError(f"checkpoint {ckpt.path} does not fit this recipe's model or optimizer ({str(exc).splitlines()[0]})") from None
    trainer.schedule.load_state_dict(s["scheduler"])
    pos = ckpt.position
    trainer.epoch, trainer.global_step = pos["epoch"], pos["global_step"]
    trainer.history = list(s["history"])
    trainer.resumed = True
    if pos["step_in_epoch"]:
        t = s["epoch_totals"]
        trainer.resume_position = EpochPosition(pos["step_in_epoch"], t["loss_sum"], t["correct"], t["seen"])
    # metrics.jsonl may hold epochs (or half a line) written after this checkpoint: rewrite it from the history
    io.write_text(Path(out) / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in trainer.history))
    for step, path in step_checkpoints(Path(out) / "checkpoints"):
        if step > pos["global_step"] and path != ckpt.path:
            path.unlink(missing_ok=True)  # unreadable or beyond the state we continue from


# keys a resumed run may change: how long it trains, where and how it reports, how it checkpoints
RESUMABLE_CHANGES = ("train.epochs", "train.progress", "train.checkpoint", "device", "threads")


def _differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip(".")


def check_same_recipe(config: dict, saved: dict, run_dir: Path) -> None:
    for key in _differences(config, saved):
        if not any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES):
            raise RunError(f"'{key}' differs from the run's config.yaml in {run_dir}; a resumed run keeps its recipe "
                           f"(it may change only {', '.join(RESUMABLE_CHANGES)})")


def resume_run(config: dict | None, out: str | Path | None):
    """Continue the run in ``out`` from its newest readable checkpoint; returns the finished :class:`Run`.

    ``config`` None means the run's own ``config.yaml``.
    """
    from nnforge.config import load_config
    from nnforge.train.fit import fit

    if out is None:
        raise RunError("--resume needs the run directory: nnforge train --resume RUN (or CONFIG --out RUN --resume)")
    out = Path(out)
    if not (out / "config.yaml").is_file():
        raise RunError(f"'{out}' is not a run directory (no config.yaml); pass the --out folder of an earlier `nnforge train`")
    if (out / "metrics.json").exists():
        raise RunError(f"'{out}' is a finished run (metrics.json exists); nothing to resume")
    saved = load_config(out / "config.yaml")
    if config is None:
        config = saved
    check_same_recipe(config, saved, out)
    if config["engine"] != "torch":
        raise RunError("--resume continues torch runs; engine 'scratch' has no checkpoints (train it again)")
    if config.get("task") == "forecast":
        raise RunError("--resume continues classification runs; a forecast run writes no checkpoints (train it again: it takes seconds)")
    return fit(config, out, resume=latest_checkpoint(out))
