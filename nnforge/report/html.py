"""The HTML run report: one self-contained page (images inlined) a person would rather look at.

It gathers what the run directory holds — headline metrics, the recipe, curves, the confusion
matrix, the per-class table, and any pictures later commands left behind (``explain/``,
``compress/``, ``lr_find.png``, forecasts) — without recomputing anything. Each task shows its own
metrics: a classifier its accuracy and per-class scores, a forecast its test MAE and RMSE beside the
naive last-value forecast's, the skill over it, and the forecast plot, a regression its test MAE,
RMSE and R² beside the training-mean and linear-regression baselines, and its regression plots.

The tables other commands write as Markdown (``explain/report.md``, ``compress/compress.md``) are
rendered to HTML by markdown-it-py, the CommonMark reference port, so they read as tables. A small
inline script opens a gallery thumbnail full size on click (the page stays self-contained: data
URLs cannot be opened in a new tab by a click in Chromium, so the picture is shown in an overlay).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from nnforge import io
from nnforge.config import dump_config
from nnforge.rundir import read_metrics, read_recipe, read_summary, runs_inside
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
.gallery figure{margin:0}.gallery figcaption{font-size:12px;color:#667085}.gallery img{cursor:zoom-in}
.md h1{font-size:16px;margin:0 0 8px}.md h2{font-size:15px;margin:16px 0 8px}.md table{margin-bottom:8px}
#zoom{display:none;position:fixed;inset:0;background:rgba(20,24,33,.88);cursor:zoom-out;z-index:10;overflow:auto}
#zoom.open{display:flex}#zoom img{max-width:none;margin:auto;background:#fff}
"""

# Click a gallery picture: show it at its own size in an overlay; click again or press Escape to close.
ZOOM_SCRIPT = """
(function(){var z=document.getElementById('zoom'),big=z.querySelector('img');
document.querySelectorAll('.gallery img').forEach(function(im){im.addEventListener('click',function(){
big.src=im.src;big.alt=im.alt;z.className='open';});});
function close(){z.className='';big.removeAttribute('src');}
z.addEventListener('click',close);document.addEventListener('keydown',function(e){if(e.key==='Escape')close();});})();
"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'


def markdown_to_html(text: str) -> str:
    """CommonMark with GitHub tables; raw HTML in the source is escaped, never passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "?"


def _classification_cards(metrics: dict) -> list[str]:
    cards = [_card(_fmt(metrics.get("test_accuracy"), ".2%"), "test accuracy")]
    if metrics.get("best_val_accuracy") is not None:
        cards.append(_card(f"{metrics['best_val_accuracy']:.2%}", "best validation accuracy"))
    return cards


def _forecast_cards(metrics: dict) -> list[str]:
    skill = metrics.get("skill_vs_naive")
    return [
        _card(_fmt(metrics.get("test_mae"), ".2f"), "test MAE"),
        _card(_fmt(metrics.get("test_rmse"), ".2f"), "test RMSE"),
        _card(f"{_fmt(metrics.get('naive_mae'), '.2f')} / {_fmt(metrics.get('naive_rmse'), '.2f')}",
              "naive last-value MAE / RMSE"),
        _card(_fmt(skill, "+.1%"), "skill vs naive (MAE)"),
    ]


def _regression_cards(metrics: dict) -> list[str]:
    base = metrics.get("baselines", {})
    mean, linear = base.get("training_mean", {}), base.get("linear_regression", {})
    return [
        _card(_fmt(metrics.get("test_rmse"), ".4g"), "test RMSE"),
        _card(_fmt(metrics.get("test_mae"), ".4g"), "test MAE"),
        _card(_fmt(metrics.get("test_r2"), ".3f"), "test R²"),
        _card(_fmt(mean.get("rmse"), ".4g"), "baseline: training mean RMSE"),
        _card(f"{_fmt(linear.get('rmse'), '.4g')} (R² {_fmt(linear.get('r2'), '.3f')})", "baseline: linear regression RMSE"),
    ]


