"""Reading request bodies strictly: multipart uploads, PNG/JPEG images and JSON inputs.

Everything here is pure parsing of untrusted bytes, so every failure becomes an
:class:`~nnforge.serve.limits.ApiError` with a 4xx status: a bad request can never turn into a
5xx. Images are sniffed by content (the client's declared type is ignored), only the allowed
Pillow plugins are even tried, and the pixel count is checked from the header before any pixel
is decoded, with Pillow's decompression-bomb guard left on as a second line.
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
import threading

import numpy as np

from nnforge.errors import excerpt
from nnforge.serve.limits import ApiError, Limits

MAGIC = {
    b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"SIMPLE  ": "FITS", b"BM": "BMP",
    b"RIFF": "WEBP", b"%PDF": "PDF", b"\x00\x00\x01\x00": "ICO", b"8BPS": "PSD",
}
DECODE_INLINE_PIXELS = 256 * 256  # smaller images are decoded on the event loop (cheaper than a thread hop)


# -- multipart ------------------------------------------------------------------------------

def content_type_params(value: str) -> tuple[str, dict[str, str]]:
    """(media type, parameters) of a Content-Type or Content-Disposition value (the dict is shared: read only)."""
    # Clients repeat the same few values: short ones are parsed once (long ones could fill the cache).
    return _cached_params(value) if len(value) <= 256 else _params(value)


def _params(value: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = value.partition(";")
    params = {}
    for item in rest.split(";"):
        key, sep, val = item.strip().partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return kind.strip().lower(), params


def parse_multipart(body: bytes, content_type: str, max_parts: int) -> list[tuple[str, str | None, bytes]]:
    """(field name, file name, data) for each part of a ``multipart/form-data`` body.

    Written here although python-multipart is installed, for a measured gain: on the bench's
    upload it takes 4 us against python-multipart's callback parser's 30-36 us, and in
    bench/serve_load.py (2026-12-01, onnx, two workers, alternated runs) the server answered
    6,742 and 6,692 req/s with this parser against 5,419 and 5,150 with python-multipart.
    It relies on no library's internals. Bodies are whole in memory (the size cap is 8 MB)."""
    _, params = content_type_params(content_type)
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= 200:
        raise ApiError(400, "malformed multipart body", "the Content-Type header has no usable boundary parameter")
    delim = b"--" + boundary.encode("latin-1", "replace")
    pos = body.find(delim)
    if pos < 0:
        raise ApiError(400, "malformed multipart body", "the body does not contain the boundary")
    pos += len(delim)
    parts: list[tuple[str, str | None, bytes]] = []
    sep = b"\r\n" + delim
    while not body.startswith(b"--", pos):
        if not body.startswith(b"\r\n", pos):
            raise ApiError(400, "malformed multipart body", "expected a line break after the boundary")
        pos += 2
        end = body.find(sep, pos)
        if end < 0:
            raise ApiError(400, "malformed multipart body", "the body is truncated (no closing boundary)")
        head_end = body.find(b"\r\n\r\n", pos - 2, end)
        if head_end < 0:
            raise ApiError(400, "malformed multipart body", "a part has no header block")
        headers = body[pos:head_end].decode("latin-1")
        name, filename = _disposition(headers)
        parts.append((name, filename, body[head_end + 4 : end]))
        if len(parts) > max_parts:
            raise ApiError(413, "too many parts", f"at most {max_parts} parts per request")
        pos = end + len(sep)
    return parts


def _disposition(headers: str) -> tuple[str, str | None]:
    for line in headers.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            _, params = content_type_params(value)
            return params.get("name", ""), params.get("filename")
    raise ApiError(400, "malformed multipart body", "a part has no Content-Disposition header")


_cached_params = functools.lru_cache(maxsize=512)(_params)


# -- images ---------------------------------------------------------------------------------

