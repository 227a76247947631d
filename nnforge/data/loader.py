"""Batching tensors without a per-sample Python loop.

A ``torch.utils.data.DataLoader`` calls ``__getitem__`` once per sample and collates the
results; for data already in memory that is most of the cost of a small model's epoch. Here a
batch is one fancy-indexing operation on the whole tensor.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

#: the most memory :func:`transformed_once` spends on a transformed copy of a split
TRANSFORM_ONCE_BYTES = 512 * 2**20


def transformed_once(x: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor] | None, chunk: int = 4096,
                     max_bytes: int = TRANSFORM_ONCE_BYTES) -> tuple[torch.Tensor, Callable | None]:
    """``(transform(x), None)``, computed once, when the result takes at most ``max_bytes``; else ``(x, transform)``.

    For a transform that gives each row the same result every time (preprocessing, not
    augmentation): applied per batch, every epoch redoes it (for the seed MLP, standardising a
    batch of uint8 digits cost as much as the non-finite guard). Rows are transformed in chunks,
    so the peak is the result plus one chunk; each row's values are those of the per-batch path.
    """
    if transform is None or not len(x):
        return x, transform
    first = transform(x[:chunk])
    if first.element_size() * first[0].numel() * len(x) > max_bytes:
        return x, transform
    out = torch.empty((len(x), *first.shape[1:]), dtype=first.dtype, device=first.device)
    out[:chunk] = first
    for start in range(chunk, len(x), chunk):
        out[start:start + chunk] = transform(x[start:start + chunk])
    return out, None


class TensorLoader:
    """Yields ``(x, y)`` batches from in-memory tensors.

    ``shuffle`` draws a new order each epoch from ``generator`` (so a seeded run repeats
    exactly); ``transform`` is applied to each input batch (preprocessing, augmentation), then
    ``mix`` (mixup, cutmix: :mod:`nnforge.data.mix`), when given, to the batch and its targets.
    ``indices``, when given, fixes which rows are used (samplers for class balance use this).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        drop_last: bool = False,
        mix: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    ):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.transform = transform
        self.drop_last = drop_last
        self.mix = mix
        self.sampler: Callable[[torch.Generator], torch.Tensor] | None = None
        self.augmentation = None  # the training transform, when it augments (switched off for clean epochs)
        self.augment_generator: torch.Generator | None = None  # its generator (checkpoints save its state)

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        """Examples per epoch. A sampler's count is that of one draw, taken without moving the generator:
        before, each ``len(loader)`` drew an order and so changed every later epoch's (an engine that
        asked for the length trained on other batches than one that did not)."""
        if self.sampler is None:
            return len(self.x)
        state = self.generator.get_state()
        try:
            return len(self.epoch_order())
        finally:
            self.generator.set_state(state)

    def epoch_order(self) -> torch.Tensor:
        if self.sampler is not None:
            return self.sampler(self.generator)
        if self.shuffle:
            return torch.randperm(len(self.x), generator=self.generator)
        return torch.arange(len(self.x))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.epoch_order()
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        gather = self.shuffle or self.sampler is not None
        order = order.to(self.x.device) if gather else order
        for start in range(0, stop, self.batch_size):
            if gather:  # index_select: a third of the cost of x[idx] for a batch of 64 (one kernel, no indexing machinery)
                idx = order[start : start + self.batch_size]
                xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            else:
                xb, yb = self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]
            if self.transform is not None:
                xb = self.transform(xb)
            if self.mix is not None:
                xb, yb = self.mix(xb, yb)
            yield xb, yb
