"""Checking a saved preprocessing description before anything is built from it.

``model.json`` is read by every command that loads a run and by the server, and the run may
come from anyone: an unknown key, a value of the wrong type or an input shape of a billion
pixels (a frame of that size is allocated per request) must be a one-line error naming the key,
not a traceback or an allocation. The bounds are far above any model nnforge trains.
"""

from __future__ import annotations

import math

from nnforge.data.filters import FILTERS
from nnforge.errors import DataError, did_you_mean, excerpt
from nnforge.io import is_finite

MAX_SIDE = 4096  # pixels along one side of an image input
MAX_VALUES = 2**24  # numbers in one input (an image's C x H x W, a row's features)
MODES = {"L": 1, "RGB": 3}
CHOICES = {"kind": ("image", "tabular"), "mode": tuple(MODES), "background": ("dark", "light"), "denoise": FILTERS}


def check_preprocessing(data, accepted: list[str]) -> dict:
    """``data`` if it describes a valid :class:`~nnforge.data.preprocess.Preprocessing`, else a DataError."""
    if not isinstance(data, dict):
        raise DataError(f"'preprocessing' is a {type(data).__name__}; expected an object with {', '.join(accepted)}")
    for key in data:
        if key not in accepted:
            raise DataError(f"unknown preprocessing key '{excerpt(key)}'{did_you_mean(str(key), accepted)}; accepted: {', '.join(accepted)}")
    for key in ("kind", "input_shape"):
        if key not in data:
            raise DataError(f"preprocessing lacks '{key}'")
    for key, choices in CHOICES.items():
        if key in data and data[key] not in choices:
            raise DataError(f"preprocessing '{key}' is '{excerpt(data[key])}'; accepted: {', '.join(choices)}")
    shape = check_input_shape(data["input_shape"], data["kind"] == "image", "preprocessing 'input_shape'")
    for key in ("mean", "std"):
        values = data.get(key, [])
        if not isinstance(values, list) or not all(is_finite(v) for v in values):  # is_finite: no OverflowError for a 400-digit int
            raise DataError(f"preprocessing '{key}' must be a list of finite numbers")
        if data["kind"] == "image" and len(values) != shape[0]:
            raise DataError(f"preprocessing '{key}' has {len(values)} values for {shape[0]} image channels")
        if data["kind"] == "tabular" and len(values) not in (1, shape[-1], math.prod(shape)):
            raise DataError(f"preprocessing '{key}' has {len(values)} values for inputs of shape {shape}")
    if not all(v > 0 for v in data.get("std", [])):
        raise DataError("preprocessing 'std' must be positive")
    if data["kind"] == "image" and MODES[data.get("mode", "L")] != shape[0]:
        raise DataError(f"preprocessing 'mode' {data.get('mode', 'L')} does not fit {shape[0]} channels")
    if type(data.get("fit_content", False)) is not bool:
        raise DataError("preprocessing 'fit_content' must be true or false")
    names = data.get("feature_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) not in (0, math.prod(shape)):
        raise DataError(f"preprocessing 'feature_names' must be a list of {math.prod(shape)} strings (or empty)")
    encoding = data.get("encoding")
    if encoding is not None:
        from nnforge.data.tabular_encoding import TabularEncoding, check_encoding

        if data["kind"] != "tabular":
            raise DataError("preprocessing 'encoding' belongs to tabular models only")
        width = TabularEncoding(check_encoding(encoding)["columns"]).width
        if width != math.prod(shape):
            raise DataError(f"preprocessing 'encoding' makes {width} features for inputs of shape {shape}")
        if names and names != TabularEncoding(encoding["columns"]).feature_names():
            raise DataError("preprocessing 'feature_names' are not the ones its 'encoding' makes")
    size = data.get("denoise_size", 3)
    if type(size) is not int or not 1 <= size <= 15:
        raise DataError("preprocessing 'denoise_size' must be an integer from 1 to 15")
    return data


def check_input_shape(shape, image: bool, what: str = "input_shape") -> list[int]:
    """An input shape of positive integers within the bounds: [C, H, W] for images."""
    if not isinstance(shape, list) or not 1 <= len(shape) <= 3 or not all(type(d) is int and d > 0 for d in shape):
        raise DataError(f"{what} must be a list of 1 to 3 positive integers")
    if image and (len(shape) != 3 or shape[0] not in MODES.values() or max(shape[1:]) > MAX_SIDE):
        raise DataError(f"{what} of an image must be [channels (1 or 3), height, width], each side at most {MAX_SIDE}")
    if math.prod(shape) > MAX_VALUES:
        raise DataError(f"{what} {excerpt(shape)} holds {math.prod(shape):,} values; at most {MAX_VALUES:,} are accepted")
    return shape