# Pillow walks a PNG's chunks and a JPEG's marker segments in Python, on the event loop, before
# any limit on pixels can apply: 5 MB of empty chunks or segments held the whole worker for 2-6 s
# (every request waited, /health too). Real files have a few dozen; these caps are far above that.
MAX_PNG_CHUNKS = 1024  # chunks other than IDAT (text, metadata, unknown)
MAX_PNG_IDAT = 16384  # image data chunks: 8 MB of them at 512 bytes each (encoders write 8-64 KB)
MAX_JPEG_SEGMENTS = 1024  # marker segments before the image data (start of scan)
MAX_JPEG_PADDING = 64 * 1024  # fill bytes and junk between segments, which Pillow steps over a byte at a time
_FILL = re.compile(rb"\xff+")
_JUNK = re.compile(rb"[^\xff]+")


def check_structure(data: bytes) -> None:
    """Refuse a PNG or JPEG whose structure alone would cost seconds to walk (see MAX_PNG_CHUNKS)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        pos, end, other, idat = 8, len(data), 0, 0
        while pos + 8 <= end:
            kind = data[pos + 4 : pos + 8]
            if kind == b"IEND":
                return
            if kind == b"IDAT":
                idat += 1
            else:
                other += 1
            if other > MAX_PNG_CHUNKS or idat > MAX_PNG_IDAT:
                raise ApiError(400, "unreadable image", f"the PNG has more than {MAX_PNG_CHUNKS if other > MAX_PNG_CHUNKS else MAX_PNG_IDAT} "
                                                       f"{'chunks' if other > MAX_PNG_CHUNKS else 'IDAT chunks'}; re-save it with an image editor")
            pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
    elif data.startswith(b"\xff\xd8"):
        pos, end, segments, padding = 2, len(data), 0, 0
        while pos < end and segments <= MAX_JPEG_SEGMENTS and padding <= MAX_JPEG_PADDING:
            junk = _JUNK.match(data, pos)
            if junk:
                padding += junk.end() - pos
                pos = junk.end()
                continue
            fill = _FILL.match(data, pos).end()  # data[pos] is 0xff: a marker's first byte, and any fill before it
            padding += fill - pos - 1
            if fill >= end:
                return
            marker, pos = data[fill], fill + 1
            if marker == 0xDA:  # start of scan: the rest is for the C decoder
                return
            if marker == 0x00 or 0xD0 <= marker <= 0xD9 or marker == 0x01:  # escaped 0xff, markers without a length
                padding += 2
                continue
            segments += 1
            pos += int.from_bytes(data[pos : pos + 2], "big")
        if segments > MAX_JPEG_SEGMENTS:
            raise ApiError(400, "unreadable image", f"the JPEG has more than {MAX_JPEG_SEGMENTS} marker segments before its "
                                                   "image data; re-save it with an image editor")
        if padding > MAX_JPEG_PADDING:
            raise ApiError(400, "unreadable image", f"the JPEG has more than {MAX_JPEG_PADDING} bytes of padding between its "
                                                   "segments; re-save it with an image editor")


def open_image(data: bytes, limits: Limits):
    """A lazily decoded PIL image, after the format and pixel-count checks (nothing decoded yet)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ApiError(400, "empty image", "the uploaded file has no bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=list(limits.image_formats))
    except Image.DecompressionBombError as exc:
        raise ApiError(413, "image too large", str(exc)) from None
    except UnidentifiedImageError:
        found = next((name for magic, name in MAGIC.items() if data.startswith(magic)), None)
        what = f"a {found} file" if found else "not a recognised image"
        raise ApiError(415, "unsupported image format",
                       f"the upload is {what}; accepted: {', '.join(limits.image_formats)}") from None
    except Exception as exc:  # any parser failure on untrusted bytes is the client's
        raise ApiError(400, "unreadable image", f"{type(exc).__name__}: {exc}") from None
    check_size(*image.size, limits)
    return image


def check_size(width: int, height: int, limits: Limits) -> None:
    """Refuse, from the header alone, an image whose decoding would cost more than it is worth.

    The pixel budget alone is not enough: a 31 KB PNG of 1 x 16,000,000 pixels is within it and
    cost ~15 s and +930 MB to decode and frame, so the longest side and the aspect ratio are
    bounded too (no digit, photo or scan is 50 times longer than it is wide)."""
    if width < 1 or height < 1:
        raise ApiError(400, "unreadable image", f"the image claims a size of {width}x{height}")
    if width * height > limits.max_pixels:
        raise ApiError(413, "image too large",
                       f"{width}x{height} = {width * height} pixels; the limit is {limits.max_pixels}")
    if max(width, height) > limits.max_side:
        raise ApiError(413, "image too large", f"{width}x{height}: the longest side may be {limits.max_side} pixels")
    if max(width, height) > limits.max_aspect_ratio * min(width, height):
        raise ApiError(422, "image too elongated",
                       f"{width}x{height}: the longer side may be at most {limits.max_aspect_ratio:g} times the shorter")


class RequestAbandoned(Exception):
    """The request this decoding was for has timed out or its client has gone."""


class _Abandonable:
    """The image's file, read block by block by Pillow's decoder, that stops when the request is abandoned."""

    def __init__(self, fp, abandoned: threading.Event):
        self._fp = fp
        self._abandoned = abandoned

    def read(self, *args):
        if self._abandoned.is_set():
            raise RequestAbandoned()
        return self._fp.read(*args)

    def __getattr__(self, name):
        return getattr(self._fp, name)


DECODE_BLOCK = 16 * 1024  # compressed bytes per decoding step (Pillow's default: 64 KB)
REDUCE_KEEP = 8  # reduce a large image to no less than this many times the model's input size
REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "I", "F")


