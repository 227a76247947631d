"""``nnforge compare RUN RUN ...``: what differed between runs, next to what it did.

Three views of the same runs: the **recipe diff** (only the resolved keys whose values differ, one
row per key, one column per run), the **metrics table** (the best of each column marked, by the
direction :func:`nnforge.runlist.direction` reads from the metric's name), and the **curves**
overlaid (loss and each task metric, training solid and validation dashed, one colour per run).
They are printed, drawn to ``compare.png`` and written as one self-contained ``compare.html`` in the
look of ``nnforge report`` (the curves inlined as SVG, so each run's lines are elements of the page).

Runs of different tasks or datasets are refused in one line: their curves share no scale.
"""

from __future__ import annotations

import glob
import hashlib
import html
import io as _io
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from nnforge import io
from nnforge.config import criterion_name, field_at, resolve, unread_option
from nnforge.errors import RunError, UserError
from nnforge.io import is_number
from nnforge.report.html import CSS
from nnforge.report.plots import _pyplot, literal, save_figure
from nnforge.rundir import read_history
from nnforge.runlist import HEADLINE, RunInfo, direction, format_metric, is_run, listed, read_run, text_table

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def colours(n: int) -> list[str]:
    """A colour per run: :data:`COLOURS` for up to 10 runs; for more, ``n`` colours spread over a
    rainbow, so that no two runs share a line colour (and a swatch) in the picture and the page."""
    if n <= len(COLOURS):
        return list(COLOURS[:n])
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return [to_hex(colormaps["turbo"](0.05 + 0.9 * i / (n - 1))) for i in range(n)]


MISSING = object()
#: a value the run's optimizer or schedule never read (momentum for Adam): shown as "—"
NOT_READ = object()
EXTRA_CSS = """
td.best{color:#1a7f37;font-weight:700}td.best::after{content:" \\2605"}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:8px;vertical-align:-1px}
.note{color:#667085;font-size:13px;margin:8px 0 0}table.runs td,table.runs th{text-align:left}
.wide{overflow-x:auto}table.metrics td{white-space:nowrap}table.metrics th{font-size:13px;vertical-align:bottom}.curves svg{width:100%;height:auto}
td code{font-size:13px}
"""


class NotComparable(UserError):
    """Runs whose task or dataset differ: their curves and metrics share no scale."""


@dataclass
class Comparison:
    """What ``nnforge compare`` found: the runs (in the order given), their histories, the recipe
    diff as ``(key, [value per run])``, the metric columns shown, the ones equal in every run, and
    the best run(s) of each column."""

    runs: list[RunInfo]
    histories: list[list[dict]]
    diff: list[tuple[str, list[Any]]]
    columns: list[str]
    same: dict[str, Any]
    best: dict[str, set[int]]
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runs]

    def cell(self, i: int, column: str) -> Any:
        return cell(self.runs[i], column)


def cell(run: RunInfo, column: str) -> Any:
    """A metrics-table cell: the epochs trained and the status from the run, anything else from ``metrics.json``."""
    if column == "epochs":
        return run.epochs
    if column == "status":
        return run.status
    return run.metrics.get(column)


# -- choosing the runs -------------------------------------------------------------------------

