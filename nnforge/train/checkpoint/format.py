"""The checkpoint file format: one safetensors file per checkpoint, no pickle.

The tensors (model, optimizer, RNG and generator states, callback tensors; NumPy arrays of the
scratch engine too) are stored as tensors, everything else as JSON in the file's header. It is
written with :func:`nnforge.io.atomic_write` (temporary file, fsync, rename), so a crash leaves
the previous file or the new one, never a torn one; a CRC32 per tensor catches later damage.

``RUN/checkpoints/`` holds ``step-NNNNNNNN.safetensors`` (the newest ``train.checkpoint.keep``)
and ``best.safetensors`` (the best epoch by the run's monitored metric).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnforge import io
from nnforge.io import is_number
from nnforge.errors import RunError

FORMAT = 1
META_KEY = "nnforge.checkpoint"
STEP_FILE = re.compile(r"^step-(\d+)\.safetensors$")
BEST_FILE = "best.safetensors"
POSITION = ("epoch", "step_in_epoch", "global_step", "epochs")
SECTIONS = ("position", "epoch_totals", "history", "stop_training", "best", "engine", "callbacks", "generators", "rng")


# -- state <-> (JSON, tensors) ------------------------------------------------------------

def encode_state(obj, tensors: dict[str, torch.Tensor], prefix: str = "t"):
    """A JSON-able mirror of ``obj`` with every tensor/array moved into ``tensors`` by key."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = torch.from_numpy(obj.astype(np.int64) if obj.dtype == np.uint32 else obj.copy())
        return {"__ndarray__": key, "dtype": str(obj.dtype)}
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [encode_state(v, tensors, prefix) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_state(v, tensors, prefix) for k, v in obj.items()}
        return {"__dict__": [[encode_state(k, tensors, prefix), encode_state(v, tensors, prefix)] for k, v in obj.items()]}
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}")


