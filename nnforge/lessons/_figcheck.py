"""What a learner would trip over in a lesson's picture, found on the Figure before it is saved.

A picture teaches only if it can be read: no label drawn over another, nothing cut off at the
edge, every axis saying what it measures, no panel left empty, no legend hiding the data it
explains and no curve hidden exactly under another. :func:`figure_problems` checks these on
the laid-out figure with matplotlib's own renderer (the text bounding boxes it draws with),
so the check sees what the saved PNG will show. ``_common.save`` runs it on every lesson
figure and warns with :class:`FigureWarning`; the lesson tests turn that warning into a failure.
"""
from __future__ import annotations

import itertools

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection, PathCollection
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.patches import Rectangle
from matplotlib.text import Text

OVERLAP_PX = 1.0  # bounding boxes may touch; more than a pixel of shared width and height is overlap


class FigureWarning(UserWarning):
    """A lesson picture has a problem a reader would see (overlap, cut-off text, blank panel...)."""


def _drawn_ticklabels(ax: Axes) -> list[Text]:
    """Tick labels matplotlib actually draws: ticks outside the view keep their (undrawn) Text."""
    labels = []
    for axis in (ax.xaxis, ax.yaxis):
        low, high = sorted(axis.get_view_interval())
        span = (high - low) or 1.0
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            if low - 1e-9 * span <= tick.get_loc() <= high + 1e-9 * span:
                labels += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    return labels


def _texts(fig: Figure, renderer) -> list[tuple[str, object]]:
    """Every drawn, non-empty text with its bounding box in display pixels."""
    tick_labels, drawn = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                tick_labels.update((id(tick.label1), id(tick.label2)))
        if ax.get_visible() and ax.axison:
            drawn += _drawn_ticklabels(ax)
    texts = [t for t in fig.findobj(Text) if id(t) not in tick_labels] + drawn
    found = []
    for text in texts:
        if not text.get_visible() or not text.get_text().strip() or text.figure is None:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        found.append((text.get_text(), text.get_window_extent(renderer)))
    return found


def _overlaps(a, b) -> bool:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > OVERLAP_PX and height > OVERLAP_PX


def _has_ticklabels(axis) -> bool:
    return any(label.get_visible() and label.get_text().strip() for label in axis.get_ticklabels(which="both"))


