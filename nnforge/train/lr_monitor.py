"""``train.log_lr: step``: the learning rate of every optimizer step, in ``metrics.jsonl``.

Each step adds a row ``{"step": N, "lr": ...}`` (N counts optimizer steps, from 1) beside the
epoch rows, which are the ones holding an ``epoch`` key (:func:`nnforge.rundir.read_history`
reads those only). Rows are buffered and written after each epoch's last batch (and when the run
stops mid-epoch), so the step rows of an epoch come before its epoch row.
"""

from __future__ import annotations

from pathlib import Path

from nnforge import io
from nnforge.train.accumulate import stepped
from nnforge.train.callbacks import Callback


class LearningRateMonitor(Callback):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict] = []
        self.steps = 0

    def on_batch_end(self, trainer, step, logs):
        if stepped(trainer, step, logs):
            self.steps += 1
            self.rows.append({"step": self.steps, "lr": trainer.engine.lr()})
        if trainer.stop_now or step + 1 == trainer.steps_per_epoch:  # before the epoch's row
            self.flush()

    def flush(self) -> None:
        for row in self.rows:
            io.append_jsonl(self.path, row)
        self.rows = []

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.rows = state["steps"], []
