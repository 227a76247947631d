"""``summary.json`` (written by :mod:`nnforge.train.summary`) for people: the table of layers, their
totals and the measured latencies, as text (``nnforge summary``) and as the report's "Model
summary" HTML section."""

from __future__ import annotations

import html


def _size(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}".rstrip()
    return f"{n:g} {unit}".rstrip()


def _macs(value) -> str:
    return "not counted" if value is None else f"{value:,}"


def _rows(s: dict, times: str) -> list[tuple[str, ...]]:
    """A row of text cells per layer, then the totals (``times`` joins an output shape's sizes)."""
    rows = [(r["name"], r["type"], times.join(map(str, r["output_shape"] or [])) or "-", f"{r['trainable']:,}", f"{r['frozen']:,}",
             _macs(r["macs"]), _size(r["activation_bytes"], "B")) for r in s["rows"]]
    rows.append(("total", "", "", f"{s['trainable']:,}", f"{s['frozen']:,}",
                 f"{s['total_macs']:,}" + ("" if s.get("macs_complete", True) else " + uncounted"), _size(s["activation_bytes"], "B")))
    return rows


def _latency(timing: dict) -> str:
    return ", ".join(f"{v * 1e3:.3f} ms at batch {k.split('_')[-1]}" for k, v in timing.items())


def summary_text(s: dict) -> str:
    """The table ``nnforge summary`` prints: one line per layer, then the totals and the latencies."""
    header = ("layer", "type", "output shape", "trainable", "frozen", "MACs", f"activations (batch {s['batch_size']})")
    rows = [header, *_rows(s, "x")]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    shape = "x".join(map(str, s["input_shape"]))
    lines.append(f"input {shape}; MACs for one input ({_size(s['total_macs'])}); activations: layer outputs of one batch")
    for engine, timing in s["latency"].items():
        extra = f", {s['scratch']['parameters']:,} parameters" if engine == "scratch" else ""
        lines.append(f"{engine} CPU latency per input: {_latency(timing)}{extra}")
    return "\n".join(lines)


def summary_html(s: dict) -> str:
    """One table row per layer, a totals row, and a line per engine with its CPU latency per input."""
    head = ("layer", "type", "output shape", "trainable", "frozen", "MACs (one input)", f"activations (batch {s['batch_size']})")
    rows = _rows(s, "×")
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{cells}</table>"
    lines = []
    for engine, timing in s.get("latency", {}).items():
        lines.append(f"<li>{html.escape(engine)}: {html.escape(_latency(timing))}</li>")
    return f"{table}<p>CPU latency per input, measured at the end of training:</p><ul>{''.join(lines)}</ul>"
