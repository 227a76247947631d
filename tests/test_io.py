"""Atomic writes: one permission rule for every file, and a full or read-only disk as one line.

The disk tests mount a real tmpfs of a few hundred KB in a private mount namespace
(``unshare``), so nothing is mounted for anyone else and nothing is left behind; where the
machine allows no namespaces they are skipped.
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from nnforge import io
from nnforge.errors import StorageError
from nnforge.rundir import save_model

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _writers(folder: Path) -> dict:
    state = {"w": torch.arange(6.0)}
    return {
        "model.safetensors": lambda p: save_file(state, str(p)),  # safetensors replaces the temporary file
        "state.pt": lambda p: torch.save(state, p),
        "notes.txt": lambda p: p.write_text("hi"),
    }


def test_every_file_gets_the_usual_permissions(tmp_path):
    assert io.FILE_MODE == 0o666 & ~_umask()
    for name, write in _writers(tmp_path).items():
        io.atomic_write(tmp_path / name, write)
    io.write_json(tmp_path / "meta.json", {"a": 1})
    save_model(tmp_path / "run", torch.nn.Linear(2, 2), {"model": {"name": "mlp"}})
    modes = {p.name: p.stat().st_mode & 0o777 for p in [*tmp_path.iterdir(), *(tmp_path / "run").iterdir()] if p.is_file()}
    assert modes == dict.fromkeys(["model.safetensors", "state.pt", "notes.txt", "meta.json", "model.json"], io.FILE_MODE)


def test_the_rule_follows_the_umask(tmp_path):
    script = "from nnforge import io; from safetensors.torch import save_file; import torch, sys, os; " \
             "io.atomic_write(sys.argv[1], lambda p: save_file({'w': torch.zeros(2)}, str(p))); " \
             "print(oct(os.stat(sys.argv[1]).st_mode & 0o777))"
    out = subprocess.run([sys.executable, "-c", f"import os; os.umask(0o027); {script}", str(tmp_path / "m.safetensors")],
                         env=ENV, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0o640", out.stderr


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _in_small_tmpfs(tmp_path: Path, size: str, command, timeout: int = 300) -> subprocess.CompletedProcess:
    """``command(disk)`` run with ``disk`` a tmpfs of ``size``, in a mount namespace of its own."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size={size} tmpfs {disk}"],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")
    # and disk/ro, a read-only file system
    shell = f'mount -t tmpfs -o size={size} tmpfs "$0" && mkdir "$0/ro" && mount -t tmpfs -o ro,size=64k tmpfs "$0/ro" && exec "$@"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", shell, str(disk), *command(disk)],
                          env=ENV, capture_output=True, text=True, timeout=timeout)


FULL_DISK = textwrap.dedent("""
    import json, os, sys, torch
    from pathlib import Path
    from safetensors.torch import load_file, save_file
    from nnforge import io
    from nnforge.errors import StorageError

    disk = Path(sys.argv[1])
    target = disk / "checkpoints" / "step-1.safetensors"
    io.atomic_write(target, lambda p: save_file({"w": torch.arange(1000.0)}, str(p)))
    before = target.read_bytes()
    with open(disk / "filler", "wb", buffering=0) as fh:  # take every block that is left
        try:
            while True:
                fh.write(b"\\0" * 4096)
        except OSError:
            pass
    big = {"w": torch.zeros(100_000)}
    writers = {"safetensors": lambda p: save_file(big, str(p)), "torch.save": lambda p: torch.save(big, str(p)),
               "python": lambda p: p.write_bytes(bytes(400_000))}
    results = {}
    for name, write in writers.items():
        try:
            io.atomic_write(target, write)
            results[name] = "written"
        except StorageError as exc:
            results[name] = str(exc)
    try:
        io.append_jsonl(disk / "metrics.jsonl", {"x": "y" * 100_000})
        results["append"] = "written"
    except StorageError as exc:
        results["append"] = str(exc)
    os.unlink(disk / "filler")
    try:
        io.write_text(disk / "ro" / "run" / "config.yaml", "a: 1")
        results["read-only"] = "written"
    except StorageError as exc:
        results["read-only"] = str(exc)
    print(json.dumps({"results": results, "intact": target.read_bytes() == before,
                      "loads": load_file(str(target))["w"].tolist()[:3], "left": sorted(os.listdir(disk / "checkpoints"))}))
""")


