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
    register_compress(sub, add, add_set)


def cmd_compress(args) -> int:
    from nnforge.compress.pipeline import compress_run

    if args.finetune_epochs < 0:  # before: taken as 0 without a word
        raise UserError(f"--finetune-epochs is {args.finetune_epochs}; accepted: 0 (none) or more")
    if args.prune is None and args.quantize is None and not args.student:  # --student alone: the comparison asked for, no more
        args.prune, args.quantize = 0.5, "int8"
    methods = ("magnitude", "channels") if args.method == "both" else (args.method,)
    table = compress_run(args.run, prune=args.prune, quantize=args.quantize, methods=methods, finetune_epochs=args.finetune_epochs,
                         students=tuple(args.student or ()))
    from nnforge.compress.pipeline import markdown_table

    print(markdown_table(table))
    print(f"wrote {args.run}/compress/compress.md and compress.json")
    return 0


def register_compress(sub, add, add_set) -> None:
    p = add(sub, "compress", "prune (magnitude or channels, then a short fine-tune) and quantize to int8; compare size, speed, accuracy",
            "nnforge compress runs/cnn --prune 0.5 --quantize int8", cmd_compress)
    p.add_argument("run", help="run directory")
    p.add_argument("--prune", type=float, help="fraction of weights/channels to remove, e.g. 0.5")
    p.add_argument("--method", default="both", choices=("magnitude", "channels", "both"), help="pruning kind (default both)")
    p.add_argument("--quantize", choices=("int8",), help="quantize to int8 (static with calibration for CNNs, dynamic otherwise)")
    p.add_argument("--finetune-epochs", type=int, default=1, help="fine-tuning epochs after pruning (default 1)")
    p.add_argument("--student", action="append", metavar="RUN",
                   help="also measure this smaller run of the same data (e.g. trained with train.distill.teacher=RUN); repeatable; "
                        "given alone, without --prune or --quantize, it is the only comparison made")
