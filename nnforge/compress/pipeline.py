"""``compress_run``: prune and/or quantize a run, and compare every variant with the original.

Writes into ``RUN/compress/``:

    magnitude-50/, channels-50/   pruned models as run directories (``nnforge eval`` reads them)
    (``students``: smaller runs of the same data, e.g. distilled from this one with ``train.distill``,
    are measured on the same test images and listed beside the pruned and quantized models)
    model-fp32.onnx, model-int8.onnx
    compress.md, compress.json    the table: size on disk, CPU latency per image (batch 1 and 64),
                                  test accuracy, for the original and each compressed model

The folder is filled under a hidden name and swapped in whole when every file is written: a rerun
leaves only what its table lists, and a run that fails halfway leaves the last results as they were.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nnforge import io
from nnforge.compress import measure
from nnforge.errors import UserError


def _save_variant(run_dir: Path, out: Path, model: torch.nn.Module, meta: dict, model_cfg: dict | None = None) -> Path:
    from nnforge.rundir import save_model

    out.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in meta.items() if k != "format"}
    if model_cfg is not None:
        meta["model"] = model_cfg
    save_model(out, model, meta)
    if (run_dir / "config.yaml").is_file():  # so `nnforge eval` finds the test split
        from nnforge.config import dump_config
        from nnforge.rundir import read_recipe

        recipe = read_recipe(run_dir)
        if model_cfg is not None:
            recipe = recipe.with_overrides({"model": model_cfg})
        io.write_text(out / "config.yaml", dump_config(recipe))
    return out / "model.safetensors"


def _row(name: str, method: str, path: Path, runner, x: np.ndarray, y: np.ndarray, score=None, scored_one_at_a_time: bool = False,
         **extra) -> dict:
    """``scored_one_at_a_time``: the test score of ``runner`` on each example alone (a dynamically quantized
    model, whose answers depend on the batch: the score of what ``nnforge serve`` answers)."""
    scored = measure.one_at_a_time(runner) if scored_one_at_a_time else runner
    with measure.torch_threads(1):
        row = {
            "model": name,
            "method": method,
            "file": str(path),
            "size_bytes": measure.file_size(path),
            "gzip_bytes": measure.gzip_size(path),
            "latency_ms_batch1": measure.latency_per_image(runner, x, 1) * 1e3,
            "latency_ms_batch64": measure.latency_per_image(runner, x, 64) * 1e3,
            **(score(scored) if score is not None else {"test_accuracy": measure.accuracy(scored, x, y)}),
        }
    row.update(extra)
    return row


def compress_run(run_dir: str | Path, prune: float | None = 0.5, quantize: str | None = "int8", methods=("magnitude", "channels"),
                 finetune_epochs: int = 1, calibration_images: int = 256, log: Callable[[str], None] = print,
                 students: tuple = ()) -> dict:
    """Build the requested compressed variants of a run and measure them all; returns the table as a dict."""
    from nnforge.compress.export import export_model, onnx_metadata
    from nnforge.compress.prune import CHANNEL_MODELS, channel_prune, finalize, finetune, magnitude_prune, sparsity
    from nnforge.compress.quantize import quantize_int8, scales_per_batch
    from nnforge.data.loader import TensorLoader
    from nnforge.models import build_model
    from nnforge.predictor import load
    from nnforge.rundir import read_recipe
    from nnforge.train import prepare
    from nnforge.train.tasks import TASKS

    run_dir = Path(run_dir)
    predictor = load(run_dir)
    if quantize not in (None, "int8"):
        raise UserError(f"--quantize '{quantize}' is not supported; accepted: int8")
    if prune is not None and not 0 < prune < 1:
        raise UserError(f"--prune is {prune}; accepted: a fraction between 0 and 1 (e.g. 0.5)")
    config = read_recipe(run_dir)
    if config.task not in ("classify", "regress"):
        raise UserError(f"'{run_dir}' is a {config.task} run; compress measures classifiers (test accuracy) and regressors (test RMSE)")
    if students and predictor.regression:
        raise UserError("--student compares classifiers (test accuracy); this is a regression run")
    channels, skip_channels = None, None  # the smaller network (config, weights), or why there is none
    if prune is not None and "channels" in methods:
        name = predictor.meta["model"]["name"]
        if name not in CHANNEL_MODELS:
            skip_channels = f"channel pruning is for models {', '.join(CHANNEL_MODELS)}, not '{name}'"
        else:
            channels = channel_prune(predictor.model, predictor.meta["model"], prune)
            if sum(v.numel() for v in channels[1].values()) == sum(v.numel() for v in predictor.model.state_dict().values()):
                channels, skip_channels = None, f"this '{name}' has no hidden layer with a channel to remove at --prune {prune:g}"
        if skip_channels and tuple(methods) == ("channels",):  # asked for nothing else: not a table of the original alone
            raise UserError(f"--method channels: {skip_channels}; use --method magnitude")
    final = run_dir / "compress"
    for student in students:  # RUN/compress/ is replaced whole: a run kept in it would go with the old results
        if Path(student).resolve().is_relative_to(final.resolve()):
            raise UserError(f"--student {student} lies inside {final}/, which every compress of this run replaces; "
                            "pass a run directory outside it")
    students = [(Path(s), _load_student(Path(s), predictor)) for s in students]  # a wrong one said before minutes of pruning
    task = TASKS[config.task]()
    task.encoding = predictor.preprocessing.encoding  # a csv's rows as the model trained on them, whatever part or fold it held out
    prepared = prepare(config, task)
    score, loss = None, None
    if predictor.regression:  # standardised by the model's own scalers (a fold's differ); scores are in the target's units
        ds = prepared.extra["table"]

        def standardised(rows: np.ndarray, targets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            return (predictor.preprocessing(torch.from_numpy(rows)),
                    torch.from_numpy(((targets - predictor.target_mean) / predictor.target_std).astype(np.float32)))

        x, y = (t.numpy() for t in standardised(ds.x_test, ds.y_test))
        score = lambda runner: {"test_rmse": measure.rmse(runner, x, y, predictor.target_std)}  # noqa: E731
        loss = torch.nn.functional.mse_loss
        prepared = replace(prepared, train=TensorLoader(*standardised(ds.x_train, ds.y_train), config.data.batch_size, shuffle=True,
                                                        generator=torch.Generator().manual_seed(config.seed)))
        calibration_source = prepared.train.x
    else:
        ds = prepared.dataset
        predictor.check_dataset(ds, f"; {run_dir}/config.yaml names another dataset than the one it was trained on")
        x = predictor.preprocessing(ds.x_test).numpy()
        y = ds.y_test.numpy()
        calibration_source = None
    metric = "test_rmse" if predictor.regression else "test_accuracy"
    with io.staged_dir(final) as out:  # a rerun leaves only what its table lists; a failed one, the last results
        meta, model_cfg = predictor.meta, predictor.meta["model"]
        rows = [_row("original (fp32, torch)", "none", run_dir / "model.safetensors", measure.torch_runner(predictor.model), x, y, score,
                     parameters=sum(p.numel() for p in predictor.model.parameters()))]
        log(f"original: {_said(rows[0])}")

        if prune is not None:
            pct = int(round(prune * 100))
            if "magnitude" in methods:
                model = build_model(model_cfg, predictor.input_shape, len(predictor.classes), predictor.kind)
                model.load_state_dict(predictor.model.state_dict())
                magnitude_prune(model, prune)
                finetune(model, config, prepared, finetune_epochs, loss=loss)
                finalize(model)
                path = _save_variant(run_dir, out / f"magnitude-{pct}", model, meta)
                rows.append(_row(f"magnitude pruned {pct}% (torch)", "global magnitude, unstructured", path,
                                 measure.torch_runner(model), x, y, score, sparsity=round(sparsity(model), 4),
                                 parameters=sum(int((p != 0).sum()) for p in model.parameters())))
                log(f"magnitude pruning {pct}%: sparsity {rows[-1]['sparsity']:.1%}, {_said(rows[-1])}")
            if "channels" in methods:
                if channels is not None:
                    new_cfg, state = channels
                    model = build_model(new_cfg, predictor.input_shape, len(predictor.classes), predictor.kind)
                    model.load_state_dict(state)
                    finetune(model, config, prepared, finetune_epochs, loss=loss)
                    path = _save_variant(run_dir, out / f"channels-{pct}", model, meta, new_cfg)
                    rows.append(_row(f"channel pruned {pct}% (torch)", "L1 channels, structured", path, measure.torch_runner(model),
                                     x, y, score, parameters=sum(p.numel() for p in model.parameters()), architecture=new_cfg))
                    log(f"channel pruning {pct}%: {rows[-1]['parameters']} parameters, {_said(rows[-1])}")
                else:
                    log(f"channel pruning skipped ({skip_channels})")

        if quantize == "int8":
            fp32 = export_model(predictor.model, predictor.input_shape, out / "model-fp32.onnx", onnx_metadata(predictor))
            rows.append(_row("fp32 (ONNX Runtime)", "export", fp32, measure.onnx_runner(fp32), x, y, score))
            if calibration_source is None:
                n = min(calibration_images, len(ds.x_train))
                calibration = [predictor.preprocessing(ds.x_train[i : i + 32]).numpy() for i in range(0, n, 32)]
            else:
                calibration = [calibration_source[i : i + 32].numpy() for i in range(0, min(calibration_images, len(calibration_source)), 32)]
            int8, mode = quantize_int8(fp32, out / "model-int8.onnx", calibration)
            rows.append(_row(f"int8 {mode} (ONNX Runtime)", f"int8 {mode}", int8, measure.onnx_runner(int8), x, y, score,
                             scored_one_at_a_time=scales_per_batch(int8)))
            log(f"int8 ({mode}): {_said(rows[-1])}")

        for student_dir, student in students:
            rows.append(_student_row(student_dir, student, predictor, ds, y))
            log(f"{rows[-1]['model']}: {rows[-1]['parameters']} parameters, test accuracy {rows[-1]['test_accuracy']:.2%}")

        base = rows[0]
        for row in rows:
            row["size_ratio"] = round(row["size_bytes"] / base["size_bytes"], 4)
            if metric == "test_accuracy":
                row["accuracy_change_points"] = round(100 * (row["test_accuracy"] - base["test_accuracy"]), 2)
            else:
                row["rmse_change"] = round(row["test_rmse"] - base["test_rmse"], 6)
        for row in rows:  # the paths the files have once the folder is in place
            if Path(row["file"]).is_relative_to(out):
                row["file"] = str(final / Path(row["file"]).relative_to(out))
        table = {"run": str(run_dir), "dataset": ds.describe(), "metric": metric,
                 "latency": f"median ms per {'row' if predictor.kind == 'tabular' else 'image'} on 1 CPU thread",
                 "rows": rows}
        io.write_json(out / "compress.json", table)
        io.write_text(out / "compress.md", markdown_table(table))
    return table


def _said(row: dict) -> str:
    return f"test RMSE {row['test_rmse']:.4g}" if "test_rmse" in row else f"test accuracy {row['test_accuracy']:.2%}"


def _load_student(student_dir: Path, teacher):
    from nnforge.predictor import load

    student = load(student_dir)
    if student.meta.get("dataset") != teacher.meta.get("dataset") or student.classes != teacher.classes:
        raise UserError(f"--student {student_dir} was trained on '{student.meta.get('dataset')}', not on this run's "
                        f"'{teacher.meta.get('dataset')}' with the same classes; pass a run of the same data")
    return student


def _student_row(student_dir: Path, student, teacher, ds, y: np.ndarray) -> dict:
    """A smaller run of the same data, measured on the same test images through its own preprocessing."""
    from nnforge.rundir import read_recipe

    rows = ds.x_test
    if student.preprocessing.encoding != teacher.preprocessing.encoding:  # a csv: the same test rows, encoded as the student trained
        from nnforge.rundir import load_run_test_split

        own = load_run_test_split(teacher.run_dir, encoding=student.preprocessing.encoding)
        student.check_dataset(own, f"; --student {student_dir} was trained on other data than this run")
        rows = own.x_test
    x = student.preprocessing(rows).numpy()
    source = read_recipe(student_dir).train.distill.teacher
    how = f"distilled from {source}" if source else "trained without a teacher"
    return _row(f"student {student.meta['model']['name']} ({how})", "knowledge distillation" if source else "smaller model",
                student_dir / "model.safetensors", measure.torch_runner(student.model), x, y,
                parameters=sum(p.numel() for p in student.model.parameters()))


def markdown_table(table: dict) -> str:
    if table.get("metric") == "test_rmse":
        lines = [f"# Compression of {table['run']}", "", f"{table['dataset']}; latency: {table['latency']}.", "",
                 "| model | size KiB | x original | gzip KiB | ms/row batch 1 | ms/row batch 64 | test RMSE | change |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in table["rows"]:
            lines.append(f"| {r['model']} | {r['size_bytes'] / 1024:.1f} | {r['size_ratio']:.2f} | {r['gzip_bytes'] / 1024:.1f} | "
                         f"{r['latency_ms_batch1']:.3f} | {r['latency_ms_batch64']:.4f} | {r['test_rmse']:.4g} | {r['rmse_change']:+.4g} |")
        return "\n".join(lines) + "\n"
    unit = "row" if "per row" in table["latency"] else "image"
    lines = [f"# Compression of {table['run']}", "", f"{table['dataset']}; latency: {table['latency']}.", "",
             f"| model | size KiB | x original | gzip KiB | ms/{unit} batch 1 | ms/{unit} batch 64 | test accuracy | change (points) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in table["rows"]:
        lines.append(f"| {r['model']} | {r['size_bytes'] / 1024:.1f} | {r['size_ratio']:.2f} | {r['gzip_bytes'] / 1024:.1f} | "
                     f"{r['latency_ms_batch1']:.3f} | {r['latency_ms_batch64']:.4f} | {r['test_accuracy']:.2%} | "
                     f"{r['accuracy_change_points']:+.2f} |")
    return "\n".join(lines) + "\n"


def clear(run_dir: str | Path) -> None:
    shutil.rmtree(Path(run_dir) / "compress", ignore_errors=True)
