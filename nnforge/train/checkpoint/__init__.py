"""Checkpoints, split by job: the file format (:mod:`.format`), the callback that writes and restores
them (:mod:`.callback`), and what ``--resume`` does with a run directory (:mod:`.resume`)."""

from nnforge.train.checkpoint.callback import Checkpointer, EpochPosition
from nnforge.train.checkpoint.format import (Checkpoint, decode_state, encode_state, latest_checkpoint, load_checkpoint,
                                             save_checkpoint, step_checkpoints)
from nnforge.train.checkpoint.resume import RESUMABLE_CHANGES, check_same_recipe, plan_resume

__all__ = ["Checkpoint", "Checkpointer", "EpochPosition", "decode_state", "encode_state", "latest_checkpoint", "load_checkpoint",
           "save_checkpoint", "step_checkpoints", "RESUMABLE_CHANGES", "check_same_recipe", "plan_resume"]
