"""RTCP and transport-cc: case tables (hand-made, Chrome) and byte-for-byte checks against aiortc."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import rtp as ar

from srs.protocol.rtc import rtcp, twcc
from srs.protocol.rtc.rtcp import (
    ReportBlock,
    RtcpApp,
    RtcpBye,
    RtcpFir,
    RtcpNack,
    RtcpPli,
    RtcpPsfb,
    RtcpRemb,
    RtcpRr,
    RtcpRtpfb,
    RtcpSdes,
    RtcpSr,
    RtcpTwcc,
    RtcpUnknown,
    SdesChunk,
)
from srs.protocol.rtc.twcc import TwccFeedback, build_twcc
from srs.util.errors import LocalProtocolError, ParseError
from unit.protocol.rtc import rtp_cases as cases

KINDS = {
    cases.SR_HAND: RtcpSr,
    cases.RR_EMPTY_HAND: RtcpRr,
    cases.SDES_CNAME_HAND: RtcpSdes,
    cases.BYE_REASON_HAND: RtcpBye,
    cases.APP_HAND: RtcpApp,
    cases.NACK_HAND: RtcpNack,
    cases.PLI_HAND: RtcpPli,
    cases.PLI_PADDED_HAND: RtcpPli,
    cases.FIR_HAND: RtcpFir,
    cases.REMB_HAND: RtcpRemb,
    cases.XR_UNKNOWN_HAND: RtcpUnknown,
    cases.RTPFB_UNKNOWN_FMT_HAND: RtcpRtpfb,
    cases.TWCC_HAND: RtcpTwcc,
    cases.CHROME_TWCC: RtcpTwcc,
}


@pytest.mark.parametrize("data", cases.RTCP_VECTORS)
def test_vectors_round_trip(data: bytes) -> None:
    (packet,) = rtcp.parse_compound(data)
    assert type(packet) is KINDS[data]
    assert bytes(packet) == data
    assert type(packet).parse(data) == packet
    assert rtcp.parse_packet(bytes(packet)) == packet


def test_compound_of_all_vectors() -> None:
    data = b"".join(cases.RTCP_VECTORS)
    packets = rtcp.parse_compound(data)
    assert [type(p) for p in packets] == [KINDS[v] for v in cases.RTCP_VECTORS]
    assert rtcp.serialize_compound(packets) == data


def test_sr_fields() -> None:
    sr = RtcpSr.parse(cases.SR_HAND)
    assert isinstance(sr, RtcpSr)
    assert (sr.ssrc, sr.ntp_timestamp, sr.rtp_timestamp) == (0x12345678, 0xE1A2B3C4D5E6F708, 90000)
    assert (sr.packet_count, sr.octet_count, sr.extension) == (100, 10000, b"")
    assert sr.reports == [ReportBlock(0x87654321, 64, -2, 0x1FFFF, 32, 0xB3C4D5E6, 0x10000)]
    built = RtcpSr(0x12345678, 0xE1A2B3C4D5E6F708, 90000, 100, 10000, list(sr.reports))
    assert bytes(built) == cases.SR_HAND


def test_hand_builders() -> None:
    assert bytes(RtcpRr(0x12345678)) == cases.RR_EMPTY_HAND
    assert bytes(RtcpSdes([SdesChunk(0x12345678, [(1, b"abc")])])) == cases.SDES_CNAME_HAND
    assert bytes(RtcpBye([0x12345678], b"bye")) == cases.BYE_REASON_HAND
    assert bytes(RtcpApp(5, 0x12345678, b"NAME", b"\xde\xad\xbe\xef")) == cases.APP_HAND
    assert bytes(RtcpPli(1, 0x12345678)) == cases.PLI_HAND
    assert bytes(RtcpPli(1, 0x12345678, padding=b"\0\0\0\4")) == cases.PLI_PADDED_HAND
    assert bytes(RtcpFir(1, 0, [(0x12345678, 7)])) == cases.FIR_HAND
    remb = RtcpRemb.from_bitrate(1, 1_000_000, [0x12345678])
    assert (remb.exponent, remb.mantissa, remb.bitrate) == (2, 250000, 1_000_000)
    assert bytes(remb) == cases.REMB_HAND
    assert bytes(RtcpUnknown(207, 0, b"\x12\x34\x56\x78\xde\xad\xbe\xef")) == cases.XR_UNKNOWN_HAND


def test_sdes_cname_and_bye_reason() -> None:
    sdes = RtcpSdes.parse(cases.SDES_CNAME_HAND)
    assert isinstance(sdes, RtcpSdes) and sdes.chunks[0].cname == b"abc"
    assert SdesChunk(1, [(2, b"name")]).cname is None
    bye = RtcpBye.parse(cases.BYE_REASON_HAND)
    assert isinstance(bye, RtcpBye) and bye.sources == [0x12345678] and bye.reason == b"bye"


@pytest.mark.parametrize(
    ("lost", "entries"),
    [
        ([100, 101, 103, 200], [(100, 0x0005), (200, 0)]),
        ([5], [(5, 0)]),
        ([5, 21], [(5, 0x8000)]),  # 16 after the PID: the last BLP bit
        ([5, 22], [(5, 0), (22, 0)]),
        ([65535, 65536, 65537], [(65535, 0x0003)]),  # unwrapped numbers across the wrap
        ([3, 65535], [(3, 0), (65535, 0)]),  # 16-bit numbers across the wrap: still correct
        ([], []),
    ],
)
def test_nack_lost_fci(lost: list[int], entries: list[tuple[int, int]]) -> None:
    nack = RtcpNack.from_lost(1, 2, lost)
    assert nack.entries == entries
    assert sorted(nack.lost) == sorted(s & 0xFFFF for s in lost)


def test_nack_vector() -> None:
    nack = RtcpNack.parse(cases.NACK_HAND)
    assert isinstance(nack, RtcpNack)
    assert nack.lost == [100, 101, 103, 200]
    assert bytes(RtcpNack.from_lost(1, 0x12345678, [200, 103, 101, 100])) == cases.NACK_HAND


def test_twcc_hand_vector() -> None:
    packet = RtcpTwcc.parse(cases.TWCC_HAND)
    assert isinstance(packet, RtcpTwcc)
    fb = packet.feedback
    assert (fb.base_seq, fb.status_count, fb.reference_time, fb.fb_pkt_count) == (65534, 5, 1, 7)
    assert fb.symbols() == [1, 0, 2, 1, 0] and fb.deltas == [4, -8, 16]
    assert fb.packets() == [(65534, 65000), (65535, None), (0, 63000), (1, 67000), (2, None)]
    assert bytes(RtcpTwcc.build(1, 0x12345678, fb)) == cases.TWCC_HAND


def test_twcc_chrome_vector_rebuilt_by_the_builder() -> None:
    packet = RtcpTwcc.parse(cases.CHROME_TWCC)
    assert isinstance(packet, RtcpTwcc)
    fb = packet.feedback
    assert (fb.base_seq, fb.status_count, fb.reference_time) == (1, 9, 6197520)
    assert fb.chunks == [0x2009]
    ms = [7, 3, 11, 14, 0, 1, 0, 2, 6]  # as Wireshark decodes the deltas
    assert [d * 250 // 1000 for d in fb.deltas] == ms
    arrivals = dict(fb.packets())
    (rebuilt,) = build_twcc(arrivals, fb_pkt_count=0)
    assert bytes(RtcpTwcc.build(1, 0xDD586EB6, rebuilt)) == cases.CHROME_TWCC


@pytest.mark.parametrize(
    ("chunk", "symbols"),
    [
        (0x00DD, [0] * 221),  # draft 3.1.3: a run of 221 not received
        (0x2018, [1] * 24),  # run of 24 small deltas
        (0x9F1C, [0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0]),  # draft 3.1.4: 1-bit vector
        (0xCD50, [0, 3, 1, 1, 1, 0, 0]),  # 2-bit vector (symbol 3 is reserved)
        (0xD240, [1, 0, 2, 1, 0, 0, 0]),
    ],
)
def test_chunk_symbols(chunk: int, symbols: list[int]) -> None:
    assert twcc.chunk_symbols(chunk) == symbols


@pytest.mark.parametrize(
    ("symbols", "chunks"),
    [
        ([1] * 9, [0x2009]),
        ([1] * 20 + [0], [0x2014, 0x0001]),
        ([1, 0] * 7, [0x8000 | 0b10101010101010]),
        ([1, 0, 1], [0x8000 | 0b10100000000000]),  # tail in a 1-bit vector, zero-filled
        ([2, 1, 0], [0xC000 | 0b10010000000000]),
        ([0] * 9000, [0x1FFF, 9000 - 0x1FFF]),  # runs are at most 8191 long
        ([], []),
    ],
)
def test_encode_chunks(symbols: list[int], chunks: list[int]) -> None:
    assert twcc.encode_chunks(symbols) == chunks


def test_build_twcc_losses_wrap_and_large_deltas() -> None:
    arrivals: dict[int, int | None] = {
        65534: 1_000_000,
        65535: None,
        65536: 999_000,  # arrived earlier than the one before: negative (large) delta
        65537: 1_100_000,  # +101 ms: large delta
    }
    (fb,) = build_twcc(arrivals, fb_pkt_count=3)
    assert (fb.base_seq, fb.status_count, fb.fb_pkt_count) == (65534, 4, 3)
    assert fb.reference_time == 1_000_000 // 64_000
    assert fb.symbols() == [1, 0, 2, 2]
    assert fb.packets() == [(65534, 1_000_000), (65535, None), (0, 999_000), (1, 1_100_000)]
    assert TwccFeedback.parse(bytes(fb)) == fb


def test_build_twcc_splits_on_a_gap_too_long_for_16_bits() -> None:
    fbs = build_twcc({0: 0, 1: 10_000_000, 2: 10_000_250}, fb_pkt_count=255)
    assert [(f.base_seq, f.status_count, f.fb_pkt_count) for f in fbs] == [(0, 1, 255), (1, 2, 0)]
    assert fbs[1].packets() == [(1, 10_000_000), (2, 10_000_250)]


def test_build_twcc_edge_cases() -> None:
    assert build_twcc({}) == []
    assert build_twcc({1: None, 2: None}) == []
    (fb,) = build_twcc({5: None, 6: 1000, 7: None})  # leading loss kept, trailing one left out
    assert fb.packets() == [(5, None), (6, 1000)]


def test_twcc_errors() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(TwccFeedback(status_count=1, chunks=[0x2001], deltas=[]))
    with pytest.raises(ParseError):
        TwccFeedback.parse(bytes.fromhex("0000000100000000f000"))  # 2-bit vector, symbol 3
    with pytest.raises(ParseError):
        TwccFeedback.parse(bytes.fromhex("00000001000000006001"))  # run of reserved symbol 3


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\xc9\x00",
        b"\x80\xc9\x00\x02\x00\x00\x00\x00",  # length overruns the datagram
        b"\x40\xc9\x00\x00",  # version 1
        b"\xa0\xc9\x00\x00",  # padding bit without room for padding
        b"\xa0\xc9\x00\x01\x00\x00\x00\x00",  # padding count 0
        b"\x81\xc9\x00\x01\x00\x00\x00\x01",  # RR says 1 block, has none
        b"\x81\xc8\x00\x01\x00\x00\x00\x01",  # SR too short
        b"\x81\xca\x00\x01\x00\x00\x00\x01",  # SDES chunk without its null item
        b"\x81\xca\x00\x01\x01\x09\x00\x00",  # SDES chunk cut
        b"\x82\xcb\x00\x01\x00\x00\x00\x01",  # BYE with 2 sources, has 1
        b"\x80\xcb\x00\x01\x09\x00\x00\x00",  # BYE reason cut
        b"\x80\xcc\x00\x01\x00\x00\x00\x01",  # APP without a name
        b"\x81\xcd\x00\x01\x00\x00\x00\x01",  # feedback without media SSRC
        b"\x8f\xcd\x00\x03" + bytes(8) + b"\x00\x00\x00\x01",  # TWCC FCI cut
        b"\x8f\xcd\x00\x04" + bytes(8) + b"\x00\x00\x00\x01\x00\x00\x00\x00",  # no chunk
    ],
)
def test_parse_errors(data: bytes) -> None:
    with pytest.raises(ParseError):
        rtcp.parse_compound(data)


def test_parse_as_wrong_class() -> None:
    with pytest.raises(ParseError):
        RtcpSr.parse(cases.RR_EMPTY_HAND)


def test_non_canonical_forms_kept_opaque() -> None:
    odd_pli = bytes.fromhex("81ce0003 00000001 12345678 00000000".replace(" ", ""))
    odd_fir = bytes.fromhex("84ce0004 00000001 00000000 12345678 07000001".replace(" ", ""))
    odd_remb = bytes.fromhex("8fce0004 00000001 00000000 52454d42 02000001".replace(" ", ""))
    for data in (odd_pli, odd_fir, odd_remb):
        (p,) = rtcp.parse_compound(data)
        assert type(p) is RtcpPsfb and bytes(p) == data
    odd_sdes = bytes.fromhex("81ca0002 12345678 00000001".replace(" ", ""))  # non-zero fill
    odd_bye = bytes.fromhex("81cb0002 12345678 00000001".replace(" ", ""))
    for data in (odd_sdes, odd_bye):
        (p,) = rtcp.parse_compound(data)
        assert type(p) is RtcpUnknown and bytes(p) == data


def test_serialise_errors() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(RtcpApp(name=b"AB"))
    with pytest.raises(LocalProtocolError):
        bytes(RtcpUnknown(207, 0, b"\x01"))  # not 32-bit aligned
    with pytest.raises(LocalProtocolError):
        bytes(RtcpPli(padding=b"\x00\x00\x00\x03"))
    with pytest.raises(LocalProtocolError):
        bytes(RtcpRr(reports=[ReportBlock()] * 32))
    with pytest.raises(LocalProtocolError):
        bytes(RtcpBye(reason=bytes(256)))


# --- aiortc ------------------------------------------------------------------------------------


def _report(ssrc: int) -> ar.RtcpReceiverInfo:
    return ar.RtcpReceiverInfo(ssrc, 12, -5, 70000, 33, 0xAABBCCDD, 65536)


def _aiortc_packets() -> list[Any]:
    return [
        ar.RtcpSrPacket(
            ssrc=0x1234,
            sender_info=ar.RtcpSenderInfo(0xE1A2B3C4D5E6F708, 90000, 100, 123456),
            reports=[_report(0xAAAA), _report(0xBBBB)],
        ),
        ar.RtcpRrPacket(ssrc=0x1234, reports=[_report(0xCCCC)]),
        ar.RtcpSdesPacket(chunks=[ar.RtcpSourceInfo(ssrc=0x1234, items=[(1, b"{b6f6b8a1-cname}")])]),
        ar.RtcpSdesPacket(chunks=[ar.RtcpSourceInfo(ssrc=0x1234, items=[(1, b"abcde")])]),
        ar.RtcpByePacket(sources=[0x1234, 0x5678]),
        ar.RtcpRtpfbPacket(fmt=1, ssrc=0x1234, media_ssrc=0x5678, lost=[1, 2, 5, 17, 18, 40]),
        ar.RtcpPsfbPacket(fmt=1, ssrc=0x1234, media_ssrc=0x5678),
        ar.RtcpPsfbPacket(
            fmt=15, ssrc=0x1234, media_ssrc=0, fci=ar.pack_remb_fci(2_500_000, [0x5678, 0x9ABC])
        ),
    ]


@pytest.mark.parametrize("index", range(8))
def test_aiortc_packets_byte_for_byte(index: int) -> None:
    data = bytes(_aiortc_packets()[index])
    (ours,) = rtcp.parse_compound(data)
    assert bytes(ours) == data
    (theirs,) = ar.RtcpPacket.parse(bytes(ours))
    assert theirs == _aiortc_packets()[index]


def test_aiortc_fields_and_our_builders() -> None:
    a_sr, a_rr, a_sdes, a_sdes_odd, a_bye, a_nack, a_pli, a_remb = _aiortc_packets()
    sr = RtcpSr(
        0x1234,
        0xE1A2B3C4D5E6F708,
        90000,
        100,
        123456,
        [ReportBlock(s, 12, -5, 70000, 33, 0xAABBCCDD, 65536) for s in (0xAAAA, 0xBBBB)],
    )
    assert bytes(sr) == bytes(a_sr)
    rr = RtcpRr(0x1234, [ReportBlock(0xCCCC, 12, -5, 70000, 33, 0xAABBCCDD, 65536)])
    assert bytes(rr) == bytes(a_rr)
    sdes = RtcpSdes([SdesChunk(0x1234, [(1, b"{b6f6b8a1-cname}")])])
    assert bytes(sdes) == bytes(a_sdes)
    # aiortc writes 5 zero bytes after a 5-byte CNAME; the extra word is kept as ``tail``
    odd = rtcp.parse_packet(bytes(a_sdes_odd))
    assert isinstance(odd, RtcpSdes) and odd.chunks[0].cname == b"abcde" and odd.tail == bytes(4)
    assert bytes(RtcpBye([0x1234, 0x5678])) == bytes(a_bye)
    nack = RtcpNack.from_lost(0x1234, 0x5678, [1, 2, 5, 17, 18, 40])
    assert bytes(nack) == bytes(a_nack)
    assert bytes(RtcpPli(0x1234, 0x5678)) == bytes(a_pli)
    remb = RtcpRemb.from_bitrate(0x1234, 2_500_000, [0x5678, 0x9ABC])
    assert bytes(remb) == bytes(a_remb)
    assert ar.unpack_remb_fci(ar.pack_remb_fci(2_500_000, [1]))[0] == remb.bitrate


def test_aiortc_compound_with_padding() -> None:
    """aiortc strips RTCP padding when it parses; ours keeps it and round-trips."""
    sr = bytes(RtcpSr(1, 2, 3, 4, 5))
    sdes = bytes(RtcpSdes([SdesChunk(1, [(1, b"cname")])], padding=b"\0\0\0\4"))
    data = sr + sdes
    packets = rtcp.parse_compound(data)
    assert rtcp.serialize_compound(packets) == data
    a_sr, a_sdes = ar.RtcpPacket.parse(data)
    assert isinstance(a_sdes, ar.RtcpSdesPacket) and a_sdes.chunks[0].items == [(1, b"cname")]
    assert isinstance(a_sr, ar.RtcpSrPacket) and a_sr.sender_info.octet_count == 5
