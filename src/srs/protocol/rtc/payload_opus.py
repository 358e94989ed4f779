"""Opus RTP payload format, RFC 7587: one Opus packet (RFC 6716 section 3) per RTP packet, 48 kHz clock.

Packetizing is the identity; what a sender needs is the duration of a packet in 48 kHz samples to advance
the RTP timestamp, which the TOC byte gives (RFC 6716 3.1: config -> mode, bandwidth, frame size; code ->
frame count). SRS's AAC->Opus transcoder emits 20 ms frames (960 samples) at ``kAudioSamplerate`` 48000.
"""

from __future__ import annotations

from dataclasses import dataclass

from srs.protocol.rtc.payload import PayloadPacket
from srs.util.errors import ParseError

CLOCK_RATE = 48000

# Frame duration in 1/10 ms per config 0..31 (RFC 6716 Table 2).
_FRAME_TENTHS_MS = [100, 200, 400, 600] * 3 + [100, 200] * 2 + [25, 50, 100, 200] * 4
_BANDWIDTH = (
    ["NB"] * 4
    + ["MB"] * 4
    + ["WB"] * 4
    + ["SWB", "SWB", "FB", "FB"]
    + ["NB"] * 4
    + ["WB"] * 4
    + ["SWB"] * 4
    + ["FB"] * 4
)


@dataclass(frozen=True, slots=True)
class OpusToc:
    """The table-of-contents byte: ``config(5) s(1) c(2)``."""

    config: int
    stereo: bool
    code: int

    @property
    def mode(self) -> str:
        return "SILK" if self.config < 12 else "hybrid" if self.config < 16 else "CELT"

    @property
    def bandwidth(self) -> str:
        return _BANDWIDTH[self.config]

    @property
    def frame_samples(self) -> int:
        """Samples per frame at 48 kHz (120 for 2.5 ms ... 2880 for 60 ms)."""
        return _FRAME_TENTHS_MS[self.config] * CLOCK_RATE // 10000

    @classmethod
    def parse(cls, byte: int) -> OpusToc:
        return cls(byte >> 3, bool(byte & 4), byte & 3)

    def __int__(self) -> int:
        return (self.config << 3) | (4 if self.stereo else 0) | self.code


def frame_count(packet: bytes) -> int:
    """Number of frames in an Opus packet (RFC 6716 3.2)."""
    if not packet:
        raise ParseError("empty Opus packet")
    code = packet[0] & 3
    if code == 0:
        return 1
    if code in (1, 2):
        return 2
    if len(packet) < 2:
        raise ParseError("Opus code 3 packet without its frame count byte")
    n = packet[1] & 0x3F
    if n == 0:
        raise ParseError("Opus code 3 packet with 0 frames")
    return n


def packet_samples(packet: bytes) -> int:
    """Duration of an Opus packet in 48 kHz samples: what the RTP timestamp advances by."""
    n = frame_count(packet)
    samples = n * OpusToc.parse(packet[0]).frame_samples
    if samples > 120 * 48:
        raise ParseError(f"Opus packet of {samples} samples exceeds 120 ms")
    return samples


def packetize(packet: bytes) -> list[PayloadPacket]:
    """One Opus packet -> one RTP payload (RFC 7587 4.2; no marker: we do not signal talkspurts)."""
    if not packet:
        raise ParseError("empty Opus packet")
    return [PayloadPacket(packet)]


def depacketize(payload: bytes) -> bytes:
    """One RTP payload -> the Opus packet, validated as far as its TOC goes."""
    packet_samples(payload)
    return payload