def expand(paths: Sequence[str | Path], notes: list[str]) -> list[Path]:
    """The run directories ``paths`` name: a glob the shell left unexpanded is expanded here; folders
    that are not runs (``runs/lr``, a compare folder) and repeats (``runs/latest``) are left out with a note."""
    found: list[Path] = []
    files: list[Path] = []  # one note for them all, not one line each
    seen: set[Path] = set()
    for given in paths:
        text = str(given)
        matches = [Path(p) for p in sorted(glob.glob(text))] if not Path(text).exists() and any(c in text for c in "*?[") else [Path(text)]
        if not matches:
            raise RunError(f"'{text}' matched no run directory")
        for path in matches:
            if not path.exists():
                raise RunError(f"run directory '{path}' not found; pass folders written by `nnforge train`")
            if not path.is_dir():  # runs/tune-STUDY/* also names its best.yaml and pictures
                files.append(path)
                continue
            if not is_run(path):
                inner = sorted(p for p in path.iterdir() if p.is_dir() and is_run(p))
                notes.append(f"skipped '{path}': not a run directory" + (
                    f" (it holds runs, such as '{inner[0]}': pass them, or a glob such as '{path}/*')" if inner else ""))
                continue
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            found.append(path)
    if files:  # runs/tune-STUDY/*: "skipped 5 files in 'runs/tune-STUDY' that are not runs: best.yaml, study.json, ..."
        folders = {p.parent for p in files}
        where = f" in '{folders.pop()}'" if len(folders) == 1 and len(files) > 1 else ""
        names = [p.name if where else str(p) for p in files]
        notes.insert(0, f"skipped {len(files)} file{'s' if len(files) > 1 else ''}{where} that {'are not runs' if len(files) > 1 else 'is not a run'}: "
                        f"{listed(names)}")
    if len(found) < 2:
        raise RunError(f"compare needs two runs or more; got {len(found)}" + (f" ({found[0]})" if found else "")
                       + "".join(f"; {note}" for note in notes[-2:])
                       + "; e.g. nnforge compare runs/cnn runs/mlp, or a glob such as runs/digits_mlp-*")
    return found


def check_comparable(runs: list[RunInfo]) -> None:
    """One line when the runs' tasks or datasets differ (naming two runs that disagree)."""
    for what, get in (("task", lambda r: r.task), ("dataset", lambda r: r.dataset)):
        values = [get(r) for r in runs]
        if len(set(values)) > 1:
            j = next(i for i, v in enumerate(values) if v != values[0])
            raise NotComparable(f"{runs[0].dir} is a {values[0]} run and {runs[j].dir} a {values[j]} run ({what}s differ): "
                                f"their curves and metrics do not compare; compare runs of one {what}")


# -- the three views -----------------------------------------------------------------------------

def recipe_diff(recipes: list[dict], prefix: str = "") -> list[tuple[str, list[Any]]]:
    """The dotted keys whose resolved values differ between ``recipes``, with each recipe's value
    (:data:`MISSING` where a recipe lacks the key). Sections (mappings) are compared key by key, a
    missing one as an empty one; any other value (a list, a scalar) is compared whole."""
    rows: list[tuple[str, list[Any]]] = []
    keys: list[str] = []
    for recipe in recipes:
        keys += [k for k in recipe if k not in keys]
    for key in keys:
        values = [r.get(key, MISSING) for r in recipes]
        if all(isinstance(v, dict) or v is MISSING for v in values) and any(isinstance(v, dict) for v in values):
            rows += recipe_diff([v if isinstance(v, dict) else {} for v in values], f"{prefix}{key}.")
        elif any(v != values[0] for v in values[1:]):
            rows.append((f"{prefix}{key}", values))
    return rows


def unread_options(diff: list[tuple[str, list[Any]]], recipes: list[dict], resolved: list | None = None) -> list[tuple[str, list[Any]]]:
    """``diff`` with :data:`NOT_READ` for each optimizer or schedule option the run's own optimizer or
    schedule does not read (``train.optimizer.momentum`` 0.0 of an Adam run beside an SGD run's 0.9
    read as if Adam had run without momentum). A row where every run that reads the option holds its
    default, and the others do not read it, says nothing the optimizer's row does not: it is left out.
    The same for an option of a feature the run left off (``train.early_stopping.min_delta`` of a run
    without early stopping). ``resolved``: the recipes resolved (:func:`_resolved`), where the caller has them."""
    if resolved is None:
        resolved = [_resolved(r) for r in recipes]
    rows = []
    for key, values in diff:
        values = [NOT_READ if unread_option(r, key, rr) else v for r, rr, v in zip(recipes, resolved, values)]
        read = [v for v in values if v is not NOT_READ]
        if len(read) < len(values):
            default = field_at(key).default
            if all(v == read[0] for v in read) and (not read or read[0] in (default, MISSING)):
                continue
        rows.append((key, values))
    return rows