def _data_points(ax: Axes) -> np.ndarray:
    """Display coordinates of every plotted point (lines, scatter offsets) inside the view."""
    points = []
    for line in ax.get_lines():
        xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
        if len(xy):
            points.append(line.get_transform().transform(xy))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            points.append(coll.get_offset_transform().transform(np.asarray(coll.get_offsets(), float)))
    if not points:
        return np.empty((0, 2))
    pts = np.concatenate(points)
    pts = pts[np.isfinite(pts).all(1)]
    box = ax.get_window_extent()
    inside = (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
    return pts[inside]


def _is_blank(ax: Axes) -> str | None:
    """Why the panel shows nothing, or None: no data at all, or a surface of one constant value."""
    for artist in ax.images:
        data = np.ma.masked_invalid(np.asarray(artist.get_array(), float))
        if data.count() and float(data.max() - data.min()) <= 1e-3 * max(1.0, float(abs(data).max())):
            return "its image is one constant value"
    for coll in ax.collections:
        if isinstance(coll, ContourSet) and coll.filled:
            if float(coll.zmax - coll.zmin) <= 1e-3 * max(1.0, abs(float(coll.zmax))):
                return "its filled contour is one constant value"
    has_data = (any(len(np.asarray(l.get_xdata())) for l in ax.get_lines()) or ax.images
                or any(isinstance(c, Collection) and (len(c.get_paths()) or len(c.get_offsets())) for c in ax.collections)
                or any(p.get_width() * p.get_height() if isinstance(p, Rectangle) else 1 for p in ax.patches)
                or (not ax.axison and ax.texts))
    return None if has_data else "it has no data"


def _hidden_lines(ax: Axes) -> list[str]:
    """Pairs of curves drawn in the same style along the same pixels: the reader sees only one."""
    found = []
    lines = [l for l in ax.get_lines() if l.get_visible() and len(l.get_xdata()) > 1]
    for a, b in itertools.combinations(lines, 2):
        if len(a.get_xdata()) != len(b.get_xdata()) or a.get_linestyle() != b.get_linestyle():
            continue
        pa = a.get_transform().transform(np.column_stack([a.get_xdata(), a.get_ydata()]).astype(float))
        pb = b.get_transform().transform(np.column_stack([b.get_xdata(), b.get_ydata()]).astype(float))
        if np.all(np.isfinite(pa)) and np.all(np.isfinite(pb)) and np.abs(pa - pb).max() < 2.0:
            found.append(f"'{a.get_label()}' hides '{b.get_label()}' (same pixels, same line style)")
    return found


def figure_problems(fig: Figure) -> list[str]:
    """Everything a reader would trip over in ``fig``, one sentence each; [] when it reads cleanly."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out (constrained layout) exactly as savefig will
    renderer = canvas.get_renderer()
    problems = []
    page = fig.bbox
    texts = _texts(fig, renderer)
    for label, box in texts:
        if box.x0 < page.x0 - 1 or box.y0 < page.y0 - 1 or box.x1 > page.x1 + 1 or box.y1 > page.y1 + 1:
            problems.append(f"text '{label}' is cut off at the figure's edge")
    for (la, a), (lb, b) in itertools.combinations(texts, 2):
        if _overlaps(a, b):
            problems.append(f"text '{la}' overlaps '{lb}'")
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        name = ax.get_title() or ax.get_label() or "a panel"
        if ax.axison:
            for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
                if _has_ticklabels(axis) and not label.strip():
                    problems.append(f"panel '{name}': its {axis.axis_name} axis has no label")
        if getattr(ax, "_colorbar", None) is None:
            reason = _is_blank(ax)
            if reason:
                problems.append(f"panel '{name}' is blank: {reason}")
        problems += [f"panel '{name}': {p}" for p in _hidden_lines(ax)]
        problems += _annotations_misplaced(ax, name, renderer)
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            problems += _legend_covers(ax, legend, name)
    return problems


def _patch_outline(patch, samples: int = 20) -> np.ndarray:
    """Points along a patch's outline in display pixels (corners alone miss a long thin arrow's middle)."""
    vertices = patch.get_transform().transform(patch.get_path().vertices)
    if len(vertices) < 2:
        return vertices
    t = np.linspace(0, 1, samples)[:, None, None]
    return (vertices[:-1] * (1 - t) + vertices[1:] * t).reshape(-1, 2)


def _annotations_misplaced(ax: Axes, name: str, renderer) -> list[str]:
    """Labels written inside a panel that leave it or sit on an arrow or bar it labels."""
    found = []
    box = ax.get_window_extent(renderer)
    for text in ax.texts:
        if not text.get_visible() or not text.get_text().strip():
            continue
        tb = text.get_window_extent(renderer)
        if ax.axison and (tb.x0 < box.x0 - 1 or tb.x1 > box.x1 + 1 or tb.y0 < box.y0 - 1 or tb.y1 > box.y1 + 1):
            found.append(f"panel '{name}': label '{text.get_text()}' is cut off at the panel's edge")
        for patch in ax.patches:
            pts = _patch_outline(patch)
            if ((pts[:, 0] > tb.x0) & (pts[:, 0] < tb.x1) & (pts[:, 1] > tb.y0) & (pts[:, 1] < tb.y1)).any():
                found.append(f"panel '{name}': label '{text.get_text()}' is drawn over a {type(patch).__name__.lower()}")
                break
    return found


def _legend_covers(ax: Axes, legend: Legend, name: str) -> list[str]:
    box = legend.get_window_extent()
    points = _data_points(ax)
    inside = ((points[:, 0] > box.x0) & (points[:, 0] < box.x1) & (points[:, 1] > box.y0) & (points[:, 1] < box.y1))
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and _overlaps(p.get_window_extent(), box)]
    if inside.any() or bars:
        what = f"{int(inside.sum())} data points" if inside.any() else f"{len(bars)} bars"
        return [f"panel '{name}': the legend covers {what}"]
    return []
