"""``train.loggers: [tensorboard]``: TensorBoard event files in ``RUN/tensorboard/``.

Written with PyTorch's standard :class:`torch.utils.tensorboard.SummaryWriter`, so
``tensorboard --logdir runs/`` shows every run, live while it trains: per-step loss and LR
(``step/*``), per-epoch train/val metrics (``epoch/*``, step = epoch), per-layer gradient norms
when ``train.gradients.log_norms`` measures them (``grad_norm/*``), the run's plots as images at
the end, and the flattened recipe with the final metrics in the HParams view (written into this
run's own event file, not a sub-run, so the HParams table has one row per run).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge.train.callbacks import Callback
from nnforge.runlist import flatten
from nnforge.train.tracking.params import scalars

#: the plots a task leaves in the run directory, shown under Images
PLOTS = ("curves.png", "confusion.png", "forecast.png")


def _hparam(value):
    """HParams take numbers, text and booleans; lists and the like go as their text."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class TensorBoardLogger(Callback):
    def __init__(self, logdir: str | Path, recipe):
        self.logdir, self.recipe = Path(logdir), recipe
        self.writer = None

    def _open(self, trainer):
        """Opened at the first epoch, once a resumed run knows its step from the checkpoint (the
        checkpoint callback restores it after the loggers begin): the events a killed run wrote
        after that step are dropped, so no step appears twice."""
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.logdir), purge_step=trainer.global_step + 1 if trainer.resumed else None)
        return self.writer

    def on_epoch_begin(self, trainer, epoch):
        self._open(trainer)

    def on_batch_end(self, trainer, step, logs):
        if logs.get("skipped"):
            return
        self.writer.add_scalar("step/loss", logs["loss"], trainer.global_step)
        self.writer.add_scalar("step/lr", trainer.engine.lr(), trainer.global_step)

    def on_epoch_end(self, trainer, epoch, logs):
        for key, value in scalars(logs).items():
            if key != "epoch":
                self.writer.add_scalar(f"epoch/{key}", value, epoch + 1)
        for cb in trainer.callbacks:
            for layer, norm in getattr(cb, "epoch_norms", {}).items():
                self.writer.add_scalar(f"grad_norm/{layer}", norm, epoch + 1)
        self.writer.flush()

    def on_train_end(self, trainer):
        self._open(trainer).flush()

    def on_run_end(self, trainer, metrics):
        from PIL import Image
        from torch.utils.tensorboard.summary import hparams

        out = self.logdir.parent
        for name in PLOTS:
            if (out / name).is_file():
                with Image.open(out / name) as im:
                    pixels = np.asarray(im.convert("RGB"))
                self.writer.add_image(f"plots/{Path(name).stem}", pixels, trainer.epoch, dataformats="HWC")
        finals = {f"final/{k}": v for k, v in scalars(metrics).items()}
        params = {k: _hparam(v) for k, v in flatten(self.recipe.to_dict()).items()}
        for summary in hparams(params, finals):
            self.writer.file_writer.add_summary(summary)
        for key, value in finals.items():
            self.writer.add_scalar(key, value, trainer.epoch)
        self.writer.close()
