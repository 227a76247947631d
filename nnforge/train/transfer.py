"""Transfer learning: start from another model's weights, freeze some layers, vary the LR by layer.

* :func:`load_pretrained` copies every tensor whose *name and shape* match from a run directory
  or a weights file (``.safetensors``; ``.pt``/``.pth`` only through :mod:`nnforge.safe_load`, which
  refuses pickled code). Tensors that do not match — a head with another class count — keep
  their fresh initialisation: that is "replacing the head". ``skip`` patterns force the same.
* :func:`freeze` turns off gradients for parameters whose names match fnmatch patterns;
  :class:`Unfreeze` turns them back on at a chosen epoch (gradual fine-tuning).
* :func:`param_groups` gives each parameter the lr ``optimizer.lr * multiplier`` of the first
  ``lr_mult`` pattern it matches (discriminative learning rates).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from nnforge.errors import ConfigError, RunError, UserError
from nnforge.io import is_number
from nnforge.rundir import load_state
from nnforge.safe_load import load_weights
from nnforge.train.callbacks import Callback


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # by a skip pattern
    mismatched: list[str] = field(default_factory=list)  # same name, other shape (re-initialised)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file

    def summary(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors"]
        if self.mismatched:
            parts.append(f"re-initialised {len(self.mismatched)} of another shape ({', '.join(self.mismatched[:4])})")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} by pattern")
        if self.missing:
            parts.append(f"{len(self.missing)} not in the file")
        return "; ".join(parts)


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def read_weights(source: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a run directory, or a weights file read by :func:`nnforge.safe_load.load_weights`
    (``.safetensors``; ``.pt``/``.pth``/``.bin`` only as tensors, never running pickled code)."""
    path = Path(source)
    if path.is_dir():
        if not (path / "model.safetensors").is_file():
            raise RunError(f"'{path}' has no model.safetensors; pass a finished run directory or a weights file")
        return load_state(path / "model.safetensors")
    if not path.is_file():
        raise RunError(f"weights '{path}' not found; pass a run directory, a .safetensors file or a .pt/.pth file")
    return load_weights(path)


def load_pretrained(model: nn.Module, source: str | Path, skip=()) -> LoadReport:
    """Copy matching tensors from ``source`` into ``model``; report what was and was not loaded."""
    state = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in read_weights(source).items()}
    own = model.state_dict()
    report, update = LoadReport(), {}
    for name, tensor in own.items():
        if _matches(name, skip):
            report.skipped.append(name)
        elif name not in state:
            report.missing.append(name)
        elif state[name].shape != tensor.shape:
            report.mismatched.append(name)
        else:
            update[name] = state[name].to(tensor.dtype)
            report.loaded.append(name)
    if not update:
        raise RunError(f"no parameter of '{source}' matches this model by name and shape; is it the same architecture?")
    model.load_state_dict(update, strict=False)
    return report


def freeze(model: nn.Module, patterns) -> list[str]:
    """Stop gradients for parameters whose names match any pattern; returns their names."""
    names = [n for n, p in model.named_parameters() if _matches(n, patterns)]
    if patterns and not names:
        available = ", ".join(n for n, _ in list(model.named_parameters())[:6])
        raise UserError(f"'train.freeze' patterns {list(patterns)} match no parameter; names look like: {available}, ...")
    for n, p in model.named_parameters():
        if n in names:
            p.requires_grad_(False)
    return names


class Unfreeze(Callback):
    """Turn gradients back on, at the start of ``epoch`` (1-based), for the parameters that the
    ``patterns`` of ``train.freeze`` froze."""

    def __init__(self, patterns, epoch: int):
        self.patterns, self.epoch = list(patterns), epoch

    def on_epoch_begin(self, trainer, epoch):
        if epoch + 1 == self.epoch:
            model = trainer.engine.torch_model()
            trainer.engine.set_trainable([n for n, _ in model.named_parameters() if _matches(n, self.patterns)], True)


def init_weights(model: nn.Module, init) -> None:
    """``train.init``: start from a run's or a file's weights (every engine: the scratch twin copies them)."""
    if init.weights:
        report = load_pretrained(model, init.weights, init.skip)
        print(f"init from {init.weights}: {report.summary()}")


def setup_model(model: nn.Module, train) -> nn.Module:
    """Frozen layers (``train.freeze``), channels-last memory and ``torch.compile``, in that order; the
    model is changed in place where it can be."""
    if train.freeze:
        frozen = freeze(model, train.freeze)
        if len(frozen) == len(list(model.parameters())) and train.unfreeze_epoch != 1:  # backward would have no gradient to take
            raise ConfigError(f"'train.freeze' patterns {list(train.freeze)} match every parameter, so nothing would train"
                            f"{' before epoch ' + str(train.unfreeze_epoch) if train.unfreeze_epoch else ''}; "
                            "freeze fewer layers (leave the head trainable)")
    if train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if train.compile:
        check_compile_backend(next(model.parameters()).device)
        model.compile()  # in place: parameter names (and saved weights) stay unprefixed
    return model


def check_compile_backend(device: torch.device) -> None:
    """``torch.compile`` on CPU generates C++ and builds it with the system compiler at the first
    batch; without one the run would die mid-epoch with a long traceback. Say so before training."""
    if device.type != "cpu":
        return
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except ImportError:
        return  # another torch layout: let torch.compile report for itself
    except Exception:  # noqa: BLE001 - torch raises InvalidCxxCompiler (or an OS error) when none works
        raise ConfigError("'train.compile' on CPU needs a working C++ compiler (g++ or clang++, or set CXX); "
                          "install one or set train.compile=false") from None


def param_groups(model: nn.Module, base_lr: float, lr_mult: dict) -> list[dict]:
    """Optimizer parameter groups: every parameter (frozen ones too, so they can be unfrozen
    later; they have no gradient while frozen and the optimizer skips them), grouped by the
    first ``lr_mult`` pattern each name matches."""
    for pat, m in lr_mult.items():  # before any is used: float("abc") would be a traceback
        if not is_number(m) or not 0 <= m < math.inf:  # NaN and Inf: non-finite weights at step 1
            raise UserError(f"'train.optimizer.lr_mult' for '{pat}' is {m!r}; accepted: a finite non-negative number")
    groups: dict[float, list] = {}
    used = set()
    for name, p in model.named_parameters():
        pat = next((pat for pat in lr_mult if fnmatch.fnmatchcase(name, str(pat))), None)
        used.add(pat)
        groups.setdefault(1.0 if pat is None else float(lr_mult[pat]), []).append(p)
    unused = [pat for pat in lr_mult if pat not in used]
    if unused:  # a misspelt pattern would leave the layers it meant at the base lr
        available = ", ".join(n for n, _ in list(model.named_parameters())[:6])
        raise ConfigError(f"'train.optimizer.lr_mult' patterns {unused} match no parameter (or only ones an earlier pattern took); "
                          f"names look like: {available}, ...")
    if set(groups) == {0.0}:
        raise ConfigError("'train.optimizer.lr_mult' gives every parameter a multiplier of 0, so nothing would train; "
                          "keep some layers above 0")
    return [{"params": ps, "lr": base_lr * m, "lr_mult": m} for m, ps in groups.items()]
