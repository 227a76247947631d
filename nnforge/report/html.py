"""The HTML run report: one self-contained page (images inlined) a person would rather look at.

It gathers what the run directory holds — headline metrics, the recipe, curves, the confusion
matrix, the per-class table, and any pictures later commands left behind (``explain/``,
``compress/``, ``lr_find.png``, forecasts) — without recomputing anything.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from nnforge import io
from nnforge.config import dump_config
from nnforge.rundir import read_recipe
from nnforge.errors import RunError

CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:24px 40px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#aab3c5}main{max-width:1100px;margin:0 auto;padding:24px 40px}
.cards{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:24px}
.card{background:#fff;border-radius:10px;padding:14px 20px;box-shadow:0 1px 3px rgba(0,0,0,.08);min-width:150px}
.card b{display:block;font-size:26px}.card span{color:#667085;font-size:13px}
section{background:#fff;border-radius:10px;padding:18px 24px;margin-bottom:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 12px}img{max-width:100%}table{border-collapse:collapse;width:100%}
td,th{padding:5px 10px;border-bottom:1px solid #eceef2;text-align:right}td:first-child,th:first-child{text-align:left}
.low{color:#c0392b;font-weight:600}pre{background:#f3f4f6;padding:12px;border-radius:8px;overflow:auto;font-size:13px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:12px}
.gallery figure{margin:0}.gallery figcaption{font-size:12px;color:#667085}
"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'


def _per_class_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    worst = min(r["f1"] for r in rows)
    if worst == max(r["f1"] for r in rows):
        worst = None  # every class scores the same: no weakest one to point at
    body = "".join(
        f"<tr><td>{html.escape(str(r['class']))}</td><td>{r['precision']:.3f}</td><td>{r['recall']:.3f}</td>"
        f"<td{' class=low' if r['f1'] == worst else ''}>{r['f1']:.3f}</td><td>{r['support']}</td></tr>"
        for r in rows
    )
    return f"<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>{body}</table>"


def build_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` in the run directory and return its path."""
    run = Path(run_dir)
    metrics_path = run / "metrics.json"
    if not metrics_path.is_file():
        raise RunError(f"'{run}' has no metrics.json; pass a finished `nnforge train` run directory")
    metrics = json.loads(metrics_path.read_text())
    config = read_recipe(run) if (run / "config.yaml").is_file() else None
    model = config.model["name"] if config else "?"
    data = config.data.name if config else "?"
    cards = [_card(f"{metrics.get('test_accuracy', float('nan')):.2%}", "test accuracy")]
    if metrics.get("best_val_accuracy") is not None:
        cards.append(_card(f"{metrics['best_val_accuracy']:.2%}", "best validation accuracy"))
    cards.append(_card(f"{metrics.get('train_seconds', 0):.1f} s", f"training, {metrics.get('epochs', '?')} epochs"))
    if metrics.get("parameters"):
        cards.append(_card(f"{metrics['parameters']:,}", "parameters"))
    sections = []
    if (run / "curves.png").is_file():
        sections.append(("Training curves", _img(run / "curves.png")))
    if (run / "confusion.png").is_file():
        sections.append(("Confusion matrix (test)", _img(run / "confusion.png")))
    if metrics.get("per_class"):
        sections.append(("Per-class scores (test)", _per_class_table(metrics["per_class"])))
    extra = sorted(p for p in run.glob("*.png") if p.name not in ("curves.png", "confusion.png"))
    for sub in ("explain", "compress", "tune", "forecast"):
        extra += sorted((run / sub).glob("*.png")) if (run / sub).is_dir() else []
    if extra:
        figures = "".join(f"<figure>{_img(p)}<figcaption>{html.escape(str(p.relative_to(run)))}</figcaption></figure>" for p in extra)
        sections.append(("More pictures", f'<div class="gallery">{figures}</div>'))
    for table in sorted(run.glob("*/*.md")):
        sections.append((table.parent.name.capitalize(), f"<pre>{html.escape(table.read_text())}</pre>"))
    sections.append(("Recipe (resolved)", f"<pre>{html.escape(dump_config(config) if config else '')}</pre>"))
    body = "".join(f"<section><h2>{html.escape(t)}</h2>{c}</section>" for t, c in sections)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>nnforge run {html.escape(run.name)}</title>"
        f"<style>{CSS}</style></head><body><header><h1>{html.escape(run.name)}</h1>"
        f"<p>{html.escape(model)} on {html.escape(str(metrics.get('dataset', data)))}</p></header>"
        f"<main><div class='cards'>{''.join(cards)}</div>{body}</main></body></html>"
    )
    return io.write_text(run / "report.html", page)
