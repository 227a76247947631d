"""Training on several processes: torchrun starts them, DistributedDataParallel keeps them in step.

``nnforge train CONFIG --nproc N`` runs ``python -m torch.distributed.run --standalone
--nproc-per-node N -m nnforge.train.distributed CONFIG --out RUN ...``; on several machines the
same module runs under torchrun's own ``--nnodes/--node-rank/--rdzv-endpoint`` (docs/distributed.md).

Each process (rank) trains a copy of the model on its share of every batch: the seeded global
order is cut into global batches of ``data.batch_size`` and each global batch into N equal,
contiguous pieces, so per-rank batch = global batch / N. DDP averages the gradients, and the
loss of a short last batch is weighted so that the average is the mean over the global batch,
as in one process. Only rank 0 writes to the run directory; other ranks write into a temporary
folder that is removed. Backend: NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from nnforge.cpus import usable_cpus
from nnforge.data import TensorLoader
from nnforge.errors import ConfigError, UserError
from nnforge.train.callbacks import Callback

ERROR_FILE_ENV = "NNFORGE_ERROR_FILE"


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


# -- the data each rank sees --------------------------------------------------------------

def rank_share(order: torch.Tensor, global_batch: int, world: int, r: int) -> torch.Tensor:
    """Rank ``r``'s indices: its contiguous 1/world of every global batch, in order.

    A last global batch smaller than ``world`` cannot be shared and is left out (every rank must
    take the same number of steps).
    """
    per_rank = global_batch // world
    full = len(order) // global_batch * global_batch
    mine = order[:full].view(-1, world, per_rank)[:, r].reshape(-1)
    tail = order[full:]
    if len(tail) >= world:
        mine = torch.cat([mine, torch.tensor_split(tail, world)[r]])
    return mine


class ShardedLoader(TensorLoader):
    """A :class:`TensorLoader` that yields one rank's part of each global batch (same generator)."""

    def __init__(self, base: TensorLoader, r: int, world: int):
        if base.batch_size % world:
            raise ConfigError(f"'data.batch_size' is {base.batch_size}; with --nproc {world} it must be divisible by {world}")
        super().__init__(base.x, base.y, base.batch_size // world, shuffle=base.shuffle, generator=base.generator,
                         transform=base.transform, drop_last=base.drop_last)
        self.augment_generator = getattr(base, "augment_generator", None)
        self.global_batch, self.rank, self.world = base.batch_size, r, world
        self.global_sampler = base.sampler
        self.sampler = self._share

    def global_order(self, generator: torch.Generator) -> torch.Tensor:
        if self.global_sampler is not None:
            return self.global_sampler(generator)
        if self.shuffle:
            return torch.randperm(len(self.x), generator=generator)
        return torch.arange(len(self.x))

    def _share(self, generator: torch.Generator) -> torch.Tensor:
        return rank_share(self.global_order(generator), self.global_batch, self.world, self.rank)

    def tail(self, n: int) -> int:
        return n % self.global_batch if n % self.global_batch >= self.world else 0

    def __len__(self) -> int:
        if self.global_sampler is not None:
            return super().__len__()
        n = len(self.x)
        return n // self.global_batch + (1 if self.tail(n) else 0)


class GlobalMeanLoss:
    """Scales a rank's mean loss so that DDP's gradient average is the mean over the global batch.

    Full batches are scaled by exactly 1; only a short last batch (pieces of unequal size) asks
    the other ranks how many examples they hold.
    """

    def __init__(self, loss_fn, per_rank: int, world: int):
        self.loss_fn, self.per_rank, self.world = loss_fn, per_rank, world

    def __call__(self, logits, target):
        loss = self.loss_fn(logits, target)
        n = len(target)
        if n == self.per_rank:
            return loss
        total = torch.tensor([float(n)], device=loss.device)
        dist.all_reduce(total)
        return loss * (n * self.world / total.item())


class GlobalEpochMetrics(Callback):
    """Turns each rank's training loss/accuracy into the whole epoch's, before anything logs them."""

    def __init__(self):
        self.seen = 0

    def on_epoch_begin(self, trainer, epoch):
        if trainer.resume_position is None:
            self.seen = 0

    def on_batch_end(self, trainer, step, logs):
        if not logs.get("skipped"):
            self.seen += logs["batch_size"]

    def on_epoch_end(self, trainer, epoch, logs):
        device = torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")
        sums = torch.tensor([logs["train_loss"] * self.seen, logs["train_accuracy"] * self.seen, float(self.seen)],
                            dtype=torch.float64, device=device)
        dist.all_reduce(sums)
        seen = max(1.0, sums[2].item())
        logs["train_loss"], logs["train_accuracy"] = sums[0].item() / seen, sums[1].item() / seen
        logs["samples_per_second"] = round(logs["samples_per_second"] * self.world, 1)

    @property
    def world(self) -> int:
        return world_size()


