"""Opus RTP payloads (RFC 7587) and the TOC byte (RFC 6716 3.1)."""

from __future__ import annotations

import fractions

import pytest

from srs.protocol.rtc import payload_opus as opus
from srs.util.errors import ParseError

# (name, packet, samples at 48 kHz or None for ParseError)
CASES: list[tuple[str, bytes, int | None]] = [
    ("SILK NB 10 ms", bytes([0 << 3]), 480),
    ("SILK NB 20 ms", bytes([1 << 3]), 960),
    ("SILK WB 60 ms", bytes([11 << 3]), 2880),
    ("hybrid SWB 10 ms", bytes([12 << 3]), 480),
    ("hybrid FB 20 ms", bytes([15 << 3]), 960),
    ("CELT NB 2.5 ms", bytes([16 << 3]), 120),
    ("CELT FB 20 ms stereo (aiortc, Chrome)", bytes([0xFC, 0xFF, 0xFE]), 960),
    ("code 1: two equal frames", bytes([(31 << 3) | 1, 0]), 1920),
    ("code 2: two frames", bytes([(31 << 3) | 2, 1, 0]), 1920),
    ("code 3: three 20 ms frames", bytes([(31 << 3) | 3, 3]), 2880),
    ("code 3: six 20 ms frames = 120 ms", bytes([(31 << 3) | 3, 6]), 5760),
    ("code 3: 3 x 60 ms exceeds 120 ms", bytes([(3 << 3) | 3, 3]), None),
    ("code 3: 0 frames", bytes([(31 << 3) | 3, 0]), None),
    ("code 3: no count byte", bytes([(31 << 3) | 3]), None),
    ("empty", b"", None),
]


@pytest.mark.parametrize(("name", "packet", "samples"), CASES, ids=[c[0] for c in CASES])
def test_packet_samples(name: str, packet: bytes, samples: int | None) -> None:
    if samples is None:
        with pytest.raises(ParseError):
            opus.packet_samples(packet)
        with pytest.raises(ParseError):
            opus.depacketize(packet)
    else:
        assert opus.packet_samples(packet) == samples
        assert opus.depacketize(packet) == packet


@pytest.mark.parametrize(
    ("byte", "mode", "bandwidth", "stereo", "code"),
    [
        (0x08, "SILK", "NB", False, 0),
        (0x64, "hybrid", "SWB", True, 0),
        (0x7C, "hybrid", "FB", True, 0),
        (0xFD, "CELT", "FB", True, 1),
    ],
)
def test_toc(byte: int, mode: str, bandwidth: str, stereo: bool, code: int) -> None:
    toc = opus.OpusToc.parse(byte)
    assert (toc.mode, toc.bandwidth, toc.stereo, toc.code) == (mode, bandwidth, stereo, code)
    assert int(toc) == byte


def test_packetize() -> None:
    assert [(p.payload, p.marker) for p in opus.packetize(b"\xfc\x01")] == [(b"\xfc\x01", False)]
    with pytest.raises(ParseError):
        opus.packetize(b"")


def test_aiortc_encoder_timestamps_match_packet_samples() -> None:
    import av
    from aiortc.codecs.opus import OpusEncoder

    enc = OpusEncoder()
    ts_seen, ours = [], 0
    for i in range(5):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, fractions.Fraction(1, 48000)
        packets, ts = enc.encode(frame)
        for p in packets:
            ts_seen.append((ts, ours))
            ours += opus.packet_samples(p)
    assert ts_seen and all(a == b for a, b in ts_seen)
