"""Dynamic micro-batching: concurrent requests share one forward pass.

Requests put their (already preprocessed) examples in a queue on the event loop. One drain task
takes everything queued — up to ``max_batch`` examples — and runs the forward pass in a single
inference thread, so the event loop keeps accepting and parsing requests meanwhile. Requests that
arrive during a forward pass are taken together by the next one: under load batches grow by
themselves, and at low load a lone request runs at once. ``max_wait_s`` > 0 additionally holds
a batch that is not yet full for that long, trading a little latency for larger batches.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from collections import deque
from typing import Callable

import numpy as np


class MicroBatcher:
    def __init__(self, forward: Callable[[np.ndarray], np.ndarray], max_batch: int = 32,
                 max_wait_s: float = 0.0, on_batch: Callable[[int], None] | None = None):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.forward = forward
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._queue: deque[tuple[np.ndarray, asyncio.Future]] = deque()
        self._queued = 0
        self._full: asyncio.Event | None = None
        self._draining = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnforge-infer")

    async def submit(self, x: np.ndarray) -> np.ndarray:
        """Outputs for the examples ``x`` (first axis), computed in some shared batch."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((x, future))
        self._queued += len(x)
        if self._full is not None and self._queued >= self.max_batch:
            self._full.set()
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.max_wait_s > 0 and self._queued < self.max_batch:
                    self._full = asyncio.Event()
                    try:
                        await asyncio.wait_for(self._full.wait(), self.max_wait_s)
                    except asyncio.TimeoutError:
                        pass
                    self._full = None
                items, count = self._take()
                if not items:
                    continue
                x = items[0][0] if len(items) == 1 else np.concatenate([i[0] for i in items])
                if self.on_batch is not None:
                    self.on_batch(count)
                try:
                    out = await loop.run_in_executor(self._executor, self.forward, x)
                except Exception as exc:  # a failing model fails its batch, never the service
                    for _, future in items:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for xi, future in items:
                    n = len(xi)
                    if not future.done():
                        future.set_result(out[start : start + n])
                    start += n
        finally:
            self._draining = False

    def _take(self) -> tuple[list, int]:
        """Queued requests, oldest first, up to max_batch examples (a larger single request goes alone)."""
        items, count = [], 0
        while self._queue:
            x, future = self._queue[0]
            if future.done():  # timed out or cancelled while waiting: skip its work
                self._queue.popleft()
                self._queued -= len(x)
                continue
            if items and count + len(x) > self.max_batch:
                break
            self._queue.popleft()
            self._queued -= len(x)
            items.append((x, future))
            count += len(x)
        return items, count

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
