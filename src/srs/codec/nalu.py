"""NAL unit framing shared by H.264 and H.265.

Two framings exist for the same NAL units:

* **AVCC / length-prefixed** (ISO/IEC 14496-15 5.3.4.2 and 8.3.4.2): each NAL unit is preceded by its size
  as a big-endian integer of ``lengthSizeMinusOne + 1`` bytes. RTMP/FLV and MP4 carry this form.
* **Annex B byte stream** (ITU-T H.264 Annex B, H.265 Annex B): NAL units are separated by the start code
  ``00 00 01`` (optionally preceded by ``00`` as ``zero_byte``). MPEG-TS and raw files carry this form.

Inside a NAL unit the encoder inserts ``emulation_prevention_three_byte`` (0x03) after every ``00 00`` so
that the payload never contains a start code (H.264 7.3.1 / 7.4.1, H.265 7.3.1.1); parsers of SPS or
slice headers must remove those bytes first (:func:`ebsp_to_rbsp`).
"""

from __future__ import annotations

from collections.abc import Iterable

from srs.util.errors import ParseError

START_CODE = b"\x00\x00\x00\x01"
_SC3 = b"\x00\x00\x01"
_EPB = b"\x00\x00\x03"


def split_avcc(data: bytes, length_size: int = 4) -> list[bytes]:
    """Split length-prefixed NAL units (ISO/IEC 14496-15 5.3.4.2, ``NALUnitLength``).

    Lossless: zero-length units are kept so that ``to_avcc(split_avcc(x)) == x``.
    """
    if not 1 <= length_size <= 4:
        raise ParseError(f"invalid NAL length size {length_size}")
    out: list[bytes] = []
    pos = 0
    end = len(data)
    while pos < end:
        if pos + length_size > end:
            raise ParseError(f"truncated NALU length at offset {pos}")
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if pos + size > end:
            raise ParseError(f"NALU of {size} bytes at offset {pos} exceeds payload ({end - pos} left)")
        out.append(data[pos : pos + size])
        pos += size
    return out


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream (H.264 B.1.1 ``byte_stream_nal_unit``) into NAL units.

    The stream must begin with a start code (any number of leading zero bytes allowed, as SRS's
    ``srs_avc_startswith_annexb``); trailing zero bytes before the next start code are
    ``trailing_zero_8bits`` and are dropped; empty units are skipped.
    """
    first = data.find(_SC3)
    if first < 0 or data[:first].count(0) != first:
        raise ParseError("not an Annex B byte stream: no leading start code")
    out: list[bytes] = []
    pos = first + 3
    while True:
        nxt = data.find(_SC3, pos)
        end = len(data) if nxt < 0 else nxt
        stop = end
        while stop > pos and data[stop - 1] == 0:
            stop -= 1
        if stop > pos:
            out.append(data[pos:stop])
        if nxt < 0:
            return out
        pos = nxt + 3


def to_annexb(nalus: Iterable[bytes]) -> bytes:
    """Join NAL units with 4-byte start codes (``zero_byte`` + ``start_code_prefix_one_3bytes``)."""
    return b"".join(START_CODE + bytes(n) for n in nalus)


def to_avcc(nalus: Iterable[bytes], length_size: int = 4) -> bytes:
    """Join NAL units with ``length_size``-byte big-endian size prefixes."""
    if not 1 <= length_size <= 4:
        raise ValueError(f"invalid NAL length size {length_size}")
    limit = 1 << (8 * length_size)
    parts: list[bytes] = []
    for n in nalus:
        if len(n) >= limit:
            raise ValueError(f"NALU of {len(n)} bytes does not fit a {length_size}-byte length")
        parts.append(len(n).to_bytes(length_size, "big"))
        parts.append(bytes(n))
    return b"".join(parts)


def ebsp_to_rbsp(data: bytes) -> bytes:
    """Remove ``emulation_prevention_three_byte`` (H.264 7.3.1, H.265 7.3.1.1).

    Every ``00 00 03`` loses its ``03``; the two zeros before it count from scratch after the removal,
    exactly as the NAL unit syntax loop does.
    """
    i = data.find(_EPB)
    if i < 0:
        return bytes(data)
    out = bytearray()
    start = 0
    while i >= 0:
        out += data[start : i + 2]
        start = i + 3
        i = data.find(_EPB, start)
    out += data[start:]
    return bytes(out)


def rbsp_to_ebsp(data: bytes) -> bytes:
    """Insert ``emulation_prevention_three_byte`` where the RBSP would contain ``00 00 0x`` (x <= 3).

    Inverse of :func:`ebsp_to_rbsp` for any RBSP (H.264 7.4.1: within a NAL unit the sequences
    ``00 00 00``, ``00 00 01``, ``00 00 02`` and ``00 00 03`` shall not occur).
    """
    out = bytearray()
    zeros = 0
    for b in data:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    if zeros >= 2:
        # An RBSP ending in a cabac_zero_word gets a final 0x03 (H.264 7.4.1), so that the NAL unit
        # never ends in 00 00.
        out.append(3)
    return bytes(out)
