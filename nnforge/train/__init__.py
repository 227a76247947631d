"""Training: one entry (:func:`run`, also called :func:`fit`), one loop (:class:`Trainer`), the engines
that drive a model (torch, scratch), the tasks that say what is learned (classify, forecast), and
the callbacks that every technique plugs in as."""

from nnforge.rundir import Run
from nnforge.train.callbacks import Callback
from nnforge.train.run import fit, prepare, resume_run, run
from nnforge.train.trainer import Trainer

__all__ = ["Callback", "Run", "Trainer", "fit", "prepare", "resume_run", "run"]