def reduce_for(image, out_width: int, out_height: int):
    """Shrink a large image by an integer factor before the Lanczos pass (Pillow's ``draft`` for
    JPEG, decoding at 1/2 to 1/8 scale; ``reduce``, a box filter, otherwise). A 4000 x 4000 upload
    for a 28 x 28 model otherwise costs a Lanczos pass over 16 M pixels; kept at 8 times the
    input size or more, so that the content box found afterwards still has detail to resample."""
    keep_w, keep_h = REDUCE_KEEP * out_width, REDUCE_KEEP * out_height
    if image.format == "JPEG" and image.mode in ("L", "RGB"):
        image.draft(image.mode, (keep_w, keep_h))
    return image


def reduced(image, out_width: int, out_height: int):
    """:func:`reduce_for`'s second step, on the decoded pixels."""
    factor = min(image.width // (REDUCE_KEEP * out_width), image.height // (REDUCE_KEEP * out_height))
    if factor >= 2 and image.mode in REDUCIBLE_MODES:
        return image.reduce(factor)
    return image


def decode_image(image, preprocessing, abandoned: threading.Event | None = None) -> np.ndarray:
    """Decode the pixels and convert them with the training pipeline's own code (uint8 C,H,W).

    Large images are reduced first (:func:`reduce_for`); with ``abandoned``, decoding stops at
    the next block of compressed data once the event is set (the request timed out or its
    client left), instead of running to the end for nobody."""
    try:
        out_height, out_width = preprocessing.input_shape[1:]
        reduce_for(image, out_width, out_height)
        if abandoned is not None and getattr(image, "fp", None) is not None:
            image.fp = _Abandonable(image.fp, abandoned)
            image.decodermaxblock = DECODE_BLOCK
        image.load()
        return preprocessing.image_to_array(reduced(image, out_width, out_height))
    except (ApiError, RequestAbandoned):
        raise
    except Exception as exc:
        raise ApiError(400, "unreadable image", f"the image data is corrupt or truncated ({type(exc).__name__}: {exc})") from None


# -- JSON -----------------------------------------------------------------------------------

def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


MAX_INT_DIGITS = 100
# a run of more digits anywhere in a body: only then is every integer parsed by _parse_int
_LONG_DIGITS = re.compile(rb"\d{%d}" % (MAX_INT_DIGITS + 1))


def _parse_int(text: str) -> int:
    """An integer, short enough to be a value (Python refuses to convert one past 4,300 digits, with a
    message about ``sys.set_int_max_str_digits`` that means nothing to a client)."""
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"a whole number of {digits} digits; inputs are numbers of at most {MAX_INT_DIGITS} digits")
    return int(text)