def _resolved(recipe: dict):
    """The run's recipe resolved, or None where it no longer resolves (a run of an older nnforge)."""
    try:
        return resolve(recipe)
    except UserError:
        return None


def metric_columns(runs: list[RunInfo]) -> tuple[list[str], dict[str, Any]]:
    """The numeric metrics to show (the task's test metric first, then in ``metrics.json``'s order),
    and those with one value in every run (said once, under the table, rather than repeated)."""
    headline = HEADLINE.get(runs[0].task or "")
    keys: list[str] = [headline] if headline else []
    for r in runs:
        keys += [k for k, v in r.metrics.items() if k not in keys and is_number(v)]
    keys = keys + ["epochs"] if "epochs" not in keys else keys
    if any(r.status != "finished" for r in runs):
        keys.append("status")
    shown, same = [], {}
    for key in keys:
        values = [cell(r, key) for r in runs]
        if key != headline and key != "status" and values[0] is not None and all(v == values[0] for v in values):
            same[key] = values[0]
        else:
            shown.append(key)
    return shown, same


def best_of(values: list[Any], key: str) -> set[int]:
    """The indexes holding the best value of a column (ties all marked; none when all are equal or
    the name says no direction)."""
    sign = direction(key)
    numbers = {i: v for i, v in enumerate(values) if is_number(v)}
    if not sign or len(set(numbers.values())) < 2:
        return set()
    target = max(numbers.values()) if sign > 0 else min(numbers.values())
    return {i for i, v in numbers.items() if v == target}


def compare_runs(paths: Sequence[str | Path]) -> Comparison:
    """Read the runs ``paths`` name and compute the recipe diff, the metrics table and the best of each column."""
    notes: list[str] = []
    runs = []
    for path in expand(paths, notes):
        info = read_run(path)
        if info.status == "damaged":
            notes.append(f"skipped '{path}': {info.problem}")
            continue
        runs.append(info)
    if len(runs) < 2:
        raise RunError(f"compare needs two readable runs or more; {notes[-1] if notes else ''}".rstrip("; "))
    check_comparable(runs)
    names = [r.name for r in runs]
    if len(set(names)) < len(names):  # runs/a/trial-000 and runs/b/trial-000: tell them apart
        runs = [replace(r, name=str(r.dir)) for r in runs]
    columns, same = metric_columns(runs)
    histories = [[h for h in read_history(r.dir) if isinstance(h, dict) and isinstance(h.get("epoch"), (int, float))] for r in runs]
    recipes = [r.recipe for r in runs]
    resolved = [_resolved(r) for r in recipes]  # once: for the options a run never read, and for what its losses measure
    comparison = Comparison(runs, histories, unread_options(recipe_diff(recipes), recipes, resolved), columns, same, {}, notes)
    comparison.best = {c: best_of([comparison.cell(i, c) for i in range(len(runs))], c) for c in columns}
    losses = sorted({k for k, _ in comparison.diff if k.startswith("train.loss.")})
    if losses:  # an MSE and a Huber loss are on different scales: the smaller is not the better run
        criteria = {loss_criterion(r) for r in resolved}
        measured = sorted(k for k in losses if k != "train.loss.class_weight")
        unmarked = [c for c in columns if "loss" in c.split("_") and not (_evaluated(c) and len(criteria) == 1 and None not in criteria)
                    and comparison.best.pop(c, None)]
        if unmarked:
            notes.append(f"no best marked for {', '.join(unmarked)}: the runs differ in {', '.join(measured or losses)}, so their "
                         "losses are different measures")
    return comparison


def _evaluated(column: str) -> bool:
    """A loss of the validation or test split (``test_loss``): the training criterion without class
    weights, on data as it comes (``nnforge.train.evaluate``); a training loss is weighted and sampled."""
    return bool({"test", "val"} & set(column.split("_")))


