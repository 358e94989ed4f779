"""H.265 RTP payload format, RFC 7798 (single NAL unit, AP, FU; no DONL: sprop-max-don-diff is 0).

The NAL unit header is two bytes: ``F(1) Type(6) LayerId(6) TID(3)``. The SRS source we follow skips HEVC
in its RTMP->RTC builder (``package_video``: "WebRTC does NOT support HEVC"); we packetize it the way SRS
packetizes H.264: VPS, SPS and PPS in one AP before each IRAP picture, other NAL units alone when they fit
``max_payload``, else in FUs; marker on the last packet of the access unit. PACI (type 50) is refused with :class:`ParseError`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from srs.protocol.rtc.payload import (
    Fragment,
    FrameAssembler,
    PayloadPacket,
    Unit,
    packetize_nalus,
    split_aggregate,
)
from srs.util.errors import LocalProtocolError, ParseError

MAX_PAYLOAD = 1200
AP = 48
FU = 49
NALU_VPS = 32
NALU_SPS = 33
NALU_PPS = 34
PARAMETER_SETS = (NALU_VPS, NALU_SPS, NALU_PPS)


def nalu_type(nalu: bytes) -> int:
    return (nalu[0] >> 1) & 0x3F if nalu else 0


def is_keyframe(nalus: Sequence[bytes]) -> bool:
    """An IRAP picture (BLA, IDR, CRA: types 16..21) in the access unit."""
    return any(16 <= nalu_type(n) <= 21 for n in nalus)


def _ap(nalus: list[bytes]) -> bytes:
    # RFC 7798 4.4.2: F is the OR, LayerId and TID the lowest of the aggregated units.
    f = max(n[0] & 0x80 for n in nalus)
    layer = min(((n[0] & 1) << 5) | (n[1] >> 3) for n in nalus)
    tid = min(n[1] & 7 for n in nalus)
    head = bytes([f | (AP << 1) | (layer >> 5), ((layer & 0x1F) << 3) | tid])
    return head + b"".join(len(n).to_bytes(2, "big") + n for n in nalus)


def _fu(nalu: bytes, max_payload: int) -> list[bytes]:
    head = bytes([(nalu[0] & 0x81) | (FU << 1), nalu[1]])
    kind = nalu_type(nalu)
    chunk = max_payload - 3
    data = nalu[2:]
    out: list[bytes] = []
    for pos in range(0, len(data), chunk):
        s = 0x80 if pos == 0 else 0
        e = 0x40 if pos + chunk >= len(data) else 0
        out.append(head + bytes([s | e | kind]) + data[pos : pos + chunk])
    return out


def packetize(
    nalus: Sequence[bytes], *, parameter_sets: Sequence[bytes] = (), max_payload: int = MAX_PAYLOAD
) -> list[PayloadPacket]:
    """One access unit -> RTP payloads; ``parameter_sets`` (VPS, SPS, PPS) are sent in an AP before an
    IRAP picture that does not carry its own SPS. NAL units shorter than the 2-byte header are skipped."""
    if max_payload < 4:
        raise LocalProtocolError(f"H.265 max_payload {max_payload} < 4")
    units = [n for n in nalus if len(n) >= 2]
    if parameter_sets and is_keyframe(units) and not any(nalu_type(n) == NALU_SPS for n in units):
        units = [n for n in parameter_sets if len(n) >= 2] + units
    return packetize_nalus(
        units,
        max_payload,
        aggregatable=lambda n: nalu_type(n) in PARAMETER_SETS,
        aggregate=_ap,
        aggregate_header=2,
        fragment=_fu,
    )


def parse_payload(payload: bytes) -> list[Unit]:
    """One RTP payload -> whole NAL units and FU fragments (RFC 7798 4.4.1, 4.4.2, 4.4.3)."""
    if len(payload) < 2:
        raise ParseError(f"H.265 RTP payload of {len(payload)} bytes is shorter than its header")
    kind = nalu_type(payload)
    if kind < AP:
        return [payload]
    if kind == AP:
        nalus = split_aggregate(payload[2:], "AP")
        if any(len(n) < 2 for n in nalus):
            raise ParseError("AP: NAL unit shorter than its header")
        return list(nalus)
    if kind == FU:
        if len(payload) < 3:
            raise ParseError("FU without its FU header")
        fu = payload[2]
        header = bytes([(payload[0] & 0x81) | ((fu & 0x3F) << 1), payload[1]])
        return [Fragment(bool(fu & 0x80), bool(fu & 0x40), header, payload[3:])]
    raise ParseError(f"H.265 RTP payload type {kind} not supported")


# A :class:`FrameAssembler` for H.265: ``assembler(wait_keyframe=..., max_wait_ms=...)`` takes the
# constructor's keyword arguments.
assembler = functools.partial(FrameAssembler, parse_payload, is_keyframe)
