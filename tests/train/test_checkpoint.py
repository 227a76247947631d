"""Checkpoint files: no pickle, exact round trips, damaged files detected, resume falls back."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from nnforge.config import load_config
from nnforge.errors import RunError, StorageError
from nnforge.train import fit
from nnforge.train import resume_run
from nnforge.train.checkpoint import (decode_state, encode_state, latest_checkpoint, load_checkpoint,
                                      save_checkpoint, step_checkpoints)

FAST = ["data.name=digits", "data.batch_size=64", "model.name=mlp", "model.hidden=[32]", "train.epochs=2", "train.optimizer.name=adam",
        "train.optimizer.lr=0.01", "train.progress=none", "deterministic=true", "threads=1",
        "train.checkpoint.every_steps=5", "train.checkpoint.keep=50"]


def test_state_round_trip_keeps_types_and_bits(tmp_path):
    state = {"opt": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(4)}}, "betas": (0.9, 0.999),
             "np": np.random.RandomState(0).get_state(), "py": (3, tuple(range(5)), None), "nan": math.inf,
             "gen": torch.Generator().manual_seed(1).get_state(), "s": "x", "l": [1, None, True]}
    tensors = {}
    back = decode_state(encode_state(state, tensors), tensors)
    assert back["betas"] == (0.9, 0.999) and back["py"] == (3, (0, 1, 2, 3, 4), None) and back["nan"] == math.inf
    assert torch.equal(back["opt"][0]["exp_avg"], state["opt"][0]["exp_avg"])
    assert back["np"][1].dtype == np.uint32 and np.array_equal(back["np"][1], state["np"][1])
    save_checkpoint(tmp_path / "c.safetensors", {"position": {"epoch": 0}, **state})
    loaded = load_checkpoint(tmp_path / "c.safetensors").state
    assert torch.equal(loaded["gen"], state["gen"]) and loaded["l"] == [1, None, True]
    with pytest.raises(TypeError):
        encode_state({"f": open}, {})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run = fit(load_config(None, FAST), tmp_path_factory.mktemp("ref") / "run")
    return run


def _crashed_copy(ref, dest, keep_upto):
    """The run folder as a crash after step ``keep_upto`` would leave it."""
    shutil.copytree(ref.dir, dest)
    for name in ("metrics.json", "model.json", "model.safetensors", "curves.png", "confusion.png"):
        (dest / name).unlink(missing_ok=True)
    for step, path in step_checkpoints(dest / "checkpoints"):
        if step > keep_upto:
            path.unlink()
    return dest


def test_checkpoints_hold_the_last_and_the_best(reference):
    folder = reference.dir / "checkpoints"
    steps = [s for s, _ in step_checkpoints(folder)]
    assert steps[0] == reference.history[-1]["epoch"] * 21 and 5 in steps and 21 in steps
    best = load_checkpoint(folder / "best.safetensors").state
    assert best["best"]["best"] == min(h["val_loss"] for h in reference.history)  # train.monitor: val_loss


def test_truncated_newest_checkpoint_falls_back_and_still_matches(reference, tmp_path, capsys):
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    newest = step_checkpoints(run / "checkpoints")[0][1]
    newest.write_bytes(newest.read_bytes()[:-100])
    with pytest.raises(RunError, match="truncated or corrupt"):
        load_checkpoint(newest)
    resumed = resume_run(None, run)
    assert "trying the previous checkpoint" in capsys.readouterr().err
    for key, value in reference.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value)


def test_bit_flip_is_caught_by_crc(reference, tmp_path):
    path = tmp_path / "c.safetensors"
    shutil.copy(reference.dir / "checkpoints" / "best.safetensors", path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(RunError, match="CRC32"):
        load_checkpoint(path)


def test_every_step_checkpoint_damaged_falls_back_to_best_then_to_a_clear_error(reference, tmp_path, capsys):
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=10)
    for _, path in step_checkpoints(run / "checkpoints"):
        path.write_bytes(b"garbage")
    best = latest_checkpoint(run)
    assert best.path.name == "best.safetensors"
    assert f"restarting from best.safetensors (epoch {best.position['epoch']}" in capsys.readouterr().err
    resumed = resume_run(None, run)  # continues from the best epoch and finishes the run
    assert resumed.metrics["epochs"] == reference.metrics["epochs"]
    (run / "metrics.json").unlink()
    for path in (run / "checkpoints").iterdir():
        path.write_bytes(b"garbage")
    with pytest.raises(RunError, match="no usable checkpoint"):
        latest_checkpoint(run)


def test_resume_refuses_a_changed_recipe_and_a_finished_run(reference, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in reference.dir.rglob("*") if p.is_file()}
    assert resume_run(None, reference.dir).metrics == reference.metrics  # complete: reported, nothing changed
    assert {p: p.stat().st_mtime_ns for p in reference.dir.rglob("*") if p.is_file()} == before
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    with pytest.raises(RunError, match="'model.hidden' differs"):
        resume_run(load_config(None, FAST + ["model.hidden=[16]"]), run)
    with pytest.raises(RunError, match="run directory .* not found"):
        resume_run(None, tmp_path / "nowhere")


def _edit_header(path, edit):
    """Rewrite a checkpoint's JSON header (the tensors and their CRCs stay valid), as an attacker would."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        meta, tensors = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    header = json.loads(meta["nnforge.checkpoint"])
    edit(header)
    save_file(tensors, str(path), metadata={**meta, "nnforge.checkpoint": json.dumps(header)})