def loss_criterion(resolved) -> str | None:
    """What a run's val_loss and test_loss measure: its ``train.loss`` criterion with the options that
    change it (name, label smoothing, focal gamma), not its class weights, which only training applies;
    None where its recipe no longer resolves (``resolved`` None: a run of an older nnforge)."""
    return None if resolved is None else criterion_name(resolved.train.loss)


# -- writing it out -------------------------------------------------------------------------------

def show(value: Any) -> str:
    """A recipe value as a cell: strings as they are, anything else as JSON; a missing key as ``-``,
    an option the run's optimizer or schedule did not read as ``—``."""
    if value is MISSING:
        return "-"
    if value is NOT_READ:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


def _metric_cell(c: Comparison, i: int, key: str, mark: str) -> str:
    value = c.cell(i, key)
    text = value if isinstance(value, str) else format_metric(key, value)
    return text + (mark if i in c.best.get(key, ()) else "")


def as_text(c: Comparison) -> str:
    """The terminal view: the recipe keys that differ, then the metrics with the best marked ``*``."""
    task = c.runs[0].task or "?"
    lines = [f"{len(c.runs)} {task} runs on {c.runs[0].dataset or '?'}: {', '.join(c.names)}", ""]
    if c.diff:
        lines.append(f"recipe keys that differ ({len(c.diff)}):")
        lines.append(text_table(["key", *c.names], [[k, *map(show, vs)] for k, vs in c.diff]))
    else:
        lines.append("the recipes are the same: every resolved key is equal")
    lines += ["", "metrics (* the best of each column):"]
    rows = [[name, *(_metric_cell(c, i, k, " *") for k in c.columns)] for i, name in enumerate(c.names)]
    lines.append(text_table(["run", *c.columns], rows, right=range(1, len(c.columns) + 1)))
    if c.same:
        lines.append("the same in every run: " + ", ".join(f"{k} {format_metric(k, v)}" for k, v in c.same.items()))
    return "\n".join(lines)


def history_metrics(histories: list[list[dict]]) -> list[str]:
    """The per-epoch metrics the curves show: the loss, then each other ``train_NAME`` logged."""
    names = ["loss"]
    for history in histories:
        for row in history:
            names += [k[len("train_"):] for k in row if k.startswith("train_") and k[len("train_"):] not in names]
    return names


def draw(c: Comparison):
    """The overlaid curves as a matplotlib figure; each line's SVG id is ``run{i}-{split}_{metric}``."""
    plt = _pyplot()
    panels = history_metrics(c.histories)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    palette = colours(len(c.runs))
    for ax, metric in zip(axes[0], panels):
        for i, (name, history) in enumerate(zip(c.names, c.histories)):
            colour = palette[i]
            for split, style in (("train", "-"), ("val", "--")):
                points = [(h["epoch"], h[f"{split}_{metric}"]) for h in history if isinstance(h.get(f"{split}_{metric}"), (int, float))]
                if points:
                    (line,) = ax.plot(*zip(*points), style, color=colour, marker="o" if split == "train" else "s", markersize=3,
                                      label=f"{literal(name)} ({'training' if split == 'train' else 'validation'})")
                    line.set_gid(f"run{i}-{split}_{metric}")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    columns = max(1, min(len(c.runs), 3 * len(panels), len(labels)))  # filled down first: a run's two lines per column
    fig.legend(handles, labels, loc="lower center", ncol=columns, frameon=False, fontsize=9)
    rows = -(-len(labels) // columns)
    fig.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 1))
    return fig


def default_out(runs: list[RunInfo]) -> Path:
    """``compare-A-vs-B`` beside the runs (in their common folder); long lists get a short hash instead."""
    try:
        parent = Path(os.path.commonpath([str(r.dir.parent) for r in runs]))
    except ValueError:  # relative and absolute paths mixed
        parent = Path("runs")
    if parent.anchor and parent == Path(parent.anchor):  # runs with nothing in common but the file system's root
        parent = Path("runs")
    names = [r.dir.name for r in runs]
    name = "compare-" + "-vs-".join(names)
    if len(name) > 80:
        digest = hashlib.sha1("\0".join(str(r.dir.resolve()) for r in runs).encode()).hexdigest()[:8]
        name = f"compare-{names[0][:40]}-and-{len(names) - 1}-more-{digest}"
    return parent / name


