"""Writing files so that a crash never leaves half of one behind.

Every file nnforge writes goes to a temporary name in the same folder, is flushed to disk, and
is renamed over the destination: readers see the old file or the new one, never a torn mix.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Callable, Iterator

from nnforge.errors import StorageError


def _default_mode(base: int = 0o666) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


# The one rule for every file nnforge writes: the usual 0o666 less the umask (0644 under the
# common 022), as ``open()`` would create it. Read once: changing the umask to read it is not
# safe while other threads create files.
FILE_MODE = _default_mode()
DIR_MODE = _default_mode(0o777)  # a folder: 0o777 less the umask (0755 under 022), as mkdir makes it

# Why a write can fail that the user can fix, by errno: said in words, with what is safe.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
PROBLEMS = {
    errno.ENOSPC: ("no space left on the device", ""),
    errno.EDQUOT: ("disk quota exceeded", ""),
    errno.EROFS: ("the file system is read-only", "; write to another folder"),
    errno.EACCES: ("permission denied", "; make the folder writable or write to another one"),
    errno.EPERM: ("operation not permitted", "; make the folder writable or write to another one"),
    errno.EISDIR: ("a folder of that name is in the way", "; move it away"),
    errno.ENOTDIR: ("a file is in the way of a folder on that path", "; move it away"),
    errno.EEXIST: ("a file is in the way of a folder on that path", "; move it away"),
}


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then move the result to ``path`` atomically (fsync'd).

    The result has :data:`FILE_MODE`, whatever ``write`` did to the temporary file (safetensors
    replaces it with one of its own, readable by its owner only). A full disk, a read-only or
    forbidden folder is a one-line :class:`~nnforge.errors.StorageError` naming the file:
    nothing was replaced, so what was there before (the last good checkpoint among it) is
    intact, and the message says so.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # nothing was written yet: the place is the user's to change, whatever the reason
        raise storage_error(path, exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, FILE_MODE)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException as exc:
        error = _storage_error(path, exc) if isinstance(exc, Exception) else None  # before freeing the space
        tmp_path.unlink(missing_ok=True)
        if error is not None:
            raise error from None
        raise
    _remove_orphans(path)
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def _remove_orphans(path: Path) -> None:
    """Remove the temporary files of earlier writes of ``path`` whose process is gone (killed
    mid-write: SIGKILL, a power cut), so a killed export or compress leaves no model-sized hidden
    file behind for good. A live process's (another command writing the same file) is left alone."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _storage_error(path: Path, exc: Exception) -> StorageError | None:
    """The user-facing error for a write that failed for a reason the user can fix, else None."""
    code = _errno(exc, path)
    if code not in PROBLEMS:
        return None
    problem, advice = PROBLEMS[code]
    problem = f"{problem} (errno {code}){advice}"
    if code in DISK_FULL:
        problem += ("; nothing was replaced: the previous copy of this file and the last good checkpoint are intact; "
                    "free some space, then continue with `nnforge train --resume RUN`")
    return StorageError(f"cannot write {path}: {problem}")


def storage_error(path: Path, exc: OSError) -> StorageError:
    """A one-line :class:`StorageError` for any OSError writing ``path`` (the user's to fix: the place they chose)."""
    return _storage_error(path, exc) or StorageError(f"cannot write {path}: {exc.strerror or exc}; choose another folder")


def _errno(exc: Exception, path: Path) -> int | None:
    """The OS error behind ``exc``: Python's OSError carries it, safetensors (Rust) writes it as
    'os error N' in its message, and torch's C++ writer reports none, so a failed write into a
    folder left with no free space is taken as a full disk."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    match = re.search(r"os error (\d+)", str(exc))
    if match:
        return int(match.group(1))
    if "No space left on device" in str(exc):
        return errno.ENOSPC
    if type(exc) is not RuntimeError:
        return None
    try:
        return errno.ENOSPC if os.statvfs(path.parent).f_bavail == 0 else None
    except OSError:
        return None


def file_in_the_way(path: str | Path) -> Path | None:
    """The file standing where folder ``path`` (or a folder above it) would be, if any: checked
    before anything is made, so the caller can say so in its own words instead of mkdir's traceback."""
    for place in (Path(path), *Path(path).parents):
        if place.exists():
            return None if place.is_dir() else place
    return None


