"""The report's "Model summary" section: ``summary.json`` (written at the end of training by
:mod:`nnforge.train.summary`) as an HTML table of layers, their totals and the measured latencies."""

from __future__ import annotations

import html


def _bytes(n: float) -> str:
    for scale, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{n:g} B"


def _macs(value) -> str:
    return "not counted" if value is None else f"{value:,}"


def summary_html(s: dict) -> str:
    """One table row per layer, a totals row, and a line per engine with its CPU latency per input."""
    head = ("layer", "type", "output shape", "trainable", "frozen", "MACs (one input)", f"activations (batch {s['batch_size']})")
    rows = [(r["name"], r["type"], "×".join(map(str, r["output_shape"] or [])) or "-", f"{r['trainable']:,}", f"{r['frozen']:,}",
             _macs(r["macs"]), _bytes(r["activation_bytes"])) for r in s["rows"]]
    rows.append(("total", "", "", f"{s['trainable']:,}", f"{s['frozen']:,}",
                 f"{s['total_macs']:,}" + ("" if s.get("macs_complete", True) else " + uncounted"), _bytes(s["activation_bytes"])))
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{cells}</table>"
    lines = []
    for engine, timing in s.get("latency", {}).items():
        per = ", ".join(f"{v * 1e3:.3f} ms at batch {k.split('_')[-1]}" for k, v in timing.items())
        lines.append(f"<li>{html.escape(engine)}: {html.escape(per)}</li>")
    return f"{table}<p>CPU latency per input, measured at the end of training:</p><ul>{''.join(lines)}</ul>"