def as_html(c: Comparison, svg: str) -> str:
    """The self-contained page, in ``nnforge report``'s look."""
    esc = html.escape
    palette = colours(len(c.runs))
    swatch = lambda i: f"<span class='swatch' style='background:{palette[i]}'></span>"  # noqa: E731
    head = "".join(f"<th>{swatch(i)}{esc(n)}</th>" for i, n in enumerate(c.names))
    if c.diff:
        diff = (f"<table class='diff'><tr><th>key</th>{head}</tr>"
                + "".join(f"<tr><td><code>{esc(k)}</code></td>{''.join(f'<td>{esc(show(v))}</td>' for v in vs)}</tr>" for k, vs in c.diff)
                + "</table>")
    else:
        diff = "<p>The recipes are the same: every resolved key is equal.</p>"
    metric_rows = "".join(
        f"<tr data-run='{i}'><td>{swatch(i)}{esc(n)}</td>"
        + "".join(f"<td{' class=best' if i in c.best.get(k, ()) else ''}>{esc(_metric_cell(c, i, k, ''))}</td>" for k in c.columns)
        + "</tr>" for i, n in enumerate(c.names))
    metrics = (f"<div class='wide'><table class='metrics'><tr><th>run</th>"
               f"{''.join(f'<th>{esc(k.replace(chr(95), chr(32)))}</th>' for k in c.columns)}</tr>{metric_rows}</table></div>"
               + ("<p class='note'>The same in every run: " + esc(", ".join(f"{k} {format_metric(k, v)}" for k, v in c.same.items()))
                  + "</p>" if c.same else "") + "<p class='note'>&#9733; the best of each column.</p>")
    runs = "".join(f"<tr><td>{swatch(i)}{esc(n)}</td><td><code>{esc(str(r.dir))}</code></td><td>{esc(r.status)}</td></tr>"
                   for i, (n, r) in enumerate(zip(c.names, c.runs)))
    sections = [("Recipe keys that differ", diff), ("Metrics", metrics), ("Curves", f"<div class='curves'>{svg}</div>"),
                ("Runs", f"<table class='runs'><tr><th>run</th><th>directory</th><th>status</th></tr>{runs}</table>")]
    body = "".join(f"<section><h2>{esc(t)}</h2>{content}</section>" for t, content in sections)
    task, data = c.runs[0].task or "?", c.runs[0].dataset or "?"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>nnforge compare: {esc(', '.join(c.names))}</title>"
            f"<style>{CSS}{EXTRA_CSS}</style></head><body><header><h1>{esc(' vs '.join(c.names))}</h1>"
            f"<p>{len(c.runs)} {esc(task)} runs on {esc(str(data))}; {len(c.diff)} recipe key{'s' if len(c.diff) != 1 else ''} differ</p>"
            f"</header><main>{body}</main></body></html>")


def write_comparison(c: Comparison, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``compare.png`` and ``compare.html`` into ``out`` (default :func:`default_out`); return both paths."""
    out = Path(out) if out is not None else default_out(c.runs)
    if out.exists() and not out.is_dir():
        raise RunError(f"--out '{out}' is a file; pass a folder for compare.html and compare.png")
    fig = draw(c)
    buffer = _io.StringIO()
    with _pyplot().rc_context({"svg.fonttype": "none"}):  # text stays text: the legend is readable in the page
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # the XML prolog and DOCTYPE do not belong inside an HTML page
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF naming matplotlib and the date: not for the page
    png = save_figure(fig, out / "compare.png")
    page = io.write_text(out / "compare.html", as_html(c, svg))
    return png, page
