"""Which run a command line meant, when a shell glob handed it several.

``nnforge eval runs/quickstart-*`` after two quickstarts reaches nnforge as two run directories:
the shell expanded the glob. Taken literally that is an ensemble (eval) or a run plus stray
files (predict, explain, report, serve). Runs named the way ``nnforge train`` names them by
default (``RECIPE-YYYYMMDD-HHMMSS``), several of one recipe side by side, are almost always a
glob; the commands refuse them with a message naming the newest, instead of guessing.
"""

from __future__ import annotations

import re
from pathlib import Path

from nnforge.errors import RunError

DEFAULT_NAME = re.compile(r"^(?P<recipe>.+)-\d{8}-\d{6}(?:-\d+)?$")


def finished_at(run: Path) -> float:
    """When a run finished: its metrics.json's (else model.json's, else the folder's) mtime."""
    for name in ("metrics.json", "model.json"):
        if (run / name).is_file():
            return (run / name).stat().st_mtime
    return run.stat().st_mtime


def newest(runs) -> Path:
    runs = [Path(r) for r in runs]
    if not runs:
        raise RunError("no run directories found under runs/; train one first (nnforge quickstart)")
    return max(runs, key=lambda r: (finished_at(r), r.name))


def runs_in(folder: str | Path = "runs") -> list[Path]:
    """The finished runs (folders with a model.json) directly inside ``folder``."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and (p / "model.json").is_file()) \
        if folder.is_dir() else []


def looks_like_a_glob(paths) -> str | None:
    """``PARENT/RECIPE-*`` when ``paths`` are two or more default-named runs of one recipe in
    one folder (what a shell makes of that glob); None otherwise."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2 or not all(p.is_dir() for p in paths):
        return None
    matches = [DEFAULT_NAME.match(p.name) for p in paths]
    if not all(matches) or len({m["recipe"] for m in matches}) != 1 or len({p.parent for p in paths}) != 1:
        return None
    return str(paths[0].parent / f"{matches[0]['recipe']}-*")


def refuse_glob(paths, also: str = "") -> None:
    """Raise a :class:`RunError` naming the newest run when ``paths`` look like one glob's matches;
    ``also`` is appended to the message, with ``{newest}`` replaced by that run."""
    pattern = looks_like_a_glob(paths)
    if pattern is None:
        return
    best = newest(paths)
    latest = best.parent / "latest"
    link = f" (also reachable as {latest})" if latest.is_symlink() and latest.resolve() == best.resolve() else ""
    raise RunError(f"{pattern} matched {len(paths)} runs; pass one: the newest is {best}{link}{also.replace('{newest}', str(best))}")