def _unique_keys(pairs: list) -> dict:
    """An object whose keys are all different: ``{"color": "red", "color": null}`` meant one of them,
    and parsers disagree on which (Python's keeps the last); refused, where the last was used silently."""
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key '{excerpt(twice, 60)}' appears twice in one object; send each key once")
    return found


def parse_json(body: bytes):
    if not body:
        raise ApiError(400, "empty body", 'send a JSON object {"inputs": [...]} or a multipart image upload')
    try:
        # _parse_int is a Python call per integer: 300 MNIST images as JSON parsed in 82 ms with it, 24 ms
        # without; so it runs only where a long run of digits (in a number or a string) could need it
        long_digits = _parse_int if _LONG_DIGITS.search(body) else None
        return json.loads(body, parse_constant=_reject_constant, parse_int=long_digits, object_pairs_hook=_unique_keys)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid JSON", str(exc)[:200]) from None


def _numbers_only(item: list) -> bool:
    """Whether an example (a list, maybe nested one level) holds numbers only: one that does not is
    422 whatever the request's length, as the OpenAPI schema says (Schemathesis sent 785 examples of
    objects and got 413 "too many inputs")."""
    return all(type(v) in (int, float) or (isinstance(v, list) and all(type(w) in (int, float) for w in v)) for v in item)


def refuse_booleans(inputs) -> None:
    """NumPy reads ``true`` as 1.0: a boolean is not a pixel or a feature value, so it is refused."""
    stack = [inputs]
    while stack:
        item = stack.pop()
        if isinstance(item, bool):
            raise ApiError(422, "invalid field 'inputs'", "expected numbers; got a boolean (true/false)")
        if isinstance(item, list):
            stack.extend(item)