def test_full_and_read_only_disks_are_one_line_errors_and_the_old_file_survives(tmp_path):
    run = _in_small_tmpfs(tmp_path, "256k", lambda disk: [sys.executable, "-c", FULL_DISK, str(disk)])
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    for name in ("safetensors", "torch.save", "python"):
        message = report["results"][name]
        assert message.startswith("cannot write ") and "step-1.safetensors: no space left on the device (errno 28)" in message
        assert "the last good checkpoint are intact" in message and "\n" not in message
    assert "no space left on the device" in report["results"]["append"]
    assert report["results"]["read-only"].startswith("cannot write ") and "config.yaml: the file system is read-only (errno 30)" in report["results"]["read-only"]
    assert report["intact"] and report["loads"] == [0.0, 1.0, 2.0]
    assert report["left"] == ["step-1.safetensors"]  # no temporary file left behind


TRAIN = textwrap.dedent("""
    import json, subprocess, sys
    from pathlib import Path
    from safetensors.torch import load_file

    run = Path(sys.argv[1]) / "run"
    done = subprocess.run([sys.executable, "-m", "nnforge.cli", "train", sys.argv[2], "--out", str(run),
                           "--set", "train.epochs=4"], capture_output=True, text=True)
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    loaded = [len(load_file(str(run / "checkpoints" / name))) for name in checkpoints]
    print(json.dumps({"rc": done.returncode, "stderr": done.stderr, "checkpoints": checkpoints, "tensors": loaded}))
""")


@pytest.mark.slow
def test_train_on_a_full_disk_exits_2_with_one_line_and_a_loadable_checkpoint(tmp_path):
    # digits' MLP checkpoints are ~240 KB: the first fits in 600 KB, a later one does not
    recipe = str(REPO / "configs" / "digits_mlp.yaml")
    run = _in_small_tmpfs(tmp_path, "600k", lambda disk: [sys.executable, "-c", TRAIN, str(disk), recipe], timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["rc"] == 2, report["stderr"]
    lines = [line for line in report["stderr"].splitlines() if line.strip() and not line.startswith("epoch ")]
    assert len(lines) == 1 and "no space left on the device (errno 28)" in lines[0], report["stderr"]
    assert "last good checkpoint are intact" in lines[0] and "Traceback" not in report["stderr"]
    assert report["checkpoints"] and all(report["tensors"])  # what was written before the disk filled still loads


@pytest.mark.parametrize("where, problem", [
    ("notes.txt/model.onnx", "a file is in the way of a folder on that path (errno 17); move it away"),
    ("notes.txt/sub/model.onnx", "a file is in the way of a folder on that path (errno 20); move it away"),
    ("folder", "a folder of that name is in the way (errno 21); move it away"),
])
def test_a_file_or_folder_in_the_way_of_a_write_is_one_line_and_nothing_is_left(tmp_path, where, problem):
    """Before: mkdir's FileExistsError / NotADirectoryError, or the rename's IsADirectoryError, as a
    traceback (`nnforge export RUN --out notes.txt/model.onnx`, `--out an_existing_folder`)."""
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "folder").mkdir()
    with pytest.raises(StorageError) as info:
        io.write_text(tmp_path / where, "data")
    assert str(info.value) == f"cannot write {tmp_path / where}: {problem}"
    assert (tmp_path / "notes.txt").read_text() == "mine" and not list((tmp_path / "folder").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "notes.txt"]  # no temporary file left


def test_a_folder_that_cannot_be_made_is_one_line_for_any_reason():
    """Before: mkdir's FileNotFoundError traceback for a reason outside the known list (a folder
    below /proc cannot be made: ENOENT), e.g. `nnforge compare A B --out /proc/x`."""
    with pytest.raises(StorageError, match=r"^cannot write /proc/nnforge-x/a.json: No such file or directory; choose another folder"):
        io.write_json("/proc/nnforge-x/a.json", {})


