"""Checkpoint files written off the training thread: the loop pays for copying the state, not for the disk.

Writing a checkpoint is mostly waiting: the CRCs, serialising and two fsyncs took ~70 ms per
file for the seed MLP on a 2-core machine, against ~120 ms for the epoch itself. So the state is
encoded (its tensors copied) on the training thread, at the step it describes, and one background
thread writes the files in order. At most one write is in flight: a new one waits for the last,
so a run whose disk is slower than its checkpoints is held back instead of piling up copies.

A failed write's error (a full disk is a one-line :class:`~nnforge.errors.StorageError`) is
raised on the training thread at the next checkpoint or at :meth:`wait`, which the checkpoint
callback calls when training ends, normally or not, so a run never returns (or fails) with a
checkpoint still being written.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable


class BackgroundWriter:
    """Runs write jobs one at a time on a thread of its own."""

    def __init__(self):
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def submit(self, job: Callable[[], object]) -> None:
        self.wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnforge-checkpoint")
        self._pending = self._pool.submit(job)

    def wait(self) -> None:
        """Block until the last job is done; re-raise its error here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
