"""Reading a CIFAR python batch without letting the file choose anything that runs.

A CIFAR batch is a pickle, and ``pickle.Unpickler`` — even with ``find_class`` limited to a
few NumPy globals — hands the file the arguments of every call: ``numpy.ndarray(shape, dtype,
buffer, offset)`` then builds an object array over raw bytes (a crash when it is read) or one
that starts 4 KB before its buffer (the process's heap as training data). So this is not an
unpickler with a list of allowed callables but a small interpreter of the pickle format for the
one shape of data a batch holds: a dict of bytes/str keys whose values are bytes, strings,
small integers, lists and tuples of those, and NumPy integer arrays. (No library reads pickles
without calling what they name: fickling audits opcodes but loads with ``pickle``, and torch's
``weights_only`` unpickler builds tensors, not NumPy arrays.)

What it accepts is exactly what ``pickle.dump`` of such a dict writes at protocols 2-4 from
Python 3 (``_codecs.encode`` for bytes at protocol 2) and what Python 2's cPickle wrote for the
official batches (``SHORT_BINSTRING``/``BINSTRING`` strings). The names the file gives to
globals are only recognised, never imported: ``numpy.core.multiarray._reconstruct`` +
``BUILD`` becomes ``np.frombuffer`` of bytes whose length must equal the declared shape times
the item size; ``numpy.dtype`` becomes one of the plain integer dtypes. Nothing else is called.
Sizes are capped: the file, the decoded total, the memo references (a container fetched from
the memo is refused: that is how a 4 KB pickle becomes a gigabyte of shared references).

Every refusal is a one-line :class:`~nnforge.errors.DataError` (an
:class:`~nnforge.errors.UnsafeFileError` where the file names a global that is not data).
"""

from __future__ import annotations

import io
import math
import re
import struct
from pathlib import Path

import numpy as np

from nnforge.errors import DataError, UnsafeFileError, excerpt

MAX_FILE_BYTES = 256 * 2**20  # an official batch is 31 MB
MAX_DECODED = 512 * 2**20  # bytes of strings plus container items, over the whole file
MAX_MEMO_GETS = 1_000_000  # each costs two bytes of file; a real batch uses a few
MAX_ARRAYS = 16
MAX_NDIM = 4
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
INTEGER_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"}

RECONSTRUCT, NDARRAY, DTYPE, ENCODE, BYTES = "_reconstruct", "ndarray", "dtype", "encode", "bytes"
GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): RECONSTRUCT,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): DTYPE,
    ("_codecs", "encode"): ENCODE,
    ("__builtin__", "bytes"): BYTES,  # b"" at protocol 2
    ("builtins", "bytes"): BYTES,
}


class _Global:
    """A global the file named: a token the interpreter recognises, never the object itself."""

    def __init__(self, name: str):
        self.name = name


class _Pending:
    """A dtype or array between its REDUCE and the BUILD that gives its state."""

    def __init__(self, kind: str, name: str = ""):
        self.kind, self.name = kind, name


class _ArgTuple(tuple):
    """A tuple holding a global token: fine as REDUCE's arguments, never as data."""


class _Refused(Exception):
    """A reason to refuse the file; turned into a DataError naming it."""


