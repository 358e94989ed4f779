"""H.264 RTP payload format, RFC 6184 packetization-mode 1 (single NAL unit, STAP-A, FU-A).

Packetizer as SRS's ``SrsRtcRtpBuilder::package_video`` (``srs_app_rtc_source.cpp``): before each IDR the
SPS and PPS go in one STAP-A; then each NAL unit goes alone when it fits, else in FU-A fragments; the
marker bit is set on the last packet of the access unit. SRS's budget ``kRtpMaxPayloadSize`` is 1200 bytes
of NALU data per packet (FU-A packets are then 1202 bytes); ours, ``max_payload``, bounds the whole RTP
payload (FU headers included), so no packet exceeds it.

Depacketizer: :func:`parse_payload` splits one payload; :func:`assembler` gives a
:class:`~srs.protocol.rtc.payload.FrameAssembler` (reordering, loss -> drop + keyframe request).
STAP-B, MTAP and FU-B (interleaved mode 2) are refused with :class:`ParseError`, as SRS does.
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

MAX_PAYLOAD = 1200  # SRS kRtpMaxPayloadSize (libwebrtc's kVideoMtu)
STAP_A = 24
FU_A = 28
NALU_IDR = 5
NALU_SPS = 7
NALU_PPS = 8


def nalu_type(nalu: bytes) -> int:
    return nalu[0] & 0x1F if nalu else 0


def is_keyframe(nalus: Sequence[bytes]) -> bool:
    """An IDR slice or an SPS in the access unit (as SRS's ``SrsRtpVideoBuilder``/``is_keyframe``)."""
    return any(nalu_type(n) in (NALU_IDR, NALU_SPS) for n in nalus)


def _stap_a(nalus: list[bytes]) -> bytes:
    nri = max(n[0] & 0x60 for n in nalus)
    f = max(n[0] & 0x80 for n in nalus)
    return bytes([f | nri | STAP_A]) + b"".join(len(n).to_bytes(2, "big") + n for n in nalus)


def _fu_a(nalu: bytes, max_payload: int) -> list[bytes]:
    indicator = (nalu[0] & 0xE0) | FU_A
    kind = nalu[0] & 0x1F
    chunk = max_payload - 2
    data = nalu[1:]
    out: list[bytes] = []
    for pos in range(0, len(data), chunk):
        s = 0x80 if pos == 0 else 0
        e = 0x40 if pos + chunk >= len(data) else 0
        out.append(bytes([indicator, s | e | kind]) + data[pos : pos + chunk])
    return out


def packetize(
    nalus: Sequence[bytes], *, parameter_sets: Sequence[bytes] = (), max_payload: int = MAX_PAYLOAD
) -> list[PayloadPacket]:
    """One access unit -> RTP payloads. ``parameter_sets`` (SPS, PPS from the sequence header) are sent
    in a STAP-A before an IDR when the access unit does not carry its own SPS. Empty NALUs are skipped."""
    if max_payload < 3:
        raise LocalProtocolError(f"H.264 max_payload {max_payload} < 3")
    units = [n for n in nalus if n]
    if (
        parameter_sets
        and any(nalu_type(n) == NALU_IDR for n in units)
        and not any(nalu_type(n) == NALU_SPS for n in units)
    ):
        units = [n for n in parameter_sets if n] + units
    return packetize_nalus(
        units,
        max_payload,
        aggregatable=lambda n: nalu_type(n) in (NALU_SPS, NALU_PPS),
        aggregate=_stap_a,
        aggregate_header=1,
        fragment=_fu_a,
    )


def parse_payload(payload: bytes) -> list[Unit]:
    """One RTP payload -> whole NAL units and FU-A fragments (RFC 6184 5.6, 5.7.1, 5.8)."""
    if not payload:
        raise ParseError("H.264 RTP payload is empty")
    kind = payload[0] & 0x1F
    if 1 <= kind <= 23:
        return [payload]
    if kind == STAP_A:
        return list(split_aggregate(payload[1:], "STAP-A"))
    if kind == FU_A:
        if len(payload) < 2:
            raise ParseError("FU-A without its FU header")
        fu = payload[1]
        header = bytes([(payload[0] & 0xE0) | (fu & 0x1F)])
        return [Fragment(bool(fu & 0x80), bool(fu & 0x40), header, payload[2:])]
    raise ParseError(f"H.264 RTP payload type {kind} not supported (packetization-mode 1)")


# A :class:`FrameAssembler` for H.264: ``assembler(wait_keyframe=..., max_wait_ms=...)`` takes the
# constructor's keyword arguments.
assembler = functools.partial(FrameAssembler, parse_payload, is_keyframe)
