"""Downloading standard dataset files, checked by SHA-256.

Files are streamed to a temporary name beside the destination, hashed on the way, and renamed
into place only when the digest matches, so a partial or tampered download never looks like a
real file. ``data.url`` (or ``NNFORGE_DATA_URL``) points at a mirror holding the same files.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nnforge.errors import DataError


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str
    size: int


# The published files and their digests (cross-checked against several independent listings).
MANIFESTS: dict[str, tuple[str, list[RemoteFile]]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        [
            RemoteFile("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
            RemoteFile("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
            RemoteFile("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
        ],
    ),
    "fashion-mnist": (
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        [
            RemoteFile("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
            RemoteFile("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
            RemoteFile("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
        ],
    ),
    "cifar10": (
        "https://www.cs.toronto.edu/~kriz/",
        [RemoteFile("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170498071)],
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(url: str, dest: Path, sha256: str, timeout: float = 60.0, size: int | None = None) -> Path:
    """Fetch ``url`` to ``dest`` atomically; raise DataError if it fails or the digest differs.

    With ``size`` (the manifest's), a server announcing or sending more bytes than that is cut
    off at once: a wrong or hostile mirror cannot fill the disk before the digest is checked."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            announced = response.headers.get("Content-Length", "") if response.headers else ""
            if size is not None and announced.strip().isdigit() and int(announced) > size:
                raise _TooLarge(int(announced))
            for chunk in iter(lambda: response.read(1 << 20), b""):
                received += len(chunk)
                if size is not None and received > size:
                    raise _TooLarge(received)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except _TooLarge as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"download of {url} is larger than expected ({exc.args[0]} bytes or more, expected {size}); file discarded") from None
    except (urllib.error.URLError, http.client.HTTPException, ValueError, OSError, TimeoutError) as exc:
        # HTTPException: a broken transfer (IncompleteRead of bad chunked encoding); ValueError: not a URL
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise DataError(f"could not download {url}: {reason}; place the file in {dest.parent} instead") from None
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise DataError(f"download of {url} has SHA-256 {digest.hexdigest()[:16]}..., expected {sha256[:16]}...; file discarded")
    os.replace(tmp, dest)
    return dest


class _TooLarge(Exception):
    """Raised inside :func:`download_file` when a transfer passes the manifest's size."""


def ensure_files(dataset: str, root: Path, base_url: str | None = None, download: bool = False) -> Path:
    """Make sure the standard files of ``dataset`` are in ``root``; download the missing ones if allowed."""
    default_url, files = MANIFESTS[dataset]
    base = base_url or os.environ.get("NNFORGE_DATA_URL") or default_url
    root = Path(root)
    for remote in files:
        path = root / remote.name
        if path.exists() or path.with_suffix("").exists():
            continue
        if not download:
            raise DataError(
                f"{dataset}: '{remote.name}' not found in {root}; put the standard files there "
                f"or add --set data.download=true to fetch them"
            )
        download_file(base.rstrip("/") + "/" + remote.name, path, remote.sha256, size=remote.size)
    return root
