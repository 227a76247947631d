"""SIGTERM and SIGINT during training: checkpoint at the next step boundary, then stop.

A cluster that pre-empts a job sends SIGTERM and later SIGKILL; a person presses Ctrl-C. Either
way the run should lose at most one step: the first signal asks the loop to stop after the
current step (``trainer.stop_now``), the checkpoint callback writes the position, and the run
ends with :class:`Interrupted` (a one-line message with the resume command). A second signal
exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from nnforge.errors import RunError
from nnforge.train.callbacks import Callback, Stateless


class Interrupted(RunError):
    """Training stopped on a signal after writing a checkpoint."""

    exit_code = 130


class StopOnSignal(Stateless, Callback):
    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, out, resume_hint: str, checkpointing: bool = True):
        self.out, self.hint, self.checkpointing = out, resume_hint, checkpointing
        self.received: int | None = None
        self.previous: dict = {}

    def _handle(self, signum, frame):
        if self.received is not None:  # the second signal: no more waiting
            sys.stderr.write(f"\n{signal.Signals(signum).name} again: exiting now\n")
            os._exit(128 + signum)
        self.received = signum
        self.trainer.stop_now = True

    def on_train_begin(self, trainer):
        self.trainer = trainer
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def on_train_end(self, trainer):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}
        if self.received is not None:
            name = signal.Signals(self.received).name
            where = f"{name}: stopped at step {trainer.global_step} (epoch {trainer.epoch + 1})"
            if not self.checkpointing:
                raise Interrupted(f"{where}; train.checkpoint.enabled is false, so there is nothing to resume from")
            raise Interrupted(f"{where} after writing a checkpoint; continue with: {self.hint}")
