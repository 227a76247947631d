"""DistributedDataParallel inside one rank: which rank this is, the rank's share of each batch, the
loss scaled so that DDP's gradient average is the global batch's mean, and epoch metrics made global.

Each process (rank) trains a copy of the model on its share of every batch: the seeded global
order is cut into global batches of ``data.batch_size`` and each global batch into N equal,
contiguous pieces, so per-rank batch = global batch / N. DDP averages the gradients, and the
loss of a short last batch is weighted so that the average is the mean over the global batch,
as in one process. Starting the ranks is :mod:`nnforge.train.distributed`'s job.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from nnforge.data import TensorLoader
from nnforge.errors import ConfigError
from nnforge.train.callbacks import Callback


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


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
    """A :class:`TensorLoader` that yields one rank's part of each global batch of ``base`` (same generator)."""

    def __init__(self, base: TensorLoader, r: int, world: int):
        if base.batch_size % world:
            raise ConfigError(f"'data.batch_size' is {base.batch_size}; with --nproc {world} it must be divisible by {world}")
        super().__init__(base.x, base.y, base.batch_size // world, shuffle=base.shuffle, generator=base.generator,
                         transform=base.transform, drop_last=base.drop_last, mix=base.mix)
        self.augment_generator = base.augment_generator
        self.augmentation = base.augmentation  # switched off for data.augment.clean_epochs, as on one process
        self.base, self.world = base, world
        self.sampler = lambda generator: rank_share(base.epoch_order(), base.batch_size, world, r)

    def __len__(self) -> int:
        if self.base.sampler is not None:
            return super().__len__()
        n, global_batch = len(self.x), self.base.batch_size
        return n // global_batch + (n % global_batch >= self.world)  # a tail shorter than world is left out


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
    """Turns each rank's training loss (and the task's metrics) into the whole epoch's, before anything logs them."""

    def __init__(self, metrics=("accuracy",)):
        self.keys = ["train_loss", *(f"train_{m}" for m in metrics)]
        self.seen = 0

    def on_batch_end(self, trainer, step, logs):
        self.seen = logs["seen"]  # this rank's examples in the epoch so far (skipped steps left out)

    def on_epoch_end(self, trainer, epoch, logs):
        device = torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")
        sums = torch.tensor([logs[k] * self.seen for k in self.keys] + [float(self.seen)], dtype=torch.float64, device=device)
        dist.all_reduce(sums)
        seen = max(1.0, sums[-1].item())
        for i, k in enumerate(self.keys):
            logs[k] = sums[i].item() / seen
        logs["samples_per_second"] = round(logs["samples_per_second"] * world_size(), 1)


def setup_trainer(trainer, data) -> None:
    """Shard the training batches, wrap the engine's model in DDP, and make the logged metrics global."""
    from torch.nn.parallel import DistributedDataParallel

    r, world = rank(), world_size()
    engine = trainer.engine
    data.train = ShardedLoader(data.train, r, world)
    device = engine.device
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    engine.model = DistributedDataParallel(engine.model, device_ids=ids)
    engine.loss_fn = GlobalMeanLoss(engine.loss_fn, data.train.batch_size, world)
    trainer.callbacks.insert(0, GlobalEpochMetrics(trainer.task.metrics))