def setup_trainer(trainer, prepared) -> None:
    """Shard the training batches, wrap the model in DDP, and make the logged metrics global."""
    from torch.nn.parallel import DistributedDataParallel

    r, world = rank(), world_size()
    prepared.train_batches = ShardedLoader(prepared.train_batches, r, world)
    device = prepared.device
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    trainer.model = DistributedDataParallel(trainer.model, device_ids=ids)
    trainer.loss_fn = GlobalMeanLoss(trainer.loss_fn, prepared.train_batches.batch_size, world)
    trainer.callbacks.insert(0, GlobalEpochMetrics())


# -- launching ----------------------------------------------------------------------------

def torchrun_command(nproc: int, worker_args: list[str]) -> list[str]:
    return [sys.executable, "-c", "import sys; from nnforge.train.distributed import torchrun; sys.exit(torchrun(sys.argv[1:]))",
            "--standalone", f"--nproc-per-node={nproc}", "-m", "nnforge.train.distributed", *worker_args]


def torchrun(argv: list[str]) -> int:
    """torchrun itself, without its failure report when a rank has already said what went wrong.

    A data mistake stops every rank with a one-line message (written to the launcher's error
    file); torchrun would then print a traceback and a page of per-rank exit codes after it. Any
    other failure — a rank that crashed without explaining itself — keeps torchrun's report.
    """
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    error_file = os.environ.get(ERROR_FILE_ENV)
    explained = lambda: bool(error_file) and Path(error_file).exists()  # noqa: E731
    # torchrun also logs each rank's exit ("failed (exitcode: 2) local_rank: 1 ..."): not once it is explained.
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("torch")]
    for handler in {h for logger in [logging.getLogger(), *loggers] for h in logger.handlers}:
        handler.addFilter(lambda record: not explained())
    try:
        main(argv)
    except ChildFailedError:
        if explained():
            return 1
        raise
    return 0


def launch(args) -> int:
    """``nnforge train CONFIG --nproc N``: check the recipe here, then start N ranks with torchrun."""
    from nnforge.cli import _recipe_path
    from nnforge.config import load_config
    from nnforge.train.fit import _check_out_dir, default_run_dir

    if args.resume and args.out is None and Path(args.config).is_dir():
        args.out, config_path = args.config, Path(args.config) / "config.yaml"
    else:
        config_path = _recipe_path(args.config)
    load_config(config_path, args.set)  # a recipe mistake shows once, as one line
    out = Path(args.out) if args.out else default_run_dir(config_path.stem)
    if not args.resume:
        _check_out_dir(out)
    worker_args = [str(config_path), "--out", str(out)] + [a for s in args.set for a in ("--set", s)]
    if args.resume:
        worker_args.append("--resume")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, usable_cpus() // args.nproc)))
    with tempfile.TemporaryDirectory() as tmp:
        env[ERROR_FILE_ENV] = str(Path(tmp) / "error.txt")
        rc = subprocess.run(torchrun_command(args.nproc, worker_args), env=env).returncode
        error = Path(env[ERROR_FILE_ENV])
        if error.exists():
            raise UserError(error.read_text(encoding="utf-8").strip())
    if rc != 0:
        raise UserError(f"distributed training failed (torchrun exit status {rc}); see the messages above")
    return 0


def _backend(device: str) -> str:
    return "nccl" if device != "cpu" and torch.cuda.is_available() else "gloo"


def worker(argv: list[str] | None = None) -> int:
    """One rank: join the process group, train with :func:`nnforge.train.fit`, rank 0 reports."""
    from nnforge.config import load_config
    from nnforge.train.checkpoint import latest_checkpoint, resume_run
    from nnforge.train.fit import fit

    p = argparse.ArgumentParser(prog="python -m nnforge.train.distributed", description="one rank of a DDP run (start with torchrun)")
    p.add_argument("config")
    p.add_argument("--out", required=True)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--resume", action="store_true")
    args = p.parse_args(argv)
    r = int(os.environ.get("RANK", "0"))
    scratch = None
    try:
        config = load_config(args.config, args.set)
        if _backend(config["device"]) == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(_backend(config["device"]))
        if r == 0:
            run = resume_run(config, args.out) if args.resume else fit(config, args.out, name=Path(args.config).stem)
            m = run.metrics
            print(f"test accuracy {m['test_accuracy']:.2%} on {m['dataset']} ({world_size()} processes)\n"
                  f"trained in {m['train_seconds']:.1f} s; run directory: {run.dir}")
        else:
            config["train"]["progress"] = "none"
            scratch = tempfile.mkdtemp(prefix=f"nnforge-rank{r}-")
            resume = latest_checkpoint(args.out) if args.resume else None
            fit(config, Path(scratch) / "run", resume=resume)
        return 0
    except UserError as exc:
        if r == 0:
            if os.environ.get(ERROR_FILE_ENV):  # started by `nnforge train --nproc`, which reports it
                Path(os.environ[ERROR_FILE_ENV]).write_text(str(exc), encoding="utf-8")
            else:
                print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(worker())