@pytest.mark.parametrize("edit", [
    lambda h: h["state"]["position"].update(epoch="two"),
    lambda h: h["state"].pop("engine"),
    lambda h: h["state"].update(history={"__tensor__": "t.999999"}),
    lambda h: h["state"]["engine"]["model"].update({"layers.0.weight": {"__tensor__": "nope"}}),
    lambda h: h["state"]["rng"]["numpy"]["__tuple__"][1].update(dtype="S1000000000"),  # 624 GB if decoded
    lambda h: h["state"]["rng"]["numpy"]["__tuple__"][1].update(dtype="O"),
    # before: these were restored, and failed at the end of the run (AttributeError, TypeError in the task's metrics)
    lambda h: h["state"].update(history=[1, 2]),
    lambda h: h["state"].update(history=[{"epoch": 1, "val_accuracy": "high"}]),
])
def test_an_edited_header_with_valid_crcs_is_one_line_and_falls_back(reference, tmp_path, capsys, edit):
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    newest = step_checkpoints(run / "checkpoints")[0][1]
    _edit_header(newest, edit)
    resumed = resume_run(None, run)  # the edited file is reported and the previous one used
    assert "trying the previous checkpoint" in capsys.readouterr().err
    assert resumed.metrics["epochs"] == reference.metrics["epochs"]


@pytest.mark.parametrize("text", ["!!python/object:os.system {}\n", "\xff\xfe not yaml", "- just\n- a list\n", "a: [unclosed\n"])
def test_a_run_whose_config_yaml_is_damaged_is_one_line_for_eval_and_report(reference, tmp_path, capsys, text):
    from nnforge.cli import main

    run = tmp_path / "run"
    shutil.copytree(reference.dir, run)
    (run / "config.yaml").write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else b"\xff\xfe not yaml")
    for command in (["eval", str(run)], ["report", str(run)]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"error: {run / 'config.yaml'}") and len(err.strip().splitlines()) == 1, err


def test_the_background_writer_runs_jobs_in_order_and_raises_their_errors_here():
    import threading
    import time

    from nnforge.errors import StorageError
    from nnforge.train.checkpoint.writer import BackgroundWriter

    done, threads = [], set()

    def job(i):
        time.sleep(0.02 * (3 - i))  # the first job is the slowest: order must still hold
        threads.add(threading.current_thread().name)
        done.append(i)

    writer = BackgroundWriter()
    for i in range(3):
        writer.submit(lambda i=i: job(i))
    writer.wait()
    assert done == [0, 1, 2] and threading.current_thread().name not in threads

    def full_disk():
        raise StorageError("cannot write step-00000010.safetensors: no space left on device (errno 28)")

    writer.submit(full_disk)
    with pytest.raises(StorageError, match="no space left"):
        writer.submit(lambda: done.append("after"))  # the failure is raised at the next checkpoint
    writer.close()
    assert "after" not in done


