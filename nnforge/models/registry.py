"""The model zoo by name. Each entry builds an ``nn.Module`` from the dataset's input shape,
its class count and the recipe's ``model`` parameters (checked against the builder's signature)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Callable

from torch import nn

from nnforge.errors import ConfigError, did_you_mean, shown
from nnforge.io import is_finite, is_number
from nnforge.models.cnn import CIFAR10Net, SimpleCNN
from nnforge.models.convnet import ConvNet
from nnforge.models.mlp import ACTIVATIONS, MLP
from nnforge.models.resnet import ResNet
from nnforge.models.rnn import RecurrentNet
from nnforge.models.vit import VisionTransformer


@dataclass(frozen=True)
class ModelInfo:
    name: str
    summary: str
    build: Callable[..., nn.Module]
    defaults: dict  # overrides of the builder's own defaults for this name
    kinds: tuple[str, ...] = ("image",)


MODELS: dict[str, ModelInfo] = {
    "mlp": ModelInfo("mlp", "multilayer perceptron; the seed's 784-512-256-10 by default", MLP, {}, ("image", "tabular")),
    "cnn": ModelInfo("cnn", "the seed's SimpleCNN (conv32-conv64-fc128); channels, batch_norm, dropout adjustable", SimpleCNN, {}),
    "cifar_cnn": ModelInfo("cifar_cnn", "the seed's CIFAR10Net: 4 convs with BatchNorm, dropout 0.3", CIFAR10Net, {}),
    "resnet": ModelInfo("resnet", "residual network; blocks per stage and width set by parameters", ResNet, {}),
    "resnet18": ModelInfo("resnet18", "ResNet-18 layout: blocks [2,2,2,2], width 64", ResNet, {"blocks": [2, 2, 2, 2], "width": 64}),
    "vit": ModelInfo("vit", "a small Vision Transformer: patches as tokens, a class token, self-attention blocks", VisionTransformer, {}),
    "lstm": ModelInfo("lstm", "LSTM over a sequence (series windows; images row by row); forecasting or classes", RecurrentNet,
                      {"cell": "lstm"}, ("image", "tabular", "sequence")),
    "gru": ModelInfo("gru", "GRU over a sequence, like lstm with a lighter cell", RecurrentNet, {"cell": "gru"}, ("image", "tabular", "sequence")),
    "convnet": ModelInfo("convnet", "a conv net from a description (depth, widths, kernel, plain/residual blocks, norm, activation): "
                                    "architecture search's space", ConvNet, {}),
}


def register_model(info: ModelInfo) -> None:
    """Add a model to the zoo (used by modules that bring their own architectures)."""
    MODELS[info.name] = info


def _params(info: ModelInfo) -> dict:
    sig = inspect.signature(info.build)
    params = {k: p.default for k, p in sig.parameters.items() if k not in ("self", "input_shape", "num_classes")}
    params.update(info.defaults)
    return params


def model_info(name: str) -> ModelInfo:
    if not isinstance(name, str) or name not in MODELS:
        raise ConfigError(f"'model.name' is {shown(name)}{did_you_mean(str(name), MODELS)}; accepted: {', '.join(MODELS)}")
    return MODELS[name]


_KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a text", list: "a list"}


def check_model_config(cfg: dict) -> dict:
    """Validate ``model`` parameters against the builder and fill in defaults."""
    cfg = dict(cfg or {})
    name = cfg.pop("name", "cnn")
    info = model_info(name)
    params = _params(info)
    for key, value in cfg.items():
        if key not in params:
            raise ConfigError(f"unknown key 'model.{key}' for model '{name}'{did_you_mean(key, params)}; "
                              f"accepted: {', '.join(params) or 'none'}")
        default = params[key]
        if isinstance(default, tuple):
            default = list(default)
        if default is not None and not _same_kind(value, default):
            raise ConfigError(f"'model.{key}' is {shown(value)}; accepted for model '{name}': {_KINDS.get(type(default), type(default).__name__)} "
                              f"like {shown(default)}")
        if default is not None:
            _check_range(key, value, default)
    if cfg.get("activation", "relu") not in ACTIVATIONS:
        raise ConfigError(f"'model.activation' is {shown(cfg['activation'])}; accepted: {', '.join(ACTIVATIONS)}")
    resolved = {"name": name}
    for key, default in params.items():
        value = cfg.get(key, default)
        resolved[key] = list(value) if isinstance(value, tuple) else value
    return resolved


INT64_MAX = 2**63 - 1  # torch's sizes: a larger width was a TypeError ("Overflow when unpacking long long") from torch.empty


def _check_range(key: str, value, default) -> None:
    """Values of the right kind that no model can be built from are refused here, in one line, before
    a run folder exists: a width, count or size (an int, or a list of them) is a whole number >= 1
    (>= 0 for a count whose default is 0), a dropout a probability in [0, 1), any other number finite (the builders would fail with a torch
    traceback half-way into a run, or divide by a zero width)."""
    whole = isinstance(default, int) and not isinstance(default, bool)
    if isinstance(default, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in default):
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= INT64_MAX for v in value):
            raise ConfigError(f"'model.{key}' is {shown(value)}; accepted: a list of whole numbers >= 1 (64-bit), like {shown(default)}")
    elif whole and not (isinstance(value, int) and min(default, 1) <= value <= INT64_MAX):  # a count whose default is 0 may be 0
        raise ConfigError(f"'model.{key}' is {shown(value)}; accepted: a whole number >= {min(default, 1)} (64-bit), like {shown(default)}")
    elif isinstance(default, float):
        if not is_finite(value):  # also an int past a float's range, which math.isfinite raised OverflowError for
            raise ConfigError(f"'model.{key}' is {shown(value)}; accepted: a finite number")
        if key == "dropout" and not 0 <= value < 1:
            raise ConfigError(f"'model.{key}' is {shown(value)}; accepted: a probability >= 0 and < 1")


def _same_kind(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return is_number(value)
    if isinstance(default, list):
        return isinstance(value, list)
    return isinstance(value, type(default))


def build_model(cfg: dict, input_shape, num_classes: int, kind: str = "image") -> nn.Module:
    """Build the model a resolved ``model`` section describes, for this input shape and class count."""
    cfg = dict(cfg)
    info = model_info(cfg.pop("name"))
    if kind not in info.kinds:
        raise ConfigError(f"model '{info.name}' takes {'/'.join(info.kinds)} inputs but the dataset is {kind}; try model.name=mlp")
    if len(input_shape) == 3 and info.name in ("cnn", "cifar_cnn", "resnet", "resnet18", "vit"):
        min_side = 8
        if min(input_shape[1:]) < min_side:
            raise ConfigError(f"model '{info.name}' needs images of at least {min_side}x{min_side}; got {input_shape[1]}x{input_shape[2]}")
    params = {**info.defaults, **cfg}
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        return info.build(tuple(input_shape), num_classes, **params)
    except RuntimeError as exc:  # model.hidden: [100000000000] asks torch for 25 TB: its allocator's error, as a traceback
        if "can't allocate memory" not in str(exc):
            raise
        wanted = re.search(r"allocate (\d+) bytes", str(exc))
        size = f" ({int(wanted.group(1)) / 2**30:,.0f} GiB for one layer)" if wanted else ""
        raise ConfigError(f"model '{info.name}' with these parameters needs more memory than this machine has{size}; "
                          f"make it smaller (its widths: {', '.join(k for k, v in params.items() if _is_size(v)) or 'none'})") from None


def _is_size(value) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
