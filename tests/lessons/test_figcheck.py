"""The figure check finds what a reader trips over, and passes a figure that reads cleanly."""
import numpy as np

from nnforge.lessons._common import figure
from nnforge.lessons._figcheck import figure_problems


def clean():
    fig, axes = figure(1, 2, size=(9, 3.5))
    for ax in axes[0]:
        ax.plot(np.arange(10), np.arange(10) ** 2, label="squares")
        ax.set_xlabel("n")
        ax.set_ylabel("n squared")
        ax.legend(loc="upper left")
    return fig, axes


def test_a_clean_figure_has_no_problems():
    fig, _ = clean()
    assert figure_problems(fig) == []


def test_an_unlabelled_axis_is_found():
    fig, axes = clean()
    axes[0, 1].set_ylabel("")
    assert [p for p in figure_problems(fig) if "no label" in p] == ["panel 'a panel': its y axis has no label"]


def test_overlapping_and_cut_off_text_is_found():
    fig, axes = clean()
    axes[0, 0].text(5, 50, "a label", fontsize=12)
    axes[0, 0].text(5.1, 50, "another label", fontsize=12)
    axes[0, 1].text(9.5, 40, "runs off the panel", fontsize=12)
    fig.text(0.9, 0.5, "runs off the figure", fontsize=12)
    problems = figure_problems(fig)
    assert any("'a label' overlaps 'another label'" in p for p in problems)
    assert any("cut off at the panel's edge" in p for p in problems)
    assert any("cut off at the figure's edge" in p for p in problems)


def test_a_blank_panel_and_a_constant_surface_are_found():
    fig, axes = figure(1, 2, size=(9, 3.5))
    grid = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    axes[0, 0].contourf(*grid, np.full((5, 5), 0.5))
    for ax in axes[0]:
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    problems = figure_problems(fig)
    assert any("is blank: its filled contour is one constant value" in p for p in problems)
    assert any("is blank: it has no data" in p for p in problems)


def test_a_legend_over_bars_and_a_hidden_curve_are_found():
    fig, axes = figure(1, 1, size=(5, 3.5))
    ax = axes[0, 0]
    ax.bar(np.arange(4), [1.0, 1.0, 1.0, 1.0], label="all tall")
    ax.plot([0, 3], [0.5, 0.5], label="first")
    ax.plot([0, 3], [0.5, 0.5], label="second")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="center")
    problems = figure_problems(fig)
    assert any("the legend covers" in p for p in problems)
    assert any("'first' hides 'second'" in p for p in problems)
    ax.lines[1].set_linestyle("--")  # drawn dashed over the first, both are visible
    assert not any("hides" in p for p in figure_problems(fig))
