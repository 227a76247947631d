"""``nnforge export`` and ``nnforge compress``: portable and smaller models from a run."""

from __future__ import annotations

from nnforge.errors import UserError


def cmd_export(args) -> int:
    from nnforge.compress.export import export_onnx

    if args.format != "onnx":
        raise UserError(f"--format '{args.format}' is not supported; accepted: onnx")
    path = export_onnx(args.run, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB): input 'input' (batch, ...), output 'logits'")
    return 0


def register(sub, add, add_set) -> None:
    p = add(sub, "export", "export a run's model to a portable format (ONNX, dynamic batch axis)",
            "nnforge export runs/cnn --format onnx", cmd_export)
    p.add_argument("run", help="run directory")
    p.add_argument("--format", default="onnx", help="output format (onnx)")
    p.add_argument("--out", help="file to write (default: RUN/model.onnx)")