def json_inputs(doc, kind: str, input_shape: tuple[int, ...], max_inputs: int, may_hold_booleans: bool = True,
                limit: float | None = None) -> np.ndarray:
    """``{"inputs": ...}`` -> stored-form batch: uint8 (N, C, H, W) images or float32 (N, F) rows.

    One example may be sent bare or in a list; images as (C, H, W), (H, W) for one channel, or
    flat, with values 0-255; tabular rows as lists of numbers.
    """
    if not isinstance(doc, dict) or "inputs" not in doc:
        raise ApiError(422, "missing field 'inputs'", 'expected a JSON object {"inputs": [...]}')
    if len(doc) > 1:  # as the OpenAPI schema says (additionalProperties: false): a misspelt option is not ignored
        unknown = next(key for key in doc if key != "inputs")
        raise ApiError(422, "unknown field", f"{excerpt(repr(unknown), 60)}; the only field accepted is 'inputs'")
    inputs = doc["inputs"]
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(422, "invalid field 'inputs'", "expected a non-empty list (one example, or a list of examples)")
    if may_hold_booleans:
        refuse_booleans(inputs)
    single_lengths = set(input_shape[:2]) if kind == "image" else set()
    if (isinstance(inputs[0], list) and _numbers_only(inputs[0]) and len(inputs) > max_inputs
            and len(inputs) not in single_lengths):  # refused before converting them all
        raise ApiError(413, "too many inputs", f"{len(inputs)} examples; the limit is {max_inputs} per request")
    try:
        arr = np.asarray(inputs, dtype=np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise ApiError(422, "invalid field 'inputs'",
                       "expected numbers in a rectangular nested list (no strings, nulls or ragged rows)") from None
    per_example = math.prod(input_shape)
    shapes = [tuple(input_shape), (per_example,)]
    if kind == "image" and input_shape[0] == 1:
        shapes.append(tuple(input_shape[1:]))
    if arr.shape in shapes:
        arr = arr.reshape(1, per_example)
    elif arr.ndim >= 2 and arr.shape[1:] in shapes:
        arr = arr.reshape(len(arr), per_example)
    else:
        accepted = " or ".join(str(list(s)) for s in shapes)
        raise ApiError(422, "wrong input shape", f"got an array of shape {list(arr.shape)}; each example must be {accepted}")
    if len(arr) > max_inputs:
        raise ApiError(413, "too many inputs", f"{len(arr)} examples; the limit is {max_inputs} per request")
    if not np.isfinite(arr).all():
        raise ApiError(422, "invalid values", "inputs must be finite numbers")
    if kind == "image":
        if arr.min() < 0 or arr.max() > 255:
            raise ApiError(422, "invalid values", "pixel values must be in 0-255")
        return np.rint(arr).astype(np.uint8).reshape(len(arr), *input_shape)
    if limit is not None:  # a model with a tabular encoding: as its {column: value} rows
        if np.abs(arr).max() > limit:
            raise ApiError(422, "invalid values", f"inputs must be within ±{limit:.0e}")
        return arr.astype(np.float32)
    limit = float(np.finfo(np.float32).max)
    if np.abs(arr).max() > limit:  # 1e308 is a finite JSON number, and infinity once the model's float32 holds it
        raise ApiError(422, "invalid values", f"inputs must be within ±{limit:.4g} (the model computes in 32-bit floats)")
    return arr.astype(np.float32)


def record_inputs(doc, encoder, input_shape: tuple[int, ...], max_inputs: int) -> np.ndarray:
    """``{"inputs": [{"column": value, ...}, ...]}`` -> float32 (N, F) rows, encoded as in training
    (a model trained on a CSV with text columns or missing cells; ``encoder``: its
    :class:`~nnforge.data.tabular_encoding.TabularEncoding`). Values: numbers, text, or null for a
    missing cell; a missing or unknown column is a 422 naming it. An example may also be a list of
    the encoded features' numbers, as for a model without an encoding."""
    from nnforge.data.tabular_encoding import VALUE_LIMIT
    from nnforge.errors import DataError

    inputs = doc["inputs"]
    cells, numbers = {}, {}  # every example checked before the count: a malformed request is 422 whatever its length
    for n, item in enumerate(inputs):
        try:
            if isinstance(item, dict):
                cells[n] = encoder.record_cells(item, n)
            else:
                numbers[n] = json_inputs({"inputs": [item]}, "tabular", input_shape, 1, limit=VALUE_LIMIT)[0]
        except DataError as exc:
            raise ApiError(422, "invalid field 'inputs'", str(exc)) from None
        except ApiError as exc:
            raise ApiError(exc.status, exc.error, f"input {n}: {exc.detail}") from None
    if len(inputs) > max_inputs:
        raise ApiError(413, "too many inputs", f"{len(inputs)} examples; the limit is {max_inputs} per request")
    try:
        encoded = encoder.transform(list(cells.values()), "input", list(cells))
    except DataError as exc:
        raise ApiError(422, "invalid field 'inputs'", str(exc)) from None
    rows = dict(zip(cells, encoded)) | numbers
    return np.stack([rows[n] for n in range(len(inputs))]).astype(np.float32)


def holds_records(doc) -> bool:
    """A JSON body ``{"inputs": [...]}`` whose examples are objects (``{column: value}``)."""
    return (isinstance(doc, dict) and set(doc) == {"inputs"} and isinstance(doc["inputs"], list)
            and any(isinstance(item, dict) for item in doc["inputs"]))
