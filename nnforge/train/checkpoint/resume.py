"""Resume: what ``--resume`` does with a run directory, so a requeued job can always pass it.

* empty (or missing): start the run;
* partial: continue from the newest readable checkpoint (falling back to older ones and then to
  ``best.safetensors``, with a warning); a run killed before its first checkpoint starts over;
* complete (``metrics.json`` written): say so and change nothing.

A resumed run keeps its recipe: only the keys in :data:`RESUMABLE_CHANGES` may differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nnforge import io
from nnforge.errors import RunError
from nnforge.rundir import CHECKPOINTS, CONFIG, HISTORY, METRICS, check_empty, read_jsonl, read_recipe, state
from nnforge.train.checkpoint.format import BEST_FILE, Checkpoint, latest_checkpoint, step_checkpoints

# keys a resumed run may change: how long it trains, where and how it reports, how it checkpoints
RESUMABLE_CHANGES = ("train.epochs", "train.progress", "train.checkpoint", "device", "threads", "train.max_time")


def _differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip(".")


def check_same_recipe(recipe, saved, run_dir: Path) -> None:
    for key in _differences(recipe.to_dict(), saved.to_dict()):
        if not any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES):
            raise RunError(f"'{key}' differs from the run's {CONFIG} in {run_dir}; a resumed run keeps its recipe "
                           f"(it may change only {', '.join(RESUMABLE_CHANGES)})")


def plan_resume(recipe, out: Path, stream=None) -> tuple[str, Checkpoint | None]:
    """``("start", None)``, ``("continue", checkpoint)`` or ``("done", None)`` for ``--resume`` on ``out``
    (a run stopped before its first checkpoint starts again)."""
    stream = stream or sys.stderr
    kind = state(out)
    if kind == "empty":
        check_empty(out)  # a file where the folder would be: said now, not by mkdir after the data is loaded
        return "start", None
    if kind == "other":
        raise RunError(f"'{out}' is not a run directory (no {CONFIG}); pass the --out folder of an earlier `nnforge train`")
    saved = read_recipe(out)
    check_same_recipe(recipe, saved, out)
    if (out / CHECKPOINTS).exists() and not (out / CHECKPOINTS).is_dir():
        raise RunError(f"'{out / CHECKPOINTS}' is not a folder; a run keeps its checkpoints there: move that file away to resume")
    if kind == "complete" and not stopped_by_time_budget(out):
        return "done", None
    if not step_checkpoints(out / CHECKPOINTS) and not (out / CHECKPOINTS / BEST_FILE).is_file():
        stream.write(f"note: '{out}' stopped before its first checkpoint; starting it again\n")
        return "start", None  # what a crash mid-write left in checkpoints/ goes once the run holds the lock (run)
    return "continue", latest_checkpoint(out, stream)


def stopped_by_time_budget(out: Path) -> bool:
    """A run that ``train.max_time`` stopped is finished but resumable: its checkpoint continues it."""
    try:
        stopped = io.loads_json((out / METRICS).read_text(encoding="utf-8")).get("stopped")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(stopped, dict) and stopped.get("reason") == "max_time" and bool(step_checkpoints(out / CHECKPOINTS))


def prepare_resumed_dir(out: Path, ckpt: Checkpoint) -> None:
    """Make the run directory agree with the checkpoint: ``metrics.jsonl`` may hold epochs (or half a
    line) written after it, and newer step files are unreadable or beyond the state we continue from.
    The per-step rows of ``train.log_lr`` up to the checkpoint stay; a ``metrics.json`` written when
    ``train.max_time`` stopped the run goes (the run is not complete any more)."""
    history = ckpt.state["history"]
    steps = [row for row in read_jsonl(out / HISTORY)
             if isinstance(row, dict) and "epoch" not in row and row.get("step", 1 << 62) <= ckpt.position["global_step"]]
    io.write_text(out / HISTORY, "".join(json.dumps(h) + "\n" for h in history + steps))
    (out / METRICS).unlink(missing_ok=True)
    for step, path in step_checkpoints(out / CHECKPOINTS):
        if step > ckpt.position["global_step"] and path != ckpt.path:
            path.unlink(missing_ok=True)

