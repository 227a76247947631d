"""Every lesson is also a notebook: the same cells as its script, and it runs in a real kernel.

The fast tests convert each lesson (jupytext) and check the notebook against the script's text
and the curriculum's shape; the slow test executes the notebooks top to bottom with nbclient in
one real ipykernel (reset between notebooks) and checks the numbers each lesson claims from the
executed outputs. It leaves out the few lessons that train for tens of seconds
(:data:`TRAIN_FOR_LONG`): their cells are the script's cells (checked above) and
tests/lessons/test_lessons.py runs each of those scripts, so a kernel run would repeat a minute of
training to learn nothing new about the kernel. The others run only here, with the checks the
script test makes (printed lines, every promised picture, no figure warning).
"""
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from nnforge.cli import main
from nnforge.lessons import LESSONS
from nnforge.lessons.notebooks import lesson_notebook, write_all, write_notebook
from tests.lessons.test_lessons import TRAIN_FOR_LONG, check_lesson_output

REPO = Path(__file__).resolve().parents[2]


def script_cells(path: Path) -> list[tuple[str, str]]:
    """(kind, source) per cell, split on the ``# %%`` markers by hand, independently of jupytext."""
    cells, kind, lines = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, "\n".join(lines).strip("\n")))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line[2:] if kind == "markdown" and line.startswith("# ") else
                         ("" if kind == "markdown" and line == "#" else line))
    cells.append((kind, "\n".join(lines).strip("\n")))
    return cells


@pytest.mark.parametrize("name", list(LESSONS))
def test_notebook_cells_are_the_script_cells(name, tmp_path):
    path = write_notebook(name, tmp_path)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    expected = script_cells(LESSONS[name].script)
    assert [(c.cell_type, c.source.strip("\n")) for c in nb.cells] == expected
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", list(LESSONS))
def test_notebook_has_the_curriculum_shape(name):
    """Seed section in the title, prose between short code cells, a last cell saying what to try."""
    lesson = LESSONS[name]
    cells = lesson_notebook(name).cells
    title = cells[0].source.splitlines()[0]
    assert cells[0].cell_type == "markdown" and title.startswith("# ") and lesson.seed_section in title
    assert cells[-1].cell_type == "markdown" and cells[-1].source.startswith("## Try next")
    code = [c for c in cells if c.cell_type == "code"]
    assert len(code) >= 3 and all(len(c.source.splitlines()) <= 45 for c in code)
    assert not any(a.cell_type == b.cell_type == "code" for a, b in zip(cells, cells[1:]))  # prose between steps
    assert any("save(" in c.source for c in code)


def test_cli_writes_one_notebook_and_all_with_an_index(tmp_path, capsys):
    assert main(["lesson", "xor", "--notebook", str(tmp_path / "one")]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["xor.ipynb"]
    assert main(["lesson", "--notebook", str(tmp_path / "all")]) == 0
    written = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert written == sorted([f"{n}.ipynb" for n in LESSONS] + ["index.ipynb"])
    index = json.loads((tmp_path / "all" / "index.ipynb").read_text())
    links = re.findall(r"\]\(([\w-]+)\.ipynb\)", "".join(index["cells"][0]["source"]))
    assert links == list(LESSONS)  # curriculum order
    (tmp_path / "afile").write_text("")
    assert main(["lesson", "xor", "--notebook", str(tmp_path / "afile")]) == 2
    assert "it is a file, not a folder" in capsys.readouterr().err


def test_a_notebook_folder_below_a_file_or_unmakeable_is_one_line(tmp_path, capsys):
    """--notebook afile/sub: a file is in the way of a folder above; a folder that cannot be made
    (here: below /proc) is a StorageError line, not mkdir's traceback."""
    (tmp_path / "afile").write_text("")
    assert main(["lesson", "xor", "--notebook", str(tmp_path / "afile" / "sub")]) == 2
    assert f"('{tmp_path / 'afile'}' is in the way): it is a file, not a folder" in capsys.readouterr().err
    assert main(["lesson", "xor", "--notebook", "/proc/nnforge-notebooks"]) == 2
    assert "cannot write /proc/nnforge-notebooks" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def outputs(cell, kind: str) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == kind)


@pytest.mark.slow
def test_every_notebook_runs_in_a_real_kernel(tmp_path):
    """Top to bottom, no errors, a picture under every cell that saves one, and the lessons' numbers."""
    pytest.importorskip("sympy")
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    paths = write_all(tmp_path / "notebooks")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    km = KernelManager(kernel_name="python3")  # one kernel for all: each start costs seconds
    km.start_kernel(cwd=str(tmp_path), env=env)
    printed = {}
    try:
        for path in paths[:-1]:
            if path.stem in TRAIN_FOR_LONG:
                continue
            nb = nbformat.read(path, as_version=4)
            nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))  # each notebook starts from an empty namespace
            NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
            for cell in nb.cells:
                if cell.cell_type == "code" and "save(" in cell.source:
                    assert any("image/png" in o.get("data", {}) for o in cell.outputs), (path.name, cell.source[:80])
                assert "Warning" not in outputs(cell, "stderr"), (path.name, outputs(cell, "stderr"))
            printed[path.stem] = "".join(outputs(c, "stdout") for c in nb.cells)
            check_lesson_output(path.stem, tmp_path / "lessons_out" / path.stem, printed[path.stem])
    finally:
        km.shutdown_kernel(now=True)

    agreements = re.findall(r"scratch vs torch, (.+?): max difference (\S+) \(values\), (\S+) \(", "".join(printed.values()))
    steps = {step for step, _, _ in agreements}
    assert len(agreements) >= 12 and {"the neuron (float64)", "multi-head attention (float64)",
                                      "the 3-4-2 network's loss and gradients (float64)"} <= steps
    for step, value, grad in agreements:
        assert float(value) < 1e-6 and float(grad) < 1e-6, step
    assert "output: 0.5597" in printed["perceptron"]
    assert "MSE: 0.0333" in printed["losses"] and "cross-entropy: 0.2899" in printed["losses"]
    assert "accuracy: 100%" in printed["xor"]
    assert "ranking by final loss: Adam (lr 0.01) < SGD + momentum 0.9 (lr 0.05) < SGD (lr 0.05)" in printed["optimizers"]
    assert "the shortest safe path is 10 moves" in printed["reinforcement"]
    assert sorted(p.name for p in tmp_path.joinpath("lessons_out").iterdir()) == sorted(set(LESSONS) - TRAIN_FOR_LONG)
    assert TRAIN_FOR_LONG < set(LESSONS)  # a renamed lesson is not silently left out


def test_curriculum_links_a_notebook_for_every_lesson_row():
    rows = [line for line in (REPO / "docs" / "curriculum.md").read_text().splitlines()
            if line.startswith("|") and "nnforge lesson " in line]
    assert {n for row in rows for n in re.findall(r"nnforge lesson ([\w-]+)", row)} == set(LESSONS)
    for row in rows:
        for name in re.findall(r"nnforge lesson ([\w-]+)", row):
            assert f"[{name}.ipynb](../notebooks/{name}.ipynb)" in row.rsplit("|", 2)[-2], row
