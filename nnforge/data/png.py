"""Reading the plainest PNGs without Pillow: 8-bit grey or RGB, not interlaced, nothing else.

Why: the server decodes one small PNG per request, and for a 28x28 digit Pillow's decoding
costs ~30 us, nearly all of it Python around a 1-us inflate (opening the file object, the
plugin's chunk reader, the decoder set-up). Here the chunks are walked with ``struct``, the
data inflated with ``zlib`` and the rows unfiltered in C (``_png.c``): ~9 us.

It only ever answers for files it reads exactly as Pillow would, and says ``None`` for anything
else, which then goes to Pillow: other colour types or depths, interlacing, transparency, text
chunks (XMP can carry an orientation), unknown chunks, a bad checksum, data of the wrong size,
an image over ``max_pixels`` (checked from the header, before inflating anything). Pillow then
decodes it, or explains what is wrong with it, as before. The chunks it lets through are checked
as Pillow 13's ``PngImagePlugin`` checks them (its ``chunk_*`` handlers): the shortest ``gAMA``,
``cHRM``, ``sRGB`` and ``pHYs`` it reads, an ``iCCP`` with a name, compression method 0 and a
profile within ``MAX_TEXT_CHUNK``; and the image data must be one run of ``IDAT`` chunks followed
by ``IEND`` (Pillow stops reading image data at the first other chunk, and runs the handlers of
chunks after it unchecksummed, so those files go to Pillow).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

try:
    from nnforge.data import _png  # built by setup.py; absent without a C compiler
except ImportError:
    _png = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODES = {0: ("L", 1), 2: ("RGB", 3)}  # colour type -> (Pillow mode, bytes per pixel), 8-bit samples
# Chunks that change nothing in the pixels Pillow returns or in how nnforge orients them.
HARMLESS = {b"pHYs", b"tIME", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD", b"iCCP"}
# The shortest of these Pillow reads ("Truncated gAMA chunk" and so on below these lengths).
MIN_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
ICC_LIMIT = 1024 * 1024  # PngImagePlugin.MAX_TEXT_CHUNK (ImageFile.SAFEBLOCK): a larger profile is refused


class Pixels(NamedTuple):
    """Decoded 8-bit pixels, packed row by row (what ``Image.tobytes()`` gives)."""

    data: bytes
    width: int
    height: int
    mode: str

    @property
    def size(self) -> tuple[int, int]:  # as PIL's Image.size
        return self.width, self.height


def read_plain_png(data: bytes, max_pixels: int) -> Pixels | None:
    """The pixels of a plain PNG, or None: see the module's docstring for what is plain."""
    if _png is None or max_pixels < 1 or not data.startswith(SIGNATURE):
        return None
    header, idat, pos, end = None, [], len(SIGNATURE), len(data)
    while True:
        if pos + 12 > end:
            return None  # truncated: no IEND
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunk_end = pos + 12 + length
        if chunk_end > end:
            return None
        body = data[pos + 8 : chunk_end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[chunk_end - 4 : chunk_end], "big"):
            return None
        if header is None:  # the first chunk, checked before any pixel data is even read
            if kind != b"IHDR" or length != 13:
                return None
            header = width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in MODES or compression or filtering or interlace:
                return None
            if not (0 < width and 0 < height and width * height <= max_pixels):
                return None
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif idat or kind not in HARMLESS or length < MIN_LENGTH.get(kind, 0):
            return None  # a chunk after the image data, one Pillow does not know as harmless, or too short
        elif kind == b"iCCP" and not _pillow_reads_iccp(body):
            return None
        pos = chunk_end
    mode, channels = MODES[colour]
    expected = height * (1 + width * channels)
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(idat), expected + 1)
        return Pixels(_png.unfilter(raw, height, width, channels), width, height, mode)
    except (zlib.error, ValueError):
        return None  # corrupt data, wrong size or a bad filter byte: Pillow will say which


def _pillow_reads_iccp(body: bytes) -> bool:
    """Whether ``PngStream.chunk_iCCP`` accepts this body: a name, a NUL, method 0, a profile
    that inflates to at most ``MAX_TEXT_CHUNK`` (a profile that does not inflate is ignored)."""
    name_end = body.find(b"\0")  # -1 without one: Pillow then reads the method from byte 0
    if name_end + 1 >= len(body) or body[name_end + 1] != 0:
        return False
    inflater = zlib.decompressobj()
    try:
        inflater.decompress(body[name_end + 2 :], ICC_LIMIT)
    except zlib.error:
        return True
    return not inflater.unconsumed_tail