def test_a_checkpoint_that_cannot_be_written_fails_the_run_and_leaves_the_earlier_ones(tmp_path):
    from nnforge.train import Callback

    class BlockFolder(Callback):
        """After step 6 (the step-5 file written), the checkpoint folder's place is taken by a file: the step-10 write fails."""

        def on_batch_end(self, trainer, step, logs):
            if trainer.global_step == 6:
                next(cb for cb in trainer.callbacks if hasattr(cb, "writer")).writer.wait()
                folder = tmp_path / "run" / "checkpoints"
                folder.rename(tmp_path / "kept")
                folder.write_text("in the way")

    with pytest.raises(StorageError, match="step-00000010.safetensors: a file is in the way of a folder on that path"):
        fit(load_config(None, FAST), tmp_path / "run", callbacks=[BlockFolder()])
    assert [s for s, _ in step_checkpoints(tmp_path / "kept")] == [5]
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_checkpoint_of_another_model_is_refused_before_the_run_folder_changes(reference, tmp_path):
    """A step file copied in from another run (another hidden size): --resume refuses it, and the
    run's metrics.jsonl, its later checkpoints and everything else stay as they were."""
    other = fit(load_config(None, FAST + ["model.hidden=[16]", "train.epochs=1"]), tmp_path / "other")
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    older = step_checkpoints(run / "checkpoints")[1][1]
    shutil.copy(step_checkpoints(other.dir / "checkpoints")[0][1], older)
    step_checkpoints(run / "checkpoints")[0][1].write_bytes(b"damaged")  # the newest is skipped: the foreign one is tried
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(RunError, match=f"checkpoint {older} does not fit this recipe's model"):
        resume_run(None, run)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_checkpoints_file_or_a_folder_named_like_a_step_file_is_no_traceback(reference, tmp_path):
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    (run / "checkpoints" / "step-00000099.safetensors").mkdir()  # not a checkpoint: ignored, and left alone
    resumed = resume_run(None, run)
    assert resumed.metrics["epochs"] == reference.metrics["epochs"] and (run / "checkpoints" / "step-00000099.safetensors").is_dir()
    run = _crashed_copy(reference, tmp_path / "run2", keep_upto=30)
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").write_text("notes")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(RunError, match="checkpoints' is not a folder"):
        resume_run(None, run)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("edit", [
    lambda h: h["state"].update(epoch_totals=5),  # used: the newest checkpoint is mid-epoch
    lambda h: h["state"]["callbacks"].update({key: "junk" for key in h["state"]["callbacks"]}),
    # before: each of these escaped as a traceback (RuntimeError: generator raised StopIteration while
    # skipping more batches than an epoch has; AttributeError in torch's optimizer; TypeError in training)
    lambda h: h["state"]["position"].update(step_in_epoch=10**6),
    lambda h: h["state"]["engine"].update(optimizer="junk"),
    lambda h: h["state"]["callbacks"]["NonFiniteGuard#0"].update(recent="text"),
], ids=["epoch totals", "callback states", "a step past the epoch", "optimizer state", "a callback attribute's type"])
def test_an_edited_section_that_does_not_restore_is_one_line(reference, tmp_path, edit):
    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    newest = step_checkpoints(run / "checkpoints")[0][1]
    assert load_checkpoint(newest).position["step_in_epoch"] > 0
    _edit_header(newest, edit)
    with pytest.raises(RunError, match=f"checkpoint {newest} does not fit"):
        resume_run(None, run)


def test_a_header_nested_too_deeply_for_the_json_parser_is_one_line(reference, tmp_path):
    """Before: a header of a few thousand '[' raised RecursionError out of load_checkpoint."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    newest = step_checkpoints(reference.dir / "checkpoints")[0][1]
    with safe_open(str(newest), framework="pt") as fh:
        meta, tensors = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    path = tmp_path / "step-00000001.safetensors"
    save_file(tensors, str(path), metadata={**meta, "nnforge.checkpoint": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(RunError, match="has no readable nnforge state"):
        load_checkpoint(path)


@pytest.mark.parametrize("crcs", [[1], 5, "x", None])
def test_a_header_whose_crc32_is_not_an_object_is_one_line(reference, tmp_path, crcs):
    """Before: load_checkpoint called crcs.get(...) on whatever the header held: an AttributeError."""
    path = tmp_path / "step-00000001.safetensors"
    shutil.copy(step_checkpoints(reference.dir / "checkpoints")[0][1], path)
    _edit_header(path, lambda h: h.update(crc32=crcs))
    with pytest.raises(RunError, match="has no readable nnforge state"):
        load_checkpoint(path)


def test_a_run_whose_config_yaml_predates_the_cross_key_checks_resumes(reference, tmp_path, capsys):
    """An older nnforge wrote the resolved recipe, options its features left off included (momentum for
    Adam), and ran as many clean epochs as epochs. Before, --resume refused such a run's own
    config.yaml (and its recipe may not change on resume), so it could never finish; now a check the
    run's own recipe fails is not made again, and one it passes still is."""
    from nnforge.config import dump_config
    from nnforge.errors import ConfigError

    run = _crashed_copy(reference, tmp_path / "run", keep_upto=30)
    old = load_config(run / "config.yaml").with_overrides({"train.optimizer.momentum": 0.9, "data.augment.noise": 0.01,
                                                           "data.augment.clean_epochs": 2})
    (run / "config.yaml").write_text(dump_config(old))
    resumed = resume_run(None, run)
    assert resumed.metrics["epochs"] == reference.metrics["epochs"] and (run / "metrics.json").is_file()
    assert "already complete" in (resume_run(None, run), capsys.readouterr().out)[1]
    with pytest.raises(ConfigError, match="'train.optimizer.momentum' is 0.9, but train.optimizer.name is adam"):
        fit(old, tmp_path / "new")  # a new run of that recipe is refused as before
    # a check the run's own recipe passes is still made: train.epochs may change on resume, not past the clean epochs
    fewer = _crashed_copy(reference, tmp_path / "fewer", keep_upto=30)
    (fewer / "config.yaml").write_text(dump_config(old.with_overrides({"data.augment.clean_epochs": 1})))
    with pytest.raises(ConfigError, match="'data.augment.clean_epochs' is 1, but the run has 1 epoch"):
        resume_run(load_config(fewer / "config.yaml", ["train.epochs=1"]), fewer)
