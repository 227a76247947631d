"""Trackers as callbacks of the one loop: ``train.loggers: [tensorboard, mlflow, csv]``.

``metrics.jsonl`` is always written (:class:`~nnforge.train.callbacks.JSONLLogger`); each name in
``train.loggers`` adds one more callback, so every engine, task, ``--nproc`` run (rank 0 only)
and ``tune`` trial logs the same way. ``csv`` is the same :class:`~nnforge.train.callbacks.CSVLogger`
that the older ``train.log_csv: true`` asks for. TensorBoard and MLflow come with the ``track``
extra; asking for one that is not installed is refused before the run folder exists.
"""

from __future__ import annotations

from nnforge.train.tracking.loggers import check_loggers, logger_callbacks, wanted_loggers

__all__ = ["check_loggers", "logger_callbacks", "wanted_loggers"]
