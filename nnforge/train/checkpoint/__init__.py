"""Checkpoints, split by job: the file format (:mod:`.format`), the callback that writes and restores
them (:mod:`.callback`), and what ``--resume`` does with a run directory (:mod:`.resume`)."""

from nnforge.train.checkpoint.callback import Checkpointer
from nnforge.train.checkpoint.format import (Checkpoint, decode_state, encode_state, latest_checkpoint, load_checkpoint,
                                             save_checkpoint, step_checkpoints)
from nnforge.train.checkpoint.resume import plan_resume

__all__ = ["Checkpoint", "Checkpointer", "decode_state", "encode_state", "latest_checkpoint", "load_checkpoint",
           "save_checkpoint", "step_checkpoints", "plan_resume"]