def decode_state(obj, tensors: dict[str, torch.Tensor]):
    if isinstance(obj, list):
        return [decode_state(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        dtype = np.dtype(obj["dtype"])
        if dtype.kind not in "biufc":  # what encode_state writes; an edited 'S1000000000' would allocate 1 GB per element
            raise ValueError(f"array dtype {dtype} is not a number type")
        return tensors[obj["__ndarray__"]].numpy().astype(dtype)
    if "__tuple__" in obj:
        return tuple(decode_state(v, tensors) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {decode_state(k, tensors): decode_state(v, tensors) for k, v in obj["__dict__"]}
    return {k: decode_state(v, tensors) for k, v in obj.items()}


def _crc(t: torch.Tensor) -> int:
    return zlib.crc32(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else 0


# -- files --------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """A loaded checkpoint: its file and its decoded state (``position``, ``model``, ``optimizer``, ...)."""

    path: Path
    state: dict

    @property
    def position(self) -> dict:
        return self.state["position"]


def _fault(event: str, count: int) -> None:
    """Crash tests only: ``NNFORGE_FAULT=kill_at_step:N`` / ``kill_in_write:N`` SIGKILLs this process there."""
    spec = os.environ.get("NNFORGE_FAULT", "")
    if spec and spec == f"{event}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)


_writes = 0


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` atomically as one safetensors file (tensors + a JSON header entry)."""
    return write_encoded(path, *encode_checkpoint(state))


def encode_checkpoint(state: dict) -> tuple[dict[str, torch.Tensor], object]:
    """``state`` as (tensors, JSON body), both copies: the live state may change while they are written."""
    tensors: dict[str, torch.Tensor] = {}
    return tensors, encode_state(state, tensors)


def write_encoded(path: str | Path, tensors: dict[str, torch.Tensor], body) -> Path:
    """Write an :func:`encode_checkpoint` result atomically (the CRCs are computed here)."""
    global _writes
    header = {"format": FORMAT, "state": body, "crc32": {k: _crc(t) for k, t in tensors.items()}}
    meta = {META_KEY: json.dumps(header), "format": "pt"}
    _writes += 1
    count = _writes

    def write(tmp: Path) -> None:
        from safetensors.torch import save_file

        save_file(tensors, str(tmp), metadata=meta)
        _fault("kill_in_write", count)

    return io.atomic_write(path, write)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint; a truncated or damaged file raises :class:`RunError` saying so."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with io.utf8_name(path) as name, safe_open(name, framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunError(f"checkpoint {path} is truncated or corrupt ({exc})") from None
    try:
        header = io.loads_json(meta[META_KEY])
        state, crcs = header["state"], header["crc32"]
        if not isinstance(crcs, dict):  # crcs.get() below: a list or a number was an AttributeError
            raise TypeError("crc32 is not an object")
    except (KeyError, ValueError, TypeError):
        raise RunError(f"checkpoint {path} has no readable nnforge state; it is not an nnforge checkpoint or is damaged") from None
    if header.get("format") != FORMAT:
        raise RunError(f"checkpoint {path} has format {header.get('format')}; this nnforge reads format {FORMAT}")
    for key, t in tensors.items():
        if crcs.get(key) != _crc(t):
            raise RunError(f"checkpoint {path} is corrupt: tensor '{key}' fails its CRC32 check")
    if set(crcs) != set(tensors):
        raise RunError(f"checkpoint {path} is incomplete: tensors are missing")
    try:
        decoded = decode_state(state, tensors)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise RunError(f"checkpoint {path} has a damaged header (its state does not decode); it was edited or is not from this nnforge") from None
    return Checkpoint(path, decoded)


def load_run_checkpoint(path: str | Path) -> Checkpoint:
    """A checkpoint a training run wrote, with the sections resume needs checked (an edited header
    whose CRCs still match is refused here, in one line, instead of failing half-way through a resume)."""
    ckpt = load_checkpoint(path)
    s = ckpt.state
    try:
        missing = [k for k in SECTIONS if k not in s]
        pos = s["position"]
        bad = not all(isinstance(pos[k], int) and not isinstance(pos[k], bool) and pos[k] >= 0 for k in POSITION)
    except (KeyError, TypeError):
        bad, missing = True, []
    if missing:
        raise RunError(f"checkpoint {path} lacks {', '.join(missing)}; it is not a complete nnforge training checkpoint")
    if bad or not _is_history(s["history"]) or not isinstance(s["callbacks"], dict):
        raise RunError(f"checkpoint {path} has a damaged header (position or history); it was edited or is not from this nnforge")
    return ckpt


def _is_history(history) -> bool:
    """Epoch rows as the loop writes them: an epoch number and numbers (or None, no validation) for the rest."""
    return isinstance(history, list) and all(
        isinstance(row, dict) and isinstance(row.get("epoch"), int) and all(v is None or is_number(v) for v in row.values())
        for row in history)


def step_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """``(global_step, path)`` for the step checkpoints in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_FILE.match(p.name)) and p.is_file()]
    return sorted(found, reverse=True)


def latest_checkpoint(run_dir: str | Path, stream=None) -> Checkpoint:
    """The newest readable checkpoint of a run; unreadable ones are reported and skipped, and
    ``best.safetensors`` is the last resort."""
    stream = stream or sys.stderr
    folder = Path(run_dir) / "checkpoints"
    best = folder / BEST_FILE
    problems = []
    for path in [p for _, p in step_checkpoints(folder)] + ([best] if best.is_file() else []):
        try:
            ckpt = load_run_checkpoint(path)
        except RunError as exc:
            problems.append(str(exc))
            if path != best:
                stream.write(f"warning: {exc}; trying the previous checkpoint\n")
            continue
        if path == best and problems:
            pos = ckpt.position
            stream.write(f"warning: every step checkpoint is damaged; restarting from {BEST_FILE} "
                         f"(epoch {pos['epoch']}, step {pos['global_step']})\n")
        return ckpt
    if problems:
        raise RunError(f"no usable checkpoint in {folder}: {'; '.join(problems)}")
    raise RunError(f"no checkpoint in {folder}; a run writes them during training unless train.checkpoint.enabled is false")


def clean_partial_writes(folder: Path) -> None:
    """Remove temporary files that a crash during a write left behind."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
