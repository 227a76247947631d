"""Where the recipe's optional training techniques enter a run — one function per stage.

``prepare``/``fit`` call these so that each technique has a single implementation (in its own
module) and a config key, and the loop itself stays plain. With every key at its default each
function is the identity (or returns nothing), so runs are unchanged.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn

from nnforge.data.dataset import Dataset
from nnforge.data.subset import apply_data_config
from nnforge.train.callbacks import BestModelCheckpoint, Callback, CSVLogger, EarlyStopping


def prepare_dataset(ds: Dataset, config: dict) -> Dataset:
    """Imbalance (on purpose, for experiments), a smaller training split, centred and resized images."""
    data = config["data"]
    if data.get("imbalance"):
        from dataclasses import replace

        from nnforge.train.imbalance import make_imbalanced

        x, y = make_imbalanced(ds.x_train, ds.y_train, data["imbalance"], config["seed"])
        ds = replace(ds, x_train=x, y_train=y)
    return apply_data_config(ds, data, config["seed"])  # train_fraction, fit_content, image_size (shared with eval)


def configure_preprocessing(pre, config: dict) -> None:
    if pre.kind == "image":
        pre.denoise = config["data"].get("denoise", "none")
        pre.denoise_size = config["data"].get("denoise_size", 3)


def configure_loaders(prepared) -> None:
    """Class re-sampling on the training loader; channels-last inputs on every loader."""
    config = prepared.config
    mode = config["data"].get("sampling", "none")
    if mode != "none":
        from nnforge.train.imbalance import balanced_sampler

        prepared.train_batches.sampler = balanced_sampler(prepared.dataset.y_train, mode)
    if config["train"].get("channels_last") and prepared.dataset.kind == "image":
        for loader in (prepared.train_batches, prepared.val_batches, prepared.test_batches):
            if loader is not None:
                inner = loader.transform
                loader.transform = lambda xb, f=inner: (f(xb) if f else xb).contiguous(memory_format=torch.channels_last)


def setup_model(model: nn.Module, config: dict) -> tuple[nn.Module, list[Callback]]:
    """Pretrained weights, frozen layers, channels-last memory and ``torch.compile``."""
    train = config["train"]
    extra: list[Callback] = []
    init = train.get("init", {})
    if init.get("weights"):
        from nnforge.train.transfer import load_pretrained

        report = load_pretrained(model, init["weights"], init.get("skip", []))
        print(f"init from {init['weights']}: {report.summary()}")
    if train.get("freeze"):
        from nnforge.train.transfer import Unfreeze, freeze

        names = freeze(model, train["freeze"])
        if train.get("unfreeze_epoch"):
            extra.append(Unfreeze(names, train["unfreeze_epoch"]))
    if train.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    if train.get("compile"):
        check_compile_backend(next(model.parameters()).device)
        model.compile()  # in place: parameter names (and saved weights) stay unprefixed
    return model, extra


def check_compile_backend(device: torch.device) -> None:
    """``torch.compile`` on CPU generates C++ and builds it with the system compiler at the first
    batch; without one the run would die mid-epoch with a long traceback. Say so before training."""
    if device.type != "cpu":
        return
    from nnforge.errors import ConfigError

    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except ImportError:
        return  # another torch layout: let torch.compile report for itself
    except Exception:  # noqa: BLE001 - torch raises InvalidCxxCompiler (or an OS error) when none works
        raise ConfigError("'train.compile' on CPU needs a working C++ compiler (g++ or clang++, or set CXX); "
                          "install one or set train.compile=false") from None


def optimizer_params(model: nn.Module, train_cfg: dict):
    """Every parameter, grouped by discriminative-LR multiplier (one group when none is set)."""
    from nnforge.train.transfer import param_groups

    lr_mult = train_cfg["optimizer"].get("lr_mult") or {}
    if not lr_mult and not train_cfg.get("freeze"):
        return [p for p in model.parameters() if p.requires_grad]
    return param_groups(model, train_cfg["optimizer"]["lr"], lr_mult)


def callbacks(config: dict, out: Path, extra: list[Callback] = ()) -> list[Callback]:
    """The technique callbacks a recipe asks for, in the order they must run after backward:
    the L1 penalty joins the gradient before it is measured and clipped."""
    train = config["train"]
    out = Path(out)
    cbs: list[Callback] = list(extra)
    if train.get("l1"):
        from nnforge.train.regularization import L1Penalty

        cbs.append(L1Penalty(train["l1"]))
    g = train.get("gradients", {})
    if g.get("clip_norm") is not None or g.get("clip_value") is not None or g.get("log_norms") or g.get("check"):
        from nnforge.train.gradients import GradientControl

        cbs.append(GradientControl(g.get("clip_norm"), g.get("clip_value"), out / "grad_norms.jsonl" if g.get("log_norms") else None,
                                   g.get("check", False), g.get("vanish_below", 1e-7), g.get("explode_above", 1e3)))
    if train.get("log_csv"):
        cbs.append(CSVLogger(out / "metrics.csv"))
    if train.get("save_best"):
        cbs.append(BestModelCheckpoint(out / "best_model.safetensors", train["monitor"]))
    es = train.get("early_stopping", {})
    if es.get("patience"):
        cbs.append(EarlyStopping(train["monitor"], es["patience"], es.get("min_delta", 0.0), es.get("restore_best", True)))
    return cbs


def configure_trainer(trainer, config: dict) -> None:
    """Mixed precision: the forward pass and loss under bf16 autocast (weights stay fp32)."""
    if config["train"].get("precision") == "bf16":
        device_type = trainer.device.type if trainer.device.type in ("cuda", "cpu", "mps") else "cpu"
        trainer.autocast = lambda: torch.autocast(device_type, dtype=torch.bfloat16)
    else:
        trainer.autocast = contextlib.nullcontext
