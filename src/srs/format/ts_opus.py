"""Opus in MPEG-TS (the Opus project's "Encapsulation of Opus in MPEG-2 Transport Stream", an ETSI-style
draft, v0.1.3): the PES payload framing and the PMT descriptors, sans-IO.

An Opus elementary stream is a private PES (stream_type 0x06, stream_id 0xBD) whose PMT entry carries a
registration descriptor (tag 0x05) with format_identifier ``Opus`` and a DVB extension descriptor (tag
0x7F, extension tag 0x80) with a one-byte ``channel_config_code`` (:class:`srs.format.ts.TsStream` reads
both). A PES carries one or more access units, each an Opus packet (RFC 6716) after a control header:

* 11 bits ``0x3ff`` (``0x7F``, then the top three bits of the next byte), ``start_trim_flag``,
  ``end_trim_flag``, ``control_extension_flag``, 2 reserved bits;
* ``au_size``: a run of ``0xFF`` bytes (255 each) plus one final byte below 255;
* with the flags: ``start_trim`` and ``end_trim`` (16 bits each: 3 reserved + 13 bits, samples at
  48 kHz to drop at the start / end), then ``control_extension_length`` and that many bytes.

FFmpeg's muxer (5.1) writes this: the descriptors ``05 04 'Opus' 7F 02 80 <channels>``, several AUs per
PES (up to ~1.8 kB), ``start_trim`` (the encoder's pre-skip, 312 for libopus) on the first AU only.

:func:`iter_access_units` splits a PES payload; it raises only :class:`srs.util.errors.ParseError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from srs.format.ts import DESC_DVB_EXTENSION, DESC_EXT_OPUS, DESC_REGISTRATION, OPUS_REGISTRATION
from srs.util.errors import ParseError

PREFIX_MASK = 0xFFE0  # the 11 bits of the control header prefix, in the first 16 bits
PREFIX = 0x7FE0
START_TRIM = 0x10
END_TRIM = 0x08
EXTENSION = 0x04
TRIM_MASK = 0x1FFF  # 13 bits
MAX_TRIM = TRIM_MASK


@dataclass(frozen=True, slots=True)
class OpusAccessUnit:
    """One Opus packet of a PES and the trims of its control header (samples at 48 kHz; 0 = none)."""

    packet: bytes
    start_trim: int = 0
    end_trim: int = 0


def parse_control_header(data: bytes, pos: int = 0) -> tuple[int, int, int, int]:
    """The control header at ``pos`` -> (au_size, start_trim, end_trim, position of the Opus packet)."""
    n = len(data)
    if pos + 3 > n:
        raise ParseError("Opus in TS: truncated control header")
    if ((data[pos] << 8) | data[pos + 1]) & PREFIX_MASK != PREFIX:
        raise ParseError(f"Opus in TS: bad control header prefix {data[pos : pos + 2].hex()}")
    flags = data[pos + 1]
    i = pos + 2
    size = 0
    while True:
        if i >= n:
            raise ParseError("Opus in TS: truncated au_size")
        b = data[i]
        i += 1
        size += b
        if b != 0xFF:
            break
    start = end = 0
    if flags & START_TRIM:
        if i + 2 > n:
            raise ParseError("Opus in TS: truncated start_trim")
        start = ((data[i] << 8) | data[i + 1]) & TRIM_MASK
        i += 2
    if flags & END_TRIM:
        if i + 2 > n:
            raise ParseError("Opus in TS: truncated end_trim")
        end = ((data[i] << 8) | data[i + 1]) & TRIM_MASK
        i += 2
    if flags & EXTENSION:
        if i >= n:
            raise ParseError("Opus in TS: truncated control extension")
        i += 1 + data[i]
        if i > n:
            raise ParseError("Opus in TS: truncated control extension")
    return size, start, end, i


def iter_access_units(payload: bytes) -> Iterator[OpusAccessUnit]:
    """The access units of one PES payload, in order; raises :class:`ParseError` where it breaks
    (the units before that were already yielded)."""
    pos, n = 0, len(payload)
    while pos < n:
        size, start, end, i = parse_control_header(payload, pos)
        if size == 0:
            raise ParseError("Opus in TS: empty access unit")
        if i + size > n:
            raise ParseError(f"Opus in TS: access unit of {size} bytes, {n - i} left")
        yield OpusAccessUnit(payload[i : i + size], start, end)
        pos = i + size


def control_header(size: int, start_trim: int = 0, end_trim: int = 0, extension: bytes = b"") -> bytes:
    """The control header for an Opus packet of ``size`` bytes (trims of 0 are left out)."""
    if size < 0 or not 0 <= start_trim <= MAX_TRIM or not 0 <= end_trim <= MAX_TRIM or len(extension) > 255:
        raise ValueError("Opus in TS: control header field out of range")
    flags = (
        (START_TRIM if start_trim else 0) | (END_TRIM if end_trim else 0) | (EXTENSION if extension else 0)
    )
    out = bytearray((0x7F, 0xE0 | flags))
    out += b"\xff" * (size // 255) + bytes((size % 255,))
    if start_trim:
        out += start_trim.to_bytes(2, "big")
    if end_trim:
        out += end_trim.to_bytes(2, "big")
    if extension:
        out += bytes((len(extension),)) + extension
    return bytes(out)


def pack_access_units(units: list[OpusAccessUnit]) -> bytes:
    """A PES payload of these access units (the inverse of :func:`iter_access_units`)."""
    return b"".join(control_header(len(u.packet), u.start_trim, u.end_trim) + u.packet for u in units)


def descriptors(channel_config: int) -> bytes:
    """The ES_info descriptors of an Opus stream, as FFmpeg writes them (1 or 2 = mono or stereo)."""
    if not 0 <= channel_config <= 0xFF:
        raise ValueError("Opus in TS: channel_config_code is one byte")
    reg = bytes((DESC_REGISTRATION, 4)) + OPUS_REGISTRATION
    return reg + bytes((DESC_DVB_EXTENSION, 2, DESC_EXT_OPUS, channel_config))
