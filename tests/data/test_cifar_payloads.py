"""The CIFAR batch reader: every real format reads, every crafted payload is a one-line DataError.

The payloads are the ones an attack on the previous reader used (it allowed ``numpy.ndarray``
and ``numpy.dtype`` as callables): an object dtype over raw bytes, a structured dtype whose
flags deny it holds objects, a negative buffer offset, and a pickle of shared references that
decodes to a gigabyte. Each is written by ``pickle.dumps`` of an object whose ``__reduce__``
says what to build, exactly as an attacker would make it.
"""

import pickle
import random
import struct

import numpy as np
import pytest

from nnforge.data.sources.batch_pickle import MAX_MEMO_GETS
from nnforge.data.sources.cifar import read_batch
from nnforge.errors import DataError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct


def batch(n=3, seed=0):
    rng = np.random.RandomState(seed)
    return {b"batch_label": b"training batch 1 of 5", b"labels": rng.randint(0, 10, n).tolist(),
            b"data": rng.randint(0, 256, (n, 3072)).astype(np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def python2_pickle(value: dict) -> bytes:
    """A batch as Python 2's cPickle wrote the official files (protocol 2, ``str`` as BINSTRING)."""

    def string(b):
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b

    def integer(v):
        return b"K" + bytes([v]) if v < 256 else b"M" + struct.pack("<H", v) if v < 65536 else b"J" + struct.pack("<i", v)

    data = value[b"data"]
    array = (b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85U\x01b\x87Rq\x04(K\x01"
             + integer(data.shape[0]) + integer(data.shape[1]) + b"\x86cnumpy\ndtype\nq\x05U\x02u1K\x00K\x01\x87Rq\x06"
             + b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" + string(data.tobytes()) + b"tb")
    body = (string(b"batch_label") + string(value[b"batch_label"])
            + string(b"labels") + b"](" + b"".join(integer(v) for v in value[b"labels"]) + b"e"
            + string(b"data") + array
            + string(b"filenames") + b"](" + b"".join(string(f) for f in value[b"filenames"]) + b"e")
    return b"\x80\x02}q\x01(" + body + b"u."


@pytest.mark.parametrize("form", ["python2", "protocol2", "protocol3", "protocol4"])
def test_every_real_form_of_a_batch_reads_as_pickle_reads_it(tmp_path, form):
    value = batch(n=4, seed=1)
    raw = python2_pickle(value) if form == "python2" else pickle.dumps(value, protocol=int(form[-1]))
    reference = pickle.loads(raw, encoding="bytes")  # the standard unpickler, as the CIFAR page says to load
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    x, y = read_batch(path)
    assert np.array_equal(x.reshape(4, -1), reference[b"data"]) and y.tolist() == reference[b"labels"]
    assert x.flags.writeable


def test_labels_stored_as_an_integer_array_read(tmp_path):
    value = batch(n=5)
    value[b"labels"] = np.array(value[b"labels"], dtype=np.int64)
    (tmp_path / "b").write_bytes(pickle.dumps(value, protocol=2))
    assert read_batch(tmp_path / "b")[1].tolist() == value[b"labels"].tolist()


class Reduce:
    """Pickles as ``func(*args)`` (then ``BUILD`` with ``state``): how a crafted batch is made."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def refused(tmp_path, data=None, labels=None, raw=None, match=None):
    value = batch(n=2)
    if data is not None:
        value[b"data"] = data
    if labels is not None:
        value[b"labels"] = labels
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw if raw is not None else pickle.dumps(value, protocol=2))
    with pytest.raises(DataError, match=match) as err:
        read_batch(path)
    message = str(err.value)
    assert "\n" not in message and "data_batch_1" in message
    return message


def test_object_dtype_over_raw_bytes_is_refused(tmp_path):
    # np.ndarray((4,), object, buffer): four "pointers" made of file bytes; reading them crashed
    payload = Reduce(np.ndarray, ((4,), np.dtype(object), b"\x41" * 32))
    refused(tmp_path, data=payload, match="dtype O8 is not a plain integer type")
    refused(tmp_path, labels=payload, match="dtype O8 is not a plain integer type")  # crashed np.asarray(labels)
    # the same through _reconstruct + BUILD, the form pickle itself writes for arrays
    payload = Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (4,), np.dtype(object), False, b"\x41" * 32))
    refused(tmp_path, data=payload, match="not a plain integer type")


def test_structured_dtype_with_flags_zero_is_refused(tmp_path):
    # a structured dtype holding an object field, its flags (last item) saying it holds none
    dtype = Reduce(np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (np.dtype(object), 0)}, 8, 1, 0))
    payload = Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (2, 3072), dtype, False, b"\x00" * 8 * 2 * 3072))
    refused(tmp_path, data=payload, match="dtype V8 is not a plain integer type")


def test_negative_offset_is_refused(tmp_path):
    # np.ndarray(shape, uint8, buffer, offset=-4096) read the process heap before the buffer
    payload = Reduce(np.ndarray, ((1, 3072), np.dtype(np.uint8), b"\x00" * 3072, -4096))
    refused(tmp_path, data=payload, labels=[1], match=r"numpy.ndarray\(...\) is never called")


def test_array_whose_bytes_do_not_match_its_shape_is_refused(tmp_path):
    short = Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (2, 3072), np.dtype(np.uint8), False, b"\x00" * 1472))
    refused(tmp_path, data=short, match="needs 6,144 bytes but holds 1,472")


def test_huge_reconstruct_shape_is_refused_before_allocating(tmp_path):
    # _reconstruct(ndarray, (10**12,), ...) allocated the shape it was given
    huge = Reduce(_reconstruct, (np.ndarray, (10**9,), b"b"), (1, (10**9,), np.dtype(np.uint8), False, b""))
    refused(tmp_path, data=huge, match="only read as _reconstruct")
    huge_state = Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (10**6, 10**6), np.dtype(np.uint8), False, b"\x00"))
    refused(tmp_path, data=huge_state, match="needs 1,000,000,000,000 bytes but holds 1")


def test_shared_reference_bomb_is_refused_at_the_first_shared_list(tmp_path):
    # 4 levels of 100 references to one list: a few KB of pickle, 10^8 labels when expanded
    level = [0] * 100
    for _ in range(3):
        level = [level] * 100
    raw = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": level}, protocol=3)
    assert len(raw) < 4096
    refused(tmp_path, raw=raw, match="referenced twice")


def test_memo_references_are_capped(tmp_path):
    # a string fetched from the memo over and over is harmless data, but not without bound
    body = b"".join([b"\x80\x02]q\x00(U\x01aq\x01", b"h\x01" * (MAX_MEMO_GETS + 1), b"e."])
    refused(tmp_path, raw=body, match="memo references")


@pytest.mark.parametrize("labels, match", [
    ([1.5, 2.0], "opcode b'G' is not used"),  # floats
    ([b"cat", b"dog"], "something other than integers"),
    ([True, False], "something other than integers"),
    ([3, 12], "labels outside 0-9"),
    ([-1, 0], "opcode b'J'|labels outside 0-9"),
    ([[1], [2]], "something other than integers"),
    ("ab", "'labels' is a str"),
])
def test_labels_that_are_not_integers_in_range_are_refused(tmp_path, labels, match):
    refused(tmp_path, labels=labels, match=match)


def test_ragged_data_is_refused(tmp_path):
    refused(tmp_path, data=[[0] * 3072, [0] * 5], match="expected 'data' as a uint8 array of shape .N, 3072., got a list")


def test_wrong_array_kind_or_count_is_refused(tmp_path):
    refused(tmp_path, data=np.zeros((2, 3072), np.int64), match="got int64 array")
    refused(tmp_path, data=np.zeros((3, 3072), np.uint8), match="3 images but 2 labels")


def test_non_utf8_key_is_refused(tmp_path):
    raw = pickle.dumps({b"\xff\xfe": 1, b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=3)
    refused(tmp_path, raw=raw, match="key of the batch is not UTF-8")


def test_a_global_is_named_only_when_it_reads_as_a_python_name(tmp_path):
    assert "'os.system'" in refused(tmp_path, raw=b"\x80\x02cos\nsystem\n)R.", match="refused to load")
    message = refused(tmp_path, raw=b"\x80\x02cos\nsys\x1b[2Jsecret:x:0:0\n)R.", match="refused to load a global whose name is not")
    assert "secret" not in message and "\x1b" not in message


def test_mutated_batches_read_or_are_one_line_data_errors(tmp_path):
    """Byte flips, truncations and insertions of a real batch: no other exception, nothing crashes."""
    good = pickle.dumps(batch(n=2), protocol=2)
    rng = random.Random(0)
    path = tmp_path / "data_batch_1"
    outcomes = {"read": 0, "refused": 0}
    for _ in range(300):
        raw = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            kind, at = rng.random(), rng.randrange(len(raw))
            if kind < 0.6:
                raw[at] = rng.randrange(256)
            elif kind < 0.8:
                del raw[at:]
            else:
                raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        path.write_bytes(bytes(raw))
        try:
            x, y = read_batch(path)
            assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32) and len(x) == len(y)
            outcomes["read"] += 1
        except DataError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
    assert outcomes["read"] > 0 and outcomes["refused"] > 0


ARRAY = pickle.dumps(np.arange(2, dtype=np.uint8), protocol=2)[2:-1]  # an array's opcodes, no PROTO or STOP
RECONSTRUCT = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"


@pytest.mark.parametrize("raw", [
    RECONSTRUCT + ARRAY + b"C\x01b\x87R.",  # _reconstruct(ndarray, <array>, b"b")
    b"cnumpy\ndtype\nC\x02u1" + ARRAY + b"\x88\x87R.",  # dtype("u1", <array>, True)
    RECONSTRUCT + b"K\x00\x85C\x01b\x87R(" + ARRAY + b"K\x00K\x00K\x00K\x00tb.",  # BUILD state (<array>, ...)
], ids=["reconstruct-shape", "dtype-flag", "build-version"])
def test_an_array_where_a_constant_is_expected_is_refused(tmp_path, raw):
    """Before: the checks compared with != / in, which an array answers element-wise: a bare ValueError
    ("truth value of an array ... is ambiguous")."""
    refused(tmp_path, raw=b"\x80\x02" + raw, match="not a readable CIFAR batch")
