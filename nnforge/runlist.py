"""Every run under a folder, one row each: what ``nnforge runs`` prints, ``nnforge.runs()`` returns
and ``nnforge compare`` reads.

Only the run directories are read (through :mod:`nnforge.rundir`'s readers), so the table works
with no logger configured and for runs trained anywhere. A run's status comes from its files:
``finished`` (``metrics.json``), ``failed`` (``failed.json``, written by ``train.run`` when training
raised), ``running`` (a live process holds its lock), ``partial`` (started, stopped: resumable), or
``damaged`` (a file it needs is unreadable; the reason is in :attr:`RunInfo.problem`). Folders that
hold no run are skipped with a note; folders of runs (a ``tune`` study's trials) are walked into.

Which way is better, for sorting and for marking the best of a column, is read from a metric's
name (:func:`direction`): accuracy-like names (accuracy, F1, precision, recall, skill, AUC, R²) are
better higher; losses, errors and seconds are better lower; anything else (epochs, parameters, a
recipe key) has no better side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import yaml

from nnforge.config import load_yaml
from nnforge.errors import ConfigError, RunError, UserError, did_you_mean
from nnforge.io import is_number
from nnforge.rundir import CONFIG, FAILED, lock_holder, read_failure, read_history, read_metrics, read_recipe, state

#: Each task's test metric, the one a run is judged by (tests/test_runlist.py checks every task has one).
HEADLINE = {"classify": "test_accuracy", "forecast": "test_mae", "regress": "test_rmse", "contrastive": "probe_accuracy"}
HIGHER = ("accuracy", "f1", "precision", "recall", "skill", "auc", "r2")
LOWER = ("loss", "mae", "rmse", "mse", "error", "seconds", "perplexity")
#: the table's columns, in order; each is also a key for sorting and filtering
COLUMNS = ("name", "dataset", "model", "engine", "epochs", "metric", "train_seconds", "parameters", "started", "status")
MAX_DEPTH = 3  # runs/tune-STUDY/trial-000 is two levels down


class MissingKey(UserError):
    """A --sort or --filter key that no listed run has."""


def direction(name: str) -> int:
    """+1 when a larger value of metric ``name`` is better, -1 when a smaller one is, 0 when neither
    (epochs, a recipe key): read from the name's words, e.g. ``test_accuracy`` +1, ``val_loss`` -1."""
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    if words & set(HIGHER):
        return 1
    if words & set(LOWER):
        return -1
    return 0


_MISSING = object()


