"""Bounded decompression of HTTP bodies (gzip, deflate, brotli), for ``extract.http``; and which declared
charsets may decode a body at all (``text_codec``), for ``extract.html`` and ``extract.feeds``.

Why: a compressed body can expand a thousandfold (a 40 KB gzip bomb is 40 MB), so no decoder here ever
returns more than ``room + 1`` bytes per call, whatever the compression ratio; the caller stops at its
byte cap as soon as a call returns more than ``room``. Only the encodings that can be bounded this way
are advertised (``ACCEPT_ENCODING``); any other Content-Encoding is refused as ``bad_encoding``.
"""

from __future__ import annotations

import codecs
import zlib

import brotli

from newswatch.errors import ItemError

ACCEPT_ENCODING = "gzip, deflate, br"  # exactly the encodings decoders_for() can bound
# What a corrupt compressed body raises while being decoded.
DECODE_ERRORS = (zlib.error, brotli.error)


class ZlibDecoder:
    """gzip/deflate with bounded output: at most ``room + 1`` bytes per call, whatever the ratio."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._d = zlib.decompressobj(wbits)
        self._started = False

    def decode(self, data: bytes, room: int) -> bytes:
        if not self._started and data and self._wbits == zlib.MAX_WBITS:
            self._started = True
            try:  # "deflate" is zlib-wrapped per the RFC, raw deflate in practice on some servers
                return self._drain(data, room, bytearray())
            except zlib.error:
                self._wbits, self._d = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
        return self._drain(data, room, bytearray())

    def _drain(self, data: bytes, room: int, out: bytearray) -> bytes:
        while data and len(out) <= room:
            out += self._d.decompress(data, room - len(out) + 1)
            data = self._d.unconsumed_tail
            if self._d.eof and self._d.unused_data.startswith(b"\x1f\x8b"):  # concatenated gzip members
                data, self._d = self._d.unused_data, zlib.decompressobj(self._wbits)
        return bytes(out)

    def flush(self, room: int) -> bytes:
        return self._d.flush()[: room + 1]


class BrotliDecoder:
    """brotli with bounded output (brotli >= 1.2 ``output_buffer_limit``)."""

    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def decode(self, data: bytes, room: int) -> bytes:
        out = bytearray(self._d.process(data, output_buffer_limit=room + 1))
        while len(out) <= room and not self._d.can_accept_more_data():
            more = self._d.process(b"", output_buffer_limit=room - len(out) + 1)
            if not more:
                break
            out += more
        return bytes(out)

    def flush(self, room: int) -> bytes:  # brotli keeps no output back once input is processed
        return b""


Decoder = ZlibDecoder | BrotliDecoder

# Codecs Python calls text encodings that no web page or feed can be written in: they decode escape
# sequences or DNS labels rather than characters (punycode, idna, the escape codecs), refuse to decode
# anything (undefined), or are not web encodings and smuggle markup past filters (utf-7, which the WHATWG
# encoding standard does not support either). ``codecs.lookup(x)._is_text_encoding`` already rules out
# the bytes-to-bytes codecs (zlib, base64, hex, rot13, bz2, uu, quopri).
_REFUSED_TEXT_CODECS = frozenset({"punycode", "idna", "undefined", "unicode-escape", "raw-unicode-escape", "utf-7",
                                  "charmap"})


def text_codec(label: str) -> str | None:
    """The Python codec a declared charset names, when it is a text encoding a document may use.

    Args:
        label: a ``charset`` value from a header, ``<meta>`` or an XML declaration (any spelling).
    Returns:
        The codec's canonical name (``codecs.lookup(label).name``), or None for an unknown label or a
        codec that is not a text encoding (then the caller detects the encoding or falls back to UTF-8).
    """
    try:
        info = codecs.lookup(label.strip())
    except (LookupError, ValueError, TypeError):  # ValueError: an embedded NUL in the label
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_TEXT_CODECS:
        return None
    return info.name


def decoders_for(content_encoding: str) -> list[Decoder]:
    """The decoders for a Content-Encoding header, in the order they must be applied."""
    names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
    decoders: list[Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            decoders.append(ZlibDecoder(16 + zlib.MAX_WBITS))
        elif name == "deflate":
            decoders.append(ZlibDecoder(zlib.MAX_WBITS))
        elif name == "br":
            decoders.append(BrotliDecoder())
        elif name != "identity":
            raise ItemError("bad_encoding", f"unsupported Content-Encoding {name!r}")
    return decoders


def decoded(decoders: list[Decoder], data: bytes, room: int, *, final: bool) -> bytes:
    """Run ``data`` through the decoder chain; each stage yields at most ``room + 1`` bytes."""
    for decoder in decoders:
        data = decoder.decode(data, room) + (decoder.flush(room) if final else b"")
        if len(data) > room:
            return data
    return data
