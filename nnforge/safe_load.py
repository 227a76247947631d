"""Loading weights that came from elsewhere without running anything they contain.

nnforge writes weights only as safetensors. Weights from other tools often come as ``.pt`` /
``.pth`` / ``.bin`` files: pickles, which can name any Python callable to run while loading. They
are read only by ``torch.load(weights_only=True)``, whose unpickler builds tensors and plain
containers and refuses every other global — and only on a torch release without the known
``weights_only`` bypasses (2.10 or newer), checked at run time.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path

import torch

from nnforge.errors import DataError, UnsafeFileError, excerpt

MIN_TORCH = (2, 10)
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
# where other tools nest the weights inside a saved dict
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "weights")


def torch_version() -> tuple[int, int]:
    parts = torch.__version__.split("+")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def require_safe_torch() -> None:
    """Refuse to unpickle anything on a torch whose ``weights_only`` loader has known bypasses."""
    if torch_version() < MIN_TORCH:
        raise UnsafeFileError(
            f"reading .pt/.pth files needs torch >= {MIN_TORCH[0]}.{MIN_TORCH[1]} (this is {torch.__version__}); "
            f"older releases have known weights_only bypasses; upgrade torch or convert the file to .safetensors"
        )


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat ``{name: tensor}`` state dict from ``.safetensors``, or a ``.pt``/``.pth``/``.bin`` pickle.

    For transfer learning and any other foreign weights: use this instead of ``torch.load``. A
    pickle is read only with ``torch.load(weights_only=True)`` (torch >= 2.10); one that tries
    to import or call anything is refused with :class:`~nnforge.errors.UnsafeFileError` before
    any of its code runs. A dict that nests the weights (``{"state_dict": ...}``, ``{"model": ...}``)
    is unwrapped; a ``module.`` prefix (DataParallel) is kept — strip it where you match names.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"weights file '{path}' not found; accepted: .safetensors, or .pt/.pth/.bin (tensors only)")
    if path.suffix == ".safetensors":
        from nnforge.rundir import load_state

        return load_state(path)
    if path.suffix not in PICKLE_SUFFIXES:
        raise DataError(f"{path}: unknown weights format '{path.suffix}'; accepted: .safetensors, {', '.join(PICKLE_SUFFIXES)}")
    require_safe_torch()
    _check_container(path)
    try:
        with warnings.catch_warnings():  # a damaged header's protocol byte is reported below, not warned about
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch wraps the unpickler's own one-line error (kept as __context__) in pages of advice
        inner = exc.__context__ if isinstance(exc.__context__, Exception) else exc
        detail = _first_line(inner)
        if any(marker in detail for marker in CODE_MARKERS):
            named = re.search(r"GLOBAL (\S+)", detail)  # torch goes on to say how to allow it: not advice to repeat
            detail = f"it names {named.group(1)}" if named else detail
            raise UnsafeFileError(f"{path}: refused: the file asks to run code while loading, not just hold tensors ({detail})") from None
        raise DataError(f"{path}: a damaged PyTorch checkpoint: its pickle cannot be read ({detail})") from None
    except Exception as exc:  # noqa: BLE001 - torch.load of damaged bytes fails in many ways (KeyError, struct.error, ...)
        raise DataError(f"{path}: a damaged PyTorch checkpoint ({type(exc).__name__}: {_first_line(exc)})") from None
    return _state_dict(obj, path)


# What the weights_only unpickler says when a pickle names a callable or a class to build: only
# these are code; any other failure (an unknown opcode, a truncated stream) is damage.
CODE_MARKERS = ("GLOBAL", "global", "reduce for", "create new object", "Can only build")


def _check_container(path: Path) -> None:
    """``torch.save`` writes a zip archive (legacy releases: a pickle stream); anything else is not a checkpoint."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"PK" or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        return
    raise DataError(f"{path}: not a PyTorch checkpoint: neither a zip archive (torch.save) nor a pickle stream (legacy torch.save)")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return excerpt(lines[0] if lines else type(exc).__name__, 120)


def _state_dict(obj, path: Path) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(obj, dict) and not _is_flat(obj):
            inner = next((obj[k] for k in NESTED_KEYS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict) or not obj:
        raise DataError(f"{path}: holds a {type(obj).__name__}, not a state dict of named tensors")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise DataError(f"{path}: holds no tensors; expected a state dict (name -> tensor)")
    return tensors


def _is_flat(obj: dict) -> bool:
    return any(isinstance(v, torch.Tensor) for v in obj.values())