def _baselines_table(metrics: dict) -> str:
    rows = [("this model", {"mae": metrics.get("test_mae"), "rmse": metrics.get("test_rmse"), "r2": metrics.get("test_r2")})]
    names = {"training_mean": "predict the training mean", "linear_regression": "linear regression (scikit-learn)"}
    rows += [(names.get(k, k), v) for k, v in metrics.get("baselines", {}).items()]
    body = "".join(f"<tr><td>{html.escape(n)}</td><td>{_fmt(v.get('mae'), '.4g')}</td><td>{_fmt(v.get('rmse'), '.4g')}</td>"
                   f"<td>{_fmt(v.get('r2'), '.3f')}</td></tr>" for n, v in rows)
    return f"<table><tr><th>model (test split)</th><th>MAE</th><th>RMSE</th><th>R²</th></tr>{body}</table>"


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
        raise RunError(f"'{run}' has no metrics.json; pass a finished `nnforge train` run directory" + runs_inside(run))
    metrics = read_metrics(run)
    config = read_recipe(run) if (run / "config.yaml").is_file() else None
    model = config.model["name"] if config else "?"
    data = config.data.name if config else "?"
    forecast, regress = metrics.get("task") == "forecast", metrics.get("task") == "regress"
    try:  # everything drawn from metrics.json: a value of another type than nnforge writes fails here, in one line
        cards = _forecast_cards(metrics) if forecast else _regression_cards(metrics) if regress else _classification_cards(metrics)
        cards.append(_card(f"{metrics.get('train_seconds', 0):.1f} s", f"training, {metrics.get('epochs', '?')} epochs"))
        if metrics.get("parameters"):
            cards.append(_card(f"{metrics['parameters']:,}", "parameters"))
        baselines = _baselines_table(metrics) if regress else None
        per_class = _per_class_table(metrics["per_class"]) if metrics.get("per_class") else None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise RunError(f"{metrics_path}: a value is not of the kind nnforge writes ({type(exc).__name__}: {exc}); "
                       "was the file edited?") from None
    sections = []
    if forecast and (run / "forecast.png").is_file():
        sections.append(("Forecast (test)", _img(run / "forecast.png")))
    if regress:
        sections.append(("Against the baselines (test, target units)", baselines))
        if (run / "regression.png").is_file():
            sections.append(("Predicted vs true, residuals, errors (test)", _img(run / "regression.png")))
    if (run / "curves.png").is_file():
        sections.append(("Training curves", _img(run / "curves.png")))
    if (run / "confusion.png").is_file():
        sections.append(("Confusion matrix (test)", _img(run / "confusion.png")))
    if per_class:
        sections.append(("Per-class scores (test)", per_class))
    summary = read_summary(run)
    if summary is not None:
        from nnforge.report.summary import summary_html

        sections.append(("Model summary", summary_html(summary)))
    shown = {"curves.png", "confusion.png"} | ({"forecast.png"} if forecast else set()) | ({"regression.png"} if regress else set())
    extra = sorted(p for p in run.glob("*.png") if p.name not in shown)
    for sub in ("explain", "compress", "tune", "forecast"):
        extra += sorted((run / sub).glob("*.png")) if (run / sub).is_dir() else []
    if extra:
        figures = "".join(f"<figure>{_img(p)}<figcaption>{html.escape(str(p.relative_to(run)))}</figcaption></figure>" for p in extra)
        sections.append(("More pictures", f'<div class="gallery">{figures}</div>'))
    for table in sorted(run.glob("*/*.md")):
        sections.append((table.parent.name.capitalize(), f'<div class="md">{markdown_to_html(table.read_text(encoding="utf-8"))}</div>'))
    sections.append(("Recipe (resolved)", f"<pre>{html.escape(dump_config(config) if config else '')}</pre>"))
    body = "".join(f"<section><h2>{html.escape(t)}</h2>{c}</section>" for t, c in sections)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>nnforge run {html.escape(run.name)}</title>"
        f"<style>{CSS}</style></head><body><header><h1>{html.escape(run.name)}</h1>"
        f"<p>{html.escape(model)} on {html.escape(str(metrics.get('dataset', data)))}</p></header>"
        f"<main><div class='cards'>{''.join(cards)}</div>{body}</main>"
        f"<div id='zoom' title='click to close'><img alt=''></div><script>{ZOOM_SCRIPT}</script></body></html>"
    )
    return io.write_text(run / "report.html", page)