@pytest.mark.parametrize("command", [["lesson", "xor"], ["tune", "digits_mlp_tune", "--trials", "1"], ["tune", "digits_nas", "--trials", "1"]])
def test_an_out_folder_that_is_a_file_is_one_line_for_every_command_that_makes_one(tmp_path, capsys, command):
    """Before: mkdir's FileExistsError traceback from lesson and tune (train's is in tests/train/test_core.py)."""
    from nnforge.cli import main

    (tmp_path / "notes.txt").write_text("mine")
    assert main([*command, "--out", str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err == f"error: '{tmp_path / 'notes.txt'}' is a file, not a folder; choose another --out\n"
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_loads_json_reports_nesting_too_deep_as_a_value_error():
    assert io.loads_json('{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(ValueError, match="nested too deeply"):
        io.loads_json("[" * 100_000 + "]" * 100_000)


def test_a_write_removes_what_a_killed_write_of_the_same_file_left_and_nothing_else(tmp_path):
    """A process killed mid-write (SIGKILL: no cleanup runs) leaves its hidden temporary file; the
    next write of that file removes it. Another process's write in progress, and other files' leftovers, stay."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = int(ended.stdout)
    killed = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from nnforge import io
        def write(tmp):
            tmp.write_bytes(b"half an ONNX file")
            os.kill(os.getpid(), 9)
        io.atomic_write({str(tmp_path / 'model.onnx')!r}, write)
        """)])
    assert killed.wait(timeout=60) == -9
    left = list(tmp_path.glob(".model.onnx.*.tmp"))
    assert len(left) == 1 and left[0].read_bytes() == b"half an ONNX file"  # what SIGKILL leaves
    live = tmp_path / f".model.onnx.{os.getpid()}.inflight.tmp"  # this process writing it at the same time
    other = tmp_path / f".report.html.{dead}.x.tmp"
    for path in (live, other):
        path.write_bytes(b"x")
    io.write_bytes(tmp_path / "model.onnx", b"whole")
    assert (tmp_path / "model.onnx").read_bytes() == b"whole"
    assert not left[0].exists() and live.exists() and other.exists()


def test_a_staged_folder_replaces_the_old_one_only_when_complete_and_undoes_a_killed_swap(tmp_path):
    """A folder of results (RUN/compress/) is filled under a hidden name and swapped in whole. A process
    killed between the two renames of the swap left the old folder set aside: the next call puts it back."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = int(ended.stdout)
    folder = tmp_path / "compress"
    set_aside, half = tmp_path / f".compress.{dead}.old.tmp", tmp_path / f".compress.{dead}.x1.tmp"
    set_aside.mkdir()
    (set_aside / "compress.json").write_text("old")
    half.mkdir()
    with pytest.raises(RuntimeError), io.staged_dir(folder) as stage:
        (stage / "compress.json").write_text("half")
        raise RuntimeError("failed halfway")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compress"] and (folder / "compress.json").read_text() == "old"
    with io.staged_dir(folder) as stage:
        (stage / "compress.json").write_text("new")
        assert (folder / "compress.json").read_text() == "old"  # the old results stay until the new ones are complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compress"] and os.listdir(folder) == ["compress.json"]
    assert (folder / "compress.json").read_text() == "new"
    assert folder.stat().st_mode & 0o777 == 0o777 & ~_umask()  # as mkdir makes a folder (a temporary one is 0700)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO])
def test_a_folder_that_cannot_be_written_is_not_answered_with_an_option_the_command_may_lack(tmp_path, code):
    """compress, export, report and serve write into the run and have no --out: the advice named it anyway."""
    from nnforge.io import storage_error

    message = str(storage_error(tmp_path / "run" / "compress" / "model.onnx", OSError(code, os.strerror(code))))
    assert "--out" not in message and "\n" not in message
    assert "folder" in message  # what to do instead: make it writable, or write to another one
