"""Training on several processes: torchrun starts them, DistributedDataParallel keeps them in step.

``nnforge train CONFIG --nproc N`` runs ``python -m torch.distributed.run --standalone
--nproc-per-node N -m nnforge.train.distributed CONFIG --out RUN ...``; on several machines the
same module runs under torchrun's own ``--nnodes/--node-rank/--rdzv-endpoint`` (docs/distributed.md).

What each rank does inside the loop is :mod:`nnforge.train.ddp`. Only rank 0 writes to the run directory; other ranks write into a temporary
folder that is removed. Backend: NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from nnforge.config import load_config
from nnforge.cpus import usable_cpus
from nnforge.errors import UserError
from nnforge.rundir import check_empty, default_run_dir, recipe_path
from nnforge.train.ddp import world_size
from nnforge.train.run import check, run, trained_recipe
from nnforge.train.tasks import TASKS

ERROR_FILE_ENV = "NNFORGE_ERROR_FILE"


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
    if args.resume and args.out is None and Path(args.config).is_dir():
        args.out, config_path = args.config, Path(args.config) / "config.yaml"
    else:
        config_path = recipe_path(args.config)
    out = Path(args.out) if args.out else default_run_dir(config_path.stem)
    check(load_config(config_path, args.set), distributed=True,  # a recipe mistake shows once, as one line
          trained=trained_recipe(out) if args.resume else None)
    if not args.resume:
        check_empty(out)
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


def said_by_processes(summary: str, processes: int) -> str:
    """A task's summary with the process count on its ``trained in`` line (not after a classifier's
    last per-class row, where it read as part of the table)."""
    lines = summary.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("trained in ")), len(lines) - 1)
    lines[at] += f" ({processes} processes)"
    return "\n".join(lines)


def _backend(device: str) -> str:
    return "nccl" if device != "cpu" and torch.cuda.is_available() else "gloo"


def worker(argv: list[str] | None = None) -> int:
    """One rank: join the process group, train with :func:`nnforge.train.run`, rank 0 reports."""
    p = argparse.ArgumentParser(prog="python -m nnforge.train.distributed", description="one rank of a DDP run (start with torchrun)")
    p.add_argument("config")
    p.add_argument("--out", required=True)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--resume", action="store_true")
    args = p.parse_args(argv)
    r = int(os.environ.get("RANK", "0"))
    scratch = None
    try:
        recipe = load_config(args.config, args.set)
        if _backend(recipe.device) == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(_backend(recipe.device))
        if r == 0:
            result = run(recipe, args.out, resume=args.resume, name=Path(args.config).stem)
            print(f"{said_by_processes(TASKS[recipe.task]().summary(result.metrics), world_size())}\nrun directory: {result.dir}")
        else:
            recipe = recipe.with_overrides({"train.progress": "none"})
            scratch = tempfile.mkdtemp(prefix=f"nnforge-rank{r}-")
            if args.resume:  # continue from rank 0's checkpoint, writing nothing of our own
                shutil.copytree(Path(args.out) / "checkpoints", Path(scratch) / "run" / "checkpoints")
                shutil.copy(Path(args.out) / "config.yaml", Path(scratch) / "run" / "config.yaml")
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # rank 0 says what the data and run did
                run(recipe, Path(scratch) / "run", resume=args.resume)
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