def at_path(data: Any, dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; :data:`_MISSING` where the path leads nowhere."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys (``{"train": {"epochs": 3}}`` -> ``{"train.epochs": 3}``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@dataclass(frozen=True)
class RunInfo:
    """One run directory as :func:`list_runs` (and ``nnforge.runs()``) sees it."""

    dir: Path
    state: str  # rundir.state: complete, partial (or other, for a damaged folder)
    task: str | None
    metrics: dict
    epochs: int  # epochs finished
    status: str = "finished"  # finished, partial, running, failed, damaged
    name: str = ""  # the folder, relative to the listed root
    recipe: dict = field(default_factory=dict)  # the resolved recipe as plain data ({} when unreadable)
    started: datetime | None = None  # when config.yaml was written
    problem: str | None = None  # why it failed or is damaged, in one line

    def __repr__(self) -> str:
        """One line per run, as ``nnforge runs`` shows it (the dataclass's own repr held the whole
        recipe and metrics: ``nnforge.runs()`` in a notebook printed kilobytes per run)."""
        problem = f", problem={self.problem!r}" if self.problem else ""
        return f"RunInfo('{self.dir}', status={self.status!r}, score={self.score!r}, epochs={self.epochs}{problem})"

    @property
    def headline(self) -> tuple[str | None, float | None]:
        """The task's test metric and its value (None where the run has none)."""
        key = HEADLINE.get(self.task or "")
        value = self.metrics.get(key) if key else None
        return key, value if isinstance(value, (int, float)) else None

    @property
    def dataset(self) -> str | None:
        """``data.name`` of the resolved recipe (None when the recipe could not be read)."""
        name = at_path(self.recipe, "data.name")
        return None if name is _MISSING else name

    @property
    def score(self) -> str:
        key, value = self.headline
        if value is None:
            return "unfinished" if self.status != "finished" else "?"
        return ("test " if key.startswith("test_") else "") + format_metric(key, value, label=True)  # "test accuracy 95.30%"

    def value(self, key: str) -> Any:
        """A column, a ``metrics.json`` key, or a dotted recipe key (in that order); ``_MISSING`` if none."""
        if key in COLUMNS:
            return self.row()[key]
        if key in self.metrics:
            return self.metrics[key]
        return at_path(self.recipe, key)

    def row(self) -> dict[str, Any]:
        """The table's cells as plain data (what ``--json`` prints besides metrics and recipe)."""
        def recipe(key: str) -> Any:
            value = at_path(self.recipe, key)
            return None if value is _MISSING else value

        return {
            "name": self.name or self.dir.name, "dataset": recipe("data.name"), "model": recipe("model.name"),
            "engine": recipe("engine"), "epochs": self.epochs, "planned_epochs": recipe("train.epochs"),
            "metric": self.headline[1], "metric_name": self.headline[0],
            "train_seconds": self.metrics.get("train_seconds"), "parameters": self.metrics.get("parameters"),
            "started": self.started.isoformat(timespec="seconds") if self.started else None,
            "status": self.status, "problem": self.problem,
        }

    def to_json(self) -> dict:
        return {**self.row(), "dir": str(self.dir), "task": self.task, "metrics": self.metrics, "recipe": self.recipe}


def format_metric(key: str | None, value: Any, label: bool = False) -> str:
    """``0.953`` -> ``95.30%`` for accuracy-like keys, 4 significant digits otherwise; ``label``
    prefixes the metric's name (``accuracy 95.30%``, ``MAE 12.4``)."""
    if not is_number(value):
        return "-" if value is None or value is _MISSING else str(value)
    name = (key or "").removeprefix("test_")
    text = f"{value:.2%}" if "accuracy" in name else f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
    if not label:
        return text
    return f"{name.upper() if name in ('mae', 'rmse', 'mse') else name} {text}"


def read_run(folder: Path, root: Path | None = None) -> RunInfo:
    """One run directory as a :class:`RunInfo`; unreadable files make it ``damaged``, never an exception."""
    folder = Path(folder)
    name = str(folder.relative_to(root)) if root is not None else folder.name
    kind = state(folder)
    problems: list[str] = []
    recipe: dict = {}
    try:
        recipe = read_recipe(folder).to_dict()
    except RunError as exc:
        problems.append(str(exc))
        recipe = _raw_recipe(folder)
    metrics: dict = {}
    if kind == "complete":
        try:
            metrics = read_metrics(folder)
        except RunError as exc:
            problems.append(str(exc))
    history = read_history(folder)
    failure = read_failure(folder)
    if problems:
        status = "damaged"
    elif kind == "complete":
        status = "finished"
    elif failure is not None:
        status = "failed"
        problems.append(f"{failure.get('error', '?')}: {failure.get('message', '')}".rstrip(": "))
    elif lock_holder(folder) is not None:
        status = "running"
    else:
        status = "partial"
    task = metrics.get("task") or (None if at_path(recipe, "task") is _MISSING else at_path(recipe, "task"))
    config = folder / CONFIG
    started = datetime.fromtimestamp((config if config.is_file() else folder).stat().st_mtime)
    epochs = metrics.get("epochs") if isinstance(metrics.get("epochs"), int) else sum(isinstance(h, dict) for h in history)
    return RunInfo(folder, kind, task, metrics, epochs, status, name, recipe, started, problems[0] if problems else None)


def _raw_recipe(folder: Path) -> dict:
    """config.yaml as plain YAML, when it no longer validates (a key renamed since): still worth showing."""
    try:
        raw = load_yaml((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError, ConfigError):  # ConfigError: nested too deeply
        return {}
    return raw if isinstance(raw, dict) else {}


def is_run(folder: Path) -> bool:
    """A folder ``nnforge train`` wrote into: started (config, checkpoints), finished, or failed."""
    return state(folder) in ("complete", "partial") or (folder / FAILED).is_file()


def listed(names: list[str], at_most: int = 5) -> str:
    """``names`` for a note: the first ``at_most``, then how many more."""
    return ", ".join(names[:at_most]) + (f" and {len(names) - at_most} more" if len(names) > at_most else "")


def list_runs(root: str | Path = "runs", notes: list[str] | None = None) -> list[RunInfo]:
    """Every run under ``root``, newest first. Folders holding no run are skipped and named in
    ``notes`` (when given); ``nnforge compare``'s output folders are skipped silently."""
    root = Path(root)
    if not root.is_dir():
        raise RunError(f"'{root}' is not a folder of runs; `nnforge train` writes them under runs/ by default")
    found: list[RunInfo] = []
    skipped: list[str] = []
    _walk(root, root, 1, found, skipped)
    if notes is not None and skipped:
        notes.append(f"skipped {len(skipped)} folder{'s' if len(skipped) > 1 else ''} holding no run: {listed(skipped)}")
    return sorted(found, key=lambda r: (r.started or datetime.min, r.name), reverse=True)


def _walk(folder: Path, root: Path, depth: int, found: list[RunInfo], skipped: list[str]) -> bool:
    any_run = False
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return False
    for child in children:
        if child.name.startswith(".") or child.is_symlink() or not child.is_dir():
            continue  # runs/latest is a link to a run listed under its own name
        try:
            run = is_run(child)
        except OSError:  # a folder we may not read
            skipped.append(str(child.relative_to(root)))
            continue
        if run:
            found.append(read_run(child, root))
            any_run = True
        elif (child / "compare.html").is_file():
            continue
        elif not (depth < MAX_DEPTH and _walk(child, root, depth + 1, found, skipped)):
            skipped.append(str(child.relative_to(root)))
        else:
            any_run = True
    return any_run


# -- choosing and ordering ---------------------------------------------------------------------

FILTER = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|!=|>=|<=|=|>|<)(.*)$")


def _known_keys(runs: Iterable[RunInfo]) -> set[str]:
    keys = set(COLUMNS)
    for r in runs:
        keys |= set(r.metrics) | set(flatten(r.recipe))
    return keys


def _check_key(key: str, runs: list[RunInfo], option: str) -> None:
    if runs and all(r.value(key) is _MISSING for r in runs):
        hint = did_you_mean(key, sorted(_known_keys(runs)), cutoff=0.5)
        raise MissingKey(f"{option} {key}: no listed run has that key{hint}; use a column ({', '.join(COLUMNS)}), "
                         "a metrics.json key or a dotted recipe key")


def _matches(have: Any, op: str, raw: str) -> bool:
    if have is _MISSING or have is None and op not in ("=", "==", "!="):
        return False
    try:
        wanted = load_yaml(raw) if raw.strip() else None
    except (yaml.YAMLError, ConfigError):  # ConfigError: [[[[... nested too deeply
        wanted = raw.strip()
    if isinstance(have, str) or isinstance(wanted, str) and not isinstance(have, (int, float)):
        have, wanted = str(have), raw.strip()
    numbers = all(is_number(v) for v in (have, wanted))
    if op in ("=", "=="):
        return _close(have, wanted) if numbers else have == wanted
    if op == "!=":
        return not (_close(have, wanted) if numbers else have == wanted)
    if not numbers and not (isinstance(have, str) and isinstance(wanted, str)):
        return False
    return {">": have > wanted, "<": have < wanted, ">=": have >= wanted, "<=": have <= wanted}[op]


def _close(a, b) -> bool:
    try:
        return math.isclose(a, b, rel_tol=1e-9)
    except OverflowError:  # an int past a float's range (--filter epochs=<400 digits>): compared exactly
        return a == b


def filter_runs(runs: list[RunInfo], filters: Iterable[str]) -> list[RunInfo]:
    """The runs matching every ``KEY=VALUE`` (also ``!=``, ``>``, ``>=``, ``<``, ``<=``); the value is read
    as YAML like ``--set``'s. Runs without the key never match."""
    for item in filters:
        m = FILTER.match(item)
        if not m:
            raise UserError(f"--filter expects KEY=VALUE (or KEY>=VALUE, KEY!=VALUE ...), e.g. status=finished; got '{item}'")
        key, op, raw = m.groups()
        _check_key(key, runs, "--filter")
        runs = [r for r in runs if _matches(r.value(key), op, raw)]
    return runs


def sort_runs(runs: list[RunInfo], key: str, reverse: bool = False) -> list[RunInfo]:
    """Best first for a metric (by :func:`direction`), newest first for ``started``, ascending
    otherwise; ``reverse`` flips that. Runs without the key come last, in listing order."""
    _check_key(key, runs, "--sort")
    if key == "metric":  # the test metric: one name (and so one direction) for all, or say which
        names = sorted({r.headline[0] for r in runs if r.headline[1] is not None})
        if len(names) > 1:
            raise UserError(f"--sort metric: these runs have different test metrics ({', '.join(names)}); sort by one of them")
        key = names[0] if names else key
    descending = direction(key) > 0 or key == "started"
    if reverse:
        descending = not descending
    have = [r for r in runs if r.value(key) not in (_MISSING, None)]
    rest = [r for r in runs if r.value(key) in (_MISSING, None)]

    def order(r: RunInfo):
        v = r.value(key)
        return (0, v, "") if is_number(v) else (1, 0, str(v))

    return sorted(have, key=order, reverse=descending) + rest


# -- the terminal table --------------------------------------------------------------------------

def text_table(headers: list[str], rows: list[list[str]], right: Iterable[int] = ()) -> str:
    """Columns padded to their widest cell; ``right``: the indexes of right-aligned (number) columns."""
    right = set(right)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    lines = []
    for cells in [headers, *rows]:
        lines.append("  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    return "\n".join(lines)


def runs_table(runs: list[RunInfo]) -> str:
    """The ``nnforge runs`` table."""
    headers = ["name", "dataset", "model", "engine", "epochs", "test metric", "train s", "params", "started", "status"]
    rows = []
    for r in runs:
        c = r.row()
        epochs = str(c["epochs"]) if c["planned_epochs"] in (None, c["epochs"]) else f"{c['epochs']}/{c['planned_epochs']}"
        status = r.status + (f": {r.problem}" if r.problem and r.status in ("failed", "damaged") else "")
        rows.append([c["name"], c["dataset"] or "?", c["model"] or "?", c["engine"] or "?", epochs,
                     format_metric(c["metric_name"], c["metric"], label=True) if c["metric"] is not None else "-",
                     f"{c['train_seconds']:.1f}" if isinstance(c["train_seconds"], (int, float)) else "-",
                     f"{c['parameters']:,}" if isinstance(c["parameters"], int) else "-",
                     r.started.strftime("%Y-%m-%d %H:%M") if r.started else "-", status])
    return text_table(headers, rows, right=(4, 6, 7))
