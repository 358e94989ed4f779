"""VP8 RTP payload format, RFC 7741: only what relaying WebRTC -> WebRTC needs.

We never packetize VP8 (RTMP carries no VP8 to bridge); a WebRTC publisher's VP8 payloads go to
the players as they came (``MediaMessage.rtp``). To know frames and keyframes, each payload's
descriptor is parsed: ``X R N S R PID(3)`` then, with X, ``I L T K`` and the optional PictureID (7
or 15 bits), TL0PICIDX and TID/KEYIDX bytes. The frame's first packet (S=1, PID=0) starts with the
VP8 payload header, whose lowest bit is 0 for a key frame (RFC 7741 4.3, RFC 6386 9.1).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from srs.protocol.rtc.payload import FrameAssembler, Unit
from srs.util.errors import ParseError


def descriptor_size(payload: bytes) -> int:
    """Bytes of the payload descriptor at the start of ``payload``; ParseError if cut short."""
    n = len(payload)
    if n < 1:
        raise ParseError("vp8: empty payload")
    pos = 1
    if payload[0] & 0x80:  # X: extension byte
        if n < 2:
            raise ParseError("vp8: extension byte missing")
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: PictureID, M bit says 15 bits
            if n <= pos:
                raise ParseError("vp8: picture id missing")
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    if pos >= n:
        raise ParseError("vp8: no data after the payload descriptor")
    return pos


def starts_frame(payload: bytes) -> bool:
    """S=1 and partition 0: the first packet of a frame."""
    return bool(payload) and payload[0] & 0x10 != 0 and payload[0] & 0x07 == 0


def parse_payload(payload: bytes) -> list[Unit]:
    """One payload, checked, as one piece of the frame (its descriptor kept: see :func:`frame_data`)."""
    descriptor_size(payload)
    return [payload]


def is_keyframe(pieces: Sequence[bytes]) -> bool:
    """The frame starts with its first packet (S=1, partition 0) and the VP8 payload header there
    says key frame (P, bit 0, is 0)."""
    if not pieces or not starts_frame(pieces[0]):
        return False
    first = pieces[0]
    return first[descriptor_size(first)] & 0x01 == 0


def frame_data(pieces: Sequence[bytes]) -> bytes:
    """The VP8 frame: the pieces without their descriptors."""
    return b"".join(p[descriptor_size(p) :] for p in pieces)


assembler = functools.partial(FrameAssembler, parse_payload, is_keyframe)