def load_batch_pickle(path: Path) -> object:
    """The value pickled in ``path`` (a batch's dict), or a one-line DataError saying why not."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DataError(f"{path}: {size:,} bytes; a CIFAR batch is about 31 MB (at most {MAX_FILE_BYTES:,} read)")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return _Machine(raw).run()
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{path}: {exc}") from None
    except _Refused as exc:
        raise DataError(f"{path}: not a readable CIFAR batch ({exc})") from None


class _Machine:
    def __init__(self, raw: bytes):
        self.f = io.BytesIO(raw)
        self.stack: list = []
        self.marks: list[list] = []
        self.memo: dict[int, object] = {}
        self.decoded = 0
        self.gets = 0
        self.arrays = 0

    # -- reading arguments ----------------------------------------------------------------
    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise _Refused("truncated: the file ends inside an opcode")
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def line(self) -> str:
        data = self.f.readline(256)
        if not data.endswith(b"\n"):
            raise _Refused("a global's name is not a short line of text")
        try:
            return data[:-1].decode("ascii")
        except UnicodeDecodeError:
            raise _Refused("a global's name is not ASCII") from None

    def text(self, n: int) -> str:
        self.count(n)
        try:
            return self.read(n).decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused("a string is not valid UTF-8") from None

    def blob(self, n: int) -> bytes:
        self.count(n)
        return self.read(n)

    def count(self, n: int) -> None:
        self.decoded += n
        if self.decoded > MAX_DECODED:
            raise _Refused(f"decodes to more than {MAX_DECODED:,} bytes")

    # -- the stack ------------------------------------------------------------------------
    def pop(self):
        if not self.stack:
            raise _Refused("malformed: an opcode needs a value the stack does not hold")
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise _Refused("malformed: an opcode needs a MARK that is not there")
        items, self.stack = self.stack, self.marks.pop()
        return items

    def push_value(self, value) -> None:
        self.stack.append(value)

    @staticmethod
    def plain(value):
        """``value`` if it may be stored in a container: data, not a token or a half-built array."""
        if isinstance(value, (_Global, _Pending, _ArgTuple)):
            raise _Refused("malformed: a global or an unfinished array is used as data")
        return value

    def run(self):
        f = self.f
        while True:
            code = f.read(1)
            if not code:
                raise _Refused("truncated: no STOP opcode")
            op = OPCODES.get(code)
            if op is None:
                raise _Refused(f"opcode {code!r} is not used by CIFAR batches")
            result = op(self)
            if result is _STOP:
                if self.marks or len(self.stack) != 1:
                    raise _Refused("malformed: values left over at STOP")
                return self.plain(self.stack[0])

    # -- opcodes --------------------------------------------------------------------------
    def op_proto(self):
        version = self.unpack("<B")
        if not 2 <= version <= 4:
            raise _Refused(f"pickle protocol {version}; CIFAR batches use 2 (3 and 4 are read too)")

    def op_frame(self):
        self.unpack("<Q")  # a hint for buffering; the data follows inline

    def op_stop(self):
        return _STOP

    def op_mark(self):
        self.marks.append(self.stack)
        self.stack = []

    def op_empty_dict(self):
        self.push_value({})

    def op_empty_list(self):
        self.push_value([])

    def op_empty_tuple(self):
        self.push_value(())

    def tuple_n(self, n: int):
        self.make_tuple([self.pop() for _ in range(n)][::-1])

    def op_tuple(self):
        self.make_tuple(self.pop_mark())

    def make_tuple(self, items: list) -> None:
        self.count(len(items))
        tokens = any(isinstance(v, (_Global, _Pending, _ArgTuple)) for v in items)
        self.push_value(_ArgTuple(items) if tokens else tuple(items))  # REDUCE's arguments may hold tokens

    def op_append(self):
        value = self.plain(self.pop())
        self.append_to(self.top_list(), [value])

    def op_appends(self):
        items = self.pop_mark()
        self.append_to(self.top_list(), [self.plain(v) for v in items])

    def top_list(self) -> list:
        if not self.stack or type(self.stack[-1]) is not list:
            raise _Refused("malformed: APPEND to something that is not a list")
        return self.stack[-1]

    def append_to(self, target: list, items: list) -> None:
        self.count(len(items))
        target.extend(items)

    def op_setitem(self):
        value, key = self.plain(self.pop()), self.pop()
        self.set_items([key, value])

    def op_setitems(self):
        self.set_items(self.pop_mark())

    def set_items(self, items: list) -> None:
        if len(items) % 2:
            raise _Refused("malformed: SETITEMS with a key and no value")
        if not self.stack or type(self.stack[-1]) is not dict:
            raise _Refused("malformed: SETITEM on something that is not a dict")
        target = self.stack[-1]
        self.count(len(items))
        for key, value in zip(items[::2], items[1::2]):
            if type(key) not in (bytes, str):
                raise _Refused("a dict key is not a string")
            target[key] = self.plain(value)

    def op_int(self, fmt: str):
        self.push_value(self.unpack(fmt))

    def op_bool(self, value: bool):
        self.push_value(value)

    def op_none(self):
        self.push_value(None)

    def op_bytes(self, fmt: str):
        self.push_value(self.blob(self.unpack(fmt)))

    def op_unicode(self, fmt: str):
        self.push_value(self.text(self.unpack(fmt)))

    def op_global(self):
        module, name = self.line(), self.line()
        self.push_global(module, name)

    def op_stack_global(self):
        name, module = self.pop(), self.pop()
        if type(name) is not str or type(module) is not str:
            raise _Refused("malformed: STACK_GLOBAL needs two strings")
        self.push_global(module, name)

    def push_global(self, module: str, name: str) -> None:
        token = GLOBALS.get((module, name))
        if token is None:
            # named only when it reads as a Python name: the file may not be one the user chose
            what = f"'{excerpt(module)}.{excerpt(name)}'" if IDENTIFIER.fullmatch(f"{module}.{name}") else "a global whose name is not a Python name"
            raise UnsafeFileError(f"refused to load {what}: a data file may only hold arrays, lists and dicts")
        self.push_value(_Global(token))

    def op_put(self, fmt: str):
        if not self.stack:
            raise _Refused("malformed: PUT with an empty stack")
        self.memo[self.unpack(fmt)] = self.stack[-1]

    def op_memoize(self):
        if not self.stack:
            raise _Refused("malformed: MEMOIZE with an empty stack")
        self.memo[len(self.memo)] = self.stack[-1]

    def op_get(self, fmt: str):
        key = self.unpack(fmt)
        if key not in self.memo:
            raise _Refused("malformed: GET of a value never stored")
        self.gets += 1
        if self.gets > MAX_MEMO_GETS:
            raise _Refused(f"more than {MAX_MEMO_GETS:,} memo references")
        value = self.memo[key]
        if isinstance(value, (list, dict, _Pending)) or (type(value) is tuple and any(isinstance(v, (list, dict, tuple)) for v in value)):
            raise _Refused("a list, dict or array is referenced twice (shared references can multiply the decoded size)")
        self.push_value(value)

    def op_reduce(self):
        args, func = self.pop(), self.pop()
        if not isinstance(func, _Global) or type(args) not in (tuple, _ArgTuple):
            raise _Refused("malformed: REDUCE of something that is not a known global")
        self.push_value(REDUCERS[func.name](self, args))

    def op_build(self):
        state = self.pop()
        if not self.stack or not isinstance(self.stack[-1], _Pending):
            raise _Refused("BUILD of something that is not a NumPy array or dtype")
        pending = self.stack.pop()
        value = _build_dtype(pending, state) if pending.kind == DTYPE else self.build_array(state)
        self.push_value(value)
        for key, stored in self.memo.items():  # the memo may hold the half-built value too
            if stored is pending:
                self.memo[key] = value

    def build_array(self, state) -> np.ndarray:
        self.arrays += 1
        if self.arrays > MAX_ARRAYS:
            raise _Refused(f"more than {MAX_ARRAYS} arrays")
        if type(state) is not tuple or len(state) != 5 or not _is_one_of(state[0], 1):
            raise _Refused("an array's state is not (1, shape, dtype, fortran, data)")
        _, shape, dtype, fortran, data = state
        if type(shape) is not tuple or len(shape) > MAX_NDIM or any(type(d) is not int or d < 0 for d in shape):
            raise _Refused(f"an array's shape is not a tuple of at most {MAX_NDIM} non-negative integers")
        if not isinstance(dtype, np.dtype):
            raise _Refused("an array's dtype is not one of the plain integer dtypes")
        if not _is_one_of(fortran, False, True, 0, 1) or type(data) is not bytes:
            raise _Refused("an array's data is not a plain byte string")
        expected = math.prod(shape) * dtype.itemsize
        if len(data) != expected:
            raise _Refused(f"an array of shape {shape} and dtype {dtype} needs {expected:,} bytes but holds {len(data):,}")
        array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        return np.ascontiguousarray(array).copy() if fortran else array.copy()


def _is_one_of(value, *options) -> bool:
    """Whether ``value`` is one of ``options``, compared only with values of the same type (tuples item
    by item): a NumPy array the file placed there compares element-wise, and ``if`` of that raised a
    bare ValueError (an array of one 0 passed for ``0``)."""
    for option in options:
        if type(value) is not type(option):
            continue
        if type(option) is tuple:
            if len(value) == len(option) and all(_is_one_of(v, o) for v, o in zip(value, option)):
                return True
        elif value == option:
            return True
    return False


def _reduce_encode(machine: _Machine, args: tuple) -> bytes:
    if len(args) != 2 or type(args[0]) is not str or not _is_one_of(args[1], "latin1", "latin-1"):
        raise _Refused("_codecs.encode is only read as encode(text, 'latin1'), pickle's form of bytes")
    try:
        return args[0].encode("latin1")
    except UnicodeEncodeError:
        raise _Refused("_codecs.encode of text that is not latin-1") from None


def _reduce_bytes(machine: _Machine, args: tuple) -> bytes:
    if args:
        raise _Refused("bytes(...) is only read as bytes(), pickle's form of b''")
    return b""


def _reduce_dtype(machine: _Machine, args: tuple) -> _Pending:
    if len(args) != 3 or type(args[0]) not in (str, bytes) or not _is_one_of(args[1], 0, False) or not _is_one_of(args[2], 1, True):
        raise _Refused("numpy.dtype is only read as dtype(name, False, True)")
    name = args[0].decode("ascii", "replace") if type(args[0]) is bytes else args[0]
    if name not in INTEGER_DTYPES:
        raise _Refused(f"dtype {excerpt(name)} is not a plain integer type ({', '.join(sorted(INTEGER_DTYPES))})")
    return _Pending(DTYPE, name)


def _reduce_reconstruct(machine: _Machine, args: tuple) -> _Pending:
    if (len(args) != 3 or not isinstance(args[0], _Global) or args[0].name != NDARRAY
            or not _is_one_of(args[1], (0,)) or not _is_one_of(args[2], b"b", "b")):
        raise _Refused("_reconstruct is only read as _reconstruct(ndarray, (0,), b'b'), pickle's form of an array")
    return _Pending(NDARRAY)


def _build_dtype(pending: _Pending, state) -> np.dtype:
    order = state[1] if type(state) is tuple and len(state) == 8 else None
    order = order.decode("ascii", "replace") if type(order) is bytes else order
    if (type(state) is not tuple or len(state) != 8 or not _is_one_of(state[0], 3) or not _is_one_of(state[2:], (None, None, None, -1, -1, 0))
            or not _is_one_of(order, "|", "<", ">", "=") or (pending.name[1] == "1") != (order == "|")):
        raise _Refused("a dtype's state is not that of a plain integer type (no fields, no sub-arrays, no metadata)")
    return np.dtype(pending.name if order == "|" else order + pending.name)


REDUCERS = {ENCODE: _reduce_encode, BYTES: _reduce_bytes, DTYPE: _reduce_dtype, RECONSTRUCT: _reduce_reconstruct}


def _reduce_ndarray(machine: _Machine, args: tuple):
    raise _Refused("numpy.ndarray(...) is never called; arrays are read only from _reconstruct and BUILD")


REDUCERS[NDARRAY] = _reduce_ndarray
_STOP = object()

# The opcodes ``pickle.dump`` writes for a batch at protocols 2-4, and Python 2's strings.
OPCODES = {
    b"\x80": _Machine.op_proto,
    b"\x95": _Machine.op_frame,
    b".": _Machine.op_stop,
    b"(": _Machine.op_mark,
    b"}": _Machine.op_empty_dict,
    b"]": _Machine.op_empty_list,
    b")": _Machine.op_empty_tuple,
    b"t": _Machine.op_tuple,
    b"\x85": lambda m: m.tuple_n(1),
    b"\x86": lambda m: m.tuple_n(2),
    b"\x87": lambda m: m.tuple_n(3),
    b"a": _Machine.op_append,
    b"e": _Machine.op_appends,
    b"s": _Machine.op_setitem,
    b"u": _Machine.op_setitems,
    b"K": lambda m: m.op_int("<B"),  # BININT1
    b"M": lambda m: m.op_int("<H"),  # BININT2
    b"J": lambda m: m.op_int("<i"),  # BININT
    b"\x88": lambda m: m.op_bool(True),
    b"\x89": lambda m: m.op_bool(False),
    b"N": _Machine.op_none,
    b"U": lambda m: m.op_bytes("<B"),  # SHORT_BINSTRING (Python 2 str): read as bytes
    b"T": lambda m: m.op_bytes("<I"),  # BINSTRING
    b"C": lambda m: m.op_bytes("<B"),  # SHORT_BINBYTES
    b"B": lambda m: m.op_bytes("<I"),  # BINBYTES
    b"X": lambda m: m.op_unicode("<I"),  # BINUNICODE
    b"\x8c": lambda m: m.op_unicode("<B"),  # SHORT_BINUNICODE
    b"c": _Machine.op_global,
    b"\x93": _Machine.op_stack_global,
    b"q": lambda m: m.op_put("<B"),  # BINPUT
    b"r": lambda m: m.op_put("<I"),  # LONG_BINPUT
    b"\x94": _Machine.op_memoize,
    b"h": lambda m: m.op_get("<B"),  # BINGET
    b"j": lambda m: m.op_get("<I"),  # LONG_BINGET
    b"R": _Machine.op_reduce,
    b"b": _Machine.op_build,
}
