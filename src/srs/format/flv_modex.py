"""Enhanced RTMP v2 ModEx framing, shared by ExVideoTagHeader and ExAudioTagHeader.

While the packet type is ``ModEx`` (7), the header carries ``modExDataSize`` (UI8 + 1, or UI16 + 1
when the UI8 form reads 256), ``modExData``, then ``modExType`` UB[4] | the next packet type UB[4]
(veovera/enhanced-rtmp, E-RTMP v2). The one ModEx type defined so far is a nanosecond offset
(UI24) to add to the tag's millisecond timestamp.
"""

from __future__ import annotations

from collections.abc import Callable

from srs.util.errors import ParseError

MOD_EX = 7  # the packet type value of ModEx, for video and audio alike
MOD_EX_TIMESTAMP_OFFSET_NANO = 0


def read_mod_ex(
    body: bytes, pos: int, packet_type: int, err: Callable[[str], ParseError]
) -> tuple[int, int, int | None]:
    """Skip the ModEx entries starting at ``pos``; return (position, real packet type, nano offset)."""
    n = len(body)
    nano: int | None = None
    while packet_type == MOD_EX:
        if pos >= n:
            raise err("truncated ModEx")
        size = body[pos] + 1
        pos += 1
        if size == 256:
            if pos + 2 > n:
                raise err("truncated ModEx size")
            size = ((body[pos] << 8) | body[pos + 1]) + 1
            pos += 2
        if pos + size >= n:
            raise err("truncated ModEx data")
        mod_data = body[pos : pos + size]
        pos += size
        mod_type = body[pos] >> 4
        packet_type = body[pos] & 0x0F
        pos += 1
        if mod_type == MOD_EX_TIMESTAMP_OFFSET_NANO:
            nano = int.from_bytes(mod_data[:3], "big")
    return pos, packet_type, nano
