"""Fuzz the RTP/RTCP wire structs (``srs.protocol.rtc.rtp`` / ``rtcp`` / ``twcc``).

Invariants: whatever bytes arrive, only ParseError escapes a parser, and every accepted datagram
re-serialises to the very same bytes; every generated struct survives ``parse(bytes(x)) == x``.
Seeds are the vectors of ``tests/unit/protocol/rtc/rtp_cases.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.protocol.rtc import rtcp, rtp, twcc
from srs.protocol.rtc.rtcp import (
    ReportBlock,
    RtcpApp,
    RtcpBye,
    RtcpFir,
    RtcpNack,
    RtcpPacket,
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
from srs.protocol.rtc.rtp import RtpPacket, SeqUnwrapper
from srs.util.errors import ParseError
from unit.protocol.rtc import rtp_cases as cases

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed with some bytes replaced, then cut or extended; or plain random bytes."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 6))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(u8)
        cut = draw(st.integers(0, len(data)))
        tail = draw(st.binary(max_size=16)) if draw(st.booleans()) else b""
        return bytes(data[:cut]) + tail if draw(st.booleans()) else bytes(data) + tail

    return st.one_of(st.binary(max_size=200), mutate())


def padding() -> st.SearchStrategy[bytes]:
    return st.integers(0, 3).map(lambda w: b"" if w == 0 else bytes(4 * w - 1) + bytes((4 * w,)))


# --- arbitrary bytes -------------------------------------------------------------------------


@FUZZ
@given(mutations(cases.RTP_VECTORS))
def test_rtp_parse_only_parse_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except ParseError:
        return
    assert bytes(packet) == data
    assert rtp.peek_header(data)[1] == packet.sequence_number
    if packet.extension_profile is not None:
        try:
            assert isinstance(packet.extensions, list)
        except ParseError:
            pass


@FUZZ
@given(mutations([*cases.RTCP_VECTORS, b"".join(cases.RTCP_VECTORS)]))
def test_rtcp_parse_only_parse_error(data: bytes) -> None:
    try:
        packets = rtcp.parse_compound(data)
    except ParseError:
        return
    assert rtcp.serialize_compound(packets) == data
    for p in packets:
        repr(p)
        if isinstance(p, RtcpTwcc):
            p.feedback.packets()
        if isinstance(p, RtcpNack):
            assert len(p.lost) >= len(p.entries)


@FUZZ
@given(st.binary(max_size=64))
def test_twcc_fci_only_parse_error(data: bytes) -> None:
    try:
        fb = twcc.TwccFeedback.parse(data)
    except ParseError:
        return
    assert bytes(fb) == data


# --- generated structs -----------------------------------------------------------------------


@st.composite
def rtp_packets(draw: st.DrawFn) -> RtpPacket:
    p = RtpPacket(
        payload_type=draw(st.integers(0, 127)),
        sequence_number=draw(u16),
        timestamp=draw(u32),
        ssrc=draw(u32),
        marker=draw(st.booleans()),
        csrc=draw(st.lists(u32, max_size=15)),
        payload=draw(st.binary(max_size=40)),
    )
    if draw(st.booleans()):
        elements = draw(
            st.lists(st.tuples(st.integers(1, 255), st.binary(min_size=1, max_size=20)), max_size=4)
        )
        if elements:
            p.set_extensions(elements)
            assert p.extensions == elements
        else:
            p.extension_profile = draw(u16)
            p.extension_data = draw(st.binary(max_size=3).map(lambda b: b * 4))
    p.set_padding(draw(st.integers(0, 255)))
    return p


@FUZZ
@given(rtp_packets())
def test_rtp_generated_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(bytes(packet)) == packet


reports = st.builds(ReportBlock, u32, u8, st.integers(-0x800000, 0x7FFFFF), u32, u32, u32, u32)
report_lists = st.lists(reports, max_size=3)
words = st.binary(max_size=3).map(lambda b: b * 4)


@st.composite
def twcc_feedbacks(draw: st.DrawFn) -> twcc.TwccFeedback:
    symbols = draw(st.lists(st.sampled_from([0, 1, 2]), max_size=60))
    deltas = [draw(st.integers(0, 255) if s == 1 else st.integers(-0x8000, 0x7FFF)) for s in symbols if s]
    return twcc.TwccFeedback(
        base_seq=draw(u16),
        status_count=len(symbols),
        reference_time=draw(st.integers(0, 0xFFFFFF)),
        fb_pkt_count=draw(u8),
        chunks=twcc.encode_chunks(symbols),
        deltas=deltas,
        tail=draw(st.binary(max_size=4)),
    )


rtcp_packets: st.SearchStrategy[RtcpPacket] = st.one_of(
    st.builds(RtcpSr, u32, st.integers(0, 2**64 - 1), u32, u32, u32, report_lists, words, padding()),
    st.builds(RtcpRr, u32, report_lists, words, padding()),
    st.builds(
        RtcpSdes,
        st.lists(
            st.builds(
                SdesChunk,
                u32,
                st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=20)), max_size=3),
            ),
            max_size=3,
        ),
        words,
        padding(),
    ),
    st.builds(RtcpBye, st.lists(u32, max_size=4), st.none() | st.binary(max_size=30), padding()),
    st.builds(RtcpApp, st.integers(0, 31), u32, st.binary(min_size=4, max_size=4), words, padding()),
    st.builds(
        RtcpUnknown,
        st.integers(0, 255).filter(lambda t: not 200 <= t <= 206),
        st.integers(0, 31),
        words,
        padding(),
    ),
    st.builds(RtcpNack, u32, u32, st.lists(st.tuples(u16, u16), max_size=5), padding()),
    st.builds(RtcpRtpfb, st.integers(0, 31).filter(lambda f: f not in (1, 15)), u32, u32, words, padding()),
    twcc_feedbacks().flatmap(lambda fb: st.builds(RtcpTwcc.build, u32, u32, st.just(fb))),
    st.builds(RtcpPli, u32, u32, padding()),
    st.builds(RtcpFir, u32, u32, st.lists(st.tuples(u32, u8), max_size=4), padding()),
    st.builds(
        RtcpRemb, u32, u32, st.integers(0, 63), st.integers(0, 0x3FFFF), st.lists(u32, max_size=4), padding()
    ),
    st.builds(RtcpPsfb, st.integers(0, 31).filter(lambda f: f not in (1, 4, 15)), u32, u32, words, padding()),
)


@FUZZ
@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_rtcp_generated_round_trip(packets: list[RtcpPacket]) -> None:
    data = rtcp.serialize_compound(packets)
    assert rtcp.parse_compound(data) == packets


@FUZZ
@given(st.dictionaries(st.integers(0, 300), st.none() | st.integers(0, 20_000_000), max_size=80))
def test_build_twcc_reports_every_arrival(arrivals: dict[int, int | None]) -> None:
    fbs = twcc.build_twcc(arrivals, fb_pkt_count=250)
    seen: dict[int, int | None] = {}
    for i, fb in enumerate(fbs):
        assert fb.fb_pkt_count == (250 + i) & 0xFF
        assert twcc.TwccFeedback.parse(bytes(fb)) == fb
        for seq, t in fb.packets():
            assert seq not in seen or seen[seq] is None
            seen[seq] = t
    for seq, t in arrivals.items():
        if t is not None:
            assert seen[seq] == (t + 125) // 250 * 250


@FUZZ
@given(st.lists(st.integers(1, 16), max_size=40), st.sampled_from([0, 65530, 2**40]))
def test_nack_from_lost(steps: list[int], start: int) -> None:
    seqs, s = [], start
    for d in steps:
        s += d
        seqs.append(s)
    nack = RtcpNack.from_lost(1, 2, seqs)
    assert sorted(nack.lost) == sorted(x & 0xFFFF for x in seqs)
    assert len(nack.entries) <= len(seqs)


@FUZZ
@given(u16.flatmap(lambda a: st.tuples(st.just(a), u16)))
def test_seq_diff(ab: tuple[int, int]) -> None:
    a, b = ab
    d = rtp.seq_diff(a, b)
    assert -0x8000 <= d <= 0x7FFF and (b + d) & 0xFFFF == a


@FUZZ
@given(st.integers(0, 2**40), st.lists(st.integers(-1000, 30000), max_size=60))
def test_unwrapper(start: int, steps: list[int]) -> None:
    u = SeqUnwrapper()
    base = start - (start & 0xFFFF)
    value = start
    assert u.unwrap(value & 0xFFFF) + base == value
    highest = value
    for d in steps:
        if highest - (value + d) > 30000:
            continue  # too far behind the newest: ambiguous by design
        value += d
        highest = max(highest, value)
        assert u.unwrap(value & 0xFFFF) + base == value