def make_dir(path: str | Path) -> Path:
    """``mkdir -p`` for a folder a command writes its results in; a file in the way or a folder that
    cannot be written is a one-line :class:`~nnforge.errors.StorageError` naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(path, exc) from None
    return path


@contextlib.contextmanager
def staged_dir(path: str | Path) -> Iterator[Path]:
    """A new, empty folder to fill in place of folder ``path``; when the ``with`` block ends without
    an error it replaces ``path`` whole, and only then is what ``path`` held removed.

    A rerun's results then never sit beside an earlier run's files (a variant not asked for this
    time), and a run that fails halfway (an error, Ctrl+C) leaves ``path`` exactly as it was. The
    swap is two renames: a crash between them leaves the old folder under a hidden name, which the
    next call puts back before it starts. A file in the way, or a folder that cannot be written, is
    a one-line :class:`~nnforge.errors.StorageError` before anything is made.
    """
    path = Path(path)
    if file_in_the_way(path) is not None:
        make_dir(path)  # raises: "a file is in the way of a folder on that path"
    _recover_staged(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
        os.chmod(stage, DIR_MODE)  # mkdtemp's is 0700: readable by its owner alone
    except OSError as exc:
        raise storage_error(path, exc) from None
    old = path.with_name(f".{path.name}.{os.getpid()}.old.tmp")
    try:
        yield stage
        try:
            if path.is_dir():
                os.rename(path, old)
            try:
                os.rename(stage, path)
            except OSError:
                if old.is_dir():
                    os.rename(old, path)
                raise
        except OSError as exc:
            raise storage_error(path, exc) from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _recover_staged(path: Path) -> None:
    """Undo what a killed :func:`staged_dir` left: the old folder is put back if it was moved aside
    and nothing replaced it, and half-filled or set-aside folders of dead processes are removed."""
    for tmp in sorted(path.parent.glob(f".{glob_escape(path.name)}.*.tmp"), key=lambda p: not p.name.endswith(".old.tmp")):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if not tmp.is_dir() or not pid.isdigit() or _alive(int(pid)):
            continue
        if tmp.name.endswith(".old.tmp") and not path.exists():
            with contextlib.suppress(OSError):  # left as it is: the new folder goes in place all the same
                os.rename(tmp, path)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def file_digest(path: str | Path) -> str:
    """The first 12 hex digits of a file's SHA-256: which weights a model file holds (``model_version``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def append_jsonl(path: str | Path, obj: Any, fsync: bool = True) -> None:
    """Append one JSON line; a line is written with one ``write`` call and flushed (and fsync'd,
    unless ``fsync=False``: readers see it at once, only a crash of the machine may lose it)."""
    line = json.dumps(obj, default=_jsonable) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
    except OSError as exc:
        error = _storage_error(Path(path), exc)
        if error is None:
            raise
        raise error from None


def fsync_file(path: str | Path) -> None:
    """Make what was appended to ``path`` durable (nothing to do when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    except FileNotFoundError:
        pass
    except OSError as exc:
        error = _storage_error(Path(path), exc)
        if error is None:
            raise
        raise error from None


@contextlib.contextmanager
def utf8_name(path: str | Path):
    """A name for ``path`` that libraries taking UTF-8 text (safetensors) can open.

    Linux names are bytes: a folder named in Latin-1 ('caf\\xe9') is a str with surrogates in
    Python, which safetensors refuses ("not valid UTF-8"), so a run trained there could not be
    evaluated or resumed. Such a file is opened here and named by its descriptor (/proc/self/fd/N,
    memory-mapped as usual); other paths are passed through."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(path, os.O_RDONLY)
        try:
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    yield text


def is_number(v) -> bool:
    """An int or float, as JSON and YAML hold numbers: ``True`` and ``False`` are not numbers here
    (Python's bool is an int)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_finite(v) -> bool:
    """:func:`is_number` and finite; an int past a float's range (JSON and YAML hold ints of any size)
    is not, where ``math.isfinite`` of it raises OverflowError."""
    if not is_number(v):
        return False
    return math.isfinite(v) if isinstance(v, float) else -sys.float_info.max <= v <= sys.float_info.max


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` for a file someone may have edited: nesting deeper than the parser's recursion
    limit (a 2 KB file of ``[``) is a ValueError, like any other malformed JSON, not a RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_text(obj: Any, default: Callable | None = None) -> str:
    """Strict JSON for a command's ``--json`` output: NaN and Inf become ``null``.

    Python's ``json`` writes them as bare ``NaN``/``Infinity``, which ``jq``, JavaScript and most
    other readers reject, so one diverged run would break a script reading ``nnforge runs --json``.
    """
    return json.dumps(_finite_or_none(obj), indent=2, default=default or _jsonable, allow_nan=False)


def _finite_or_none(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _finite_or_none(obj.tolist())
    return obj


def _jsonable(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
