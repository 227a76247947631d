"""Loading weights that came from elsewhere without running anything they contain.

nnforge writes weights only as safetensors. Weights from other tools often come as ``.pt`` /
``.pth`` / ``.bin`` files: pickles, which can name any Python callable to run while loading. They
are read only by ``torch.load(weights_only=True)``, whose unpickler builds tensors and plain
containers and refuses every other global — and only on a torch release without the known
``weights_only`` bypasses (2.10 or newer), checked at run time.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from nnforge.errors import DataError, UnsafeFileError

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
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()
        detail = next((ln.strip() for ln in first if "Unsupported" in ln or "global" in ln.lower()), first[0] if first else "")
        raise UnsafeFileError(f"{path}: refused: the file asks to run code while loading, not just hold tensors ({detail})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable weights file ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") from None
    return _state_dict(obj, path)


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
