"""RTP wire struct: case tables (hand-made, Chrome captures) and byte-for-byte checks against aiortc."""

from __future__ import annotations

import pytest
from aiortc import rtp as ar
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

from srs.protocol.rtc import rtp
from srs.protocol.rtc.rtp import RtpPacket, SeqUnwrapper
from srs.util.errors import LocalProtocolError, ParseError
from unit.protocol.rtc import rtp_cases as cases


@pytest.mark.parametrize("data", cases.RTP_VECTORS)
def test_vectors_round_trip(data: bytes) -> None:
    packet = RtpPacket.parse(data)
    assert bytes(packet) == data
    assert RtpPacket.parse(bytes(packet)) == packet
    assert rtp.peek_header(data) == (
        packet.payload_type,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
    )
    assert "RtpPacket(" in repr(packet)


def test_minimal_fields() -> None:
    p = RtpPacket.parse(cases.RTP_MINIMAL_HAND)
    assert (p.payload_type, p.sequence_number, p.timestamp, p.ssrc) == (96, 1, 2, 3)
    assert not p.marker and p.csrc == [] and p.extension_profile is None
    assert p.payload == b"\xca\xfe" and p.padding == b""
    assert bytes(RtpPacket(96, 1, 2, 3, payload=b"\xca\xfe")) == cases.RTP_MINIMAL_HAND


def test_csrc_marker_padding() -> None:
    p = RtpPacket.parse(cases.RTP_CSRC_PADDING_HAND)
    assert p.marker and p.payload_type == 111 and p.sequence_number == 0x1234
    assert p.csrc == [1, 2] and p.payload == b"hi" and p.padding == b"\0\0\3"
    q = RtpPacket(111, 0x1234, 0xABCD, 0x11223344, True, [1, 2], payload=b"hi")
    q.set_padding(3)
    assert bytes(q) == cases.RTP_CSRC_PADDING_HAND


def test_chrome_one_byte_extensions() -> None:
    p = RtpPacket.parse(cases.CHROME_RTP_ONE_BYTE)
    assert (p.payload_type, p.sequence_number, p.timestamp) == (45, 6751, 3557360969)
    assert p.extension_profile == rtp.ONE_BYTE_PROFILE
    assert p.extensions == [(2, b"\xf3\x43\x50"), (4, b"\x00\x9b"), (13, b"\x81\x00\x45")]
    assert rtp.transport_cc_seq(p.get_extension(4) or b"") == 0x9B
    assert rtp.abs_send_time_to_us(p.get_extension(2) or b"") == (0xF34350 * 1_000_000) >> 18
    assert p.get_extension(5) is None
    # our encoder writes the same block (one padding byte at the end)
    q = RtpPacket(45, 6751, 3557360969, 0xF7B16E83)
    q.set_extensions(p.extensions)
    assert bytes(q) == cases.CHROME_RTP_ONE_BYTE


def test_chrome_two_byte_extensions() -> None:
    p = RtpPacket.parse(cases.CHROME_RTP_TWO_BYTE)
    assert p.extension_profile == 0x1000
    ext = dict(p.extensions)
    assert sorted(ext) == [2, 3, 4, 6, 7, 9, 13]
    assert len(ext[13]) == 33 and ext[4] == b"\x00\x02"
    q = RtpPacket(45, p.sequence_number, p.timestamp, p.ssrc)
    q.set_extensions(p.extensions)  # a 33-byte value forces the two-byte form
    assert bytes(q) == cases.CHROME_RTP_TWO_BYTE


@pytest.mark.parametrize(
    ("profile", "block", "expected"),
    [
        (0xBEDE, b"\x10\xaa\x00\x00", [(1, b"\xaa")]),
        (0xBEDE, b"\x00\x00\x10\xaa", [(1, b"\xaa")]),  # padding before an element
        (0xBEDE, b"\x10\xaa\xf0\x20\xbb\x00\x00\x00", [(1, b"\xaa")]),  # id 15 stops processing
        (0xBEDE, b"\x2f" + bytes(range(16)) + b"\x00\x00\x00", [(2, bytes(range(16)))]),
        (0x1000, b"\x05\x00\x00\x00", [(5, b"")]),  # two-byte form allows empty values
        (0x1003, b"\xff\x01\x07\x00", [(255, b"\x07")]),  # appbits in the profile
        (0x1234, b"\x01\x02\x03\x04", []),  # not RFC 8285: no elements
    ],
)
def test_parse_extensions(profile: int, block: bytes, expected: list[tuple[int, bytes]]) -> None:
    assert rtp.parse_extensions(profile, block) == expected


@pytest.mark.parametrize(
    ("profile", "block"),
    [(0xBEDE, b"\x13\xaa\x00\x00"), (0x1000, b"\x01\x05\x00\x00"), (0x1000, b"\x00\x00\x00\x07")],
)
def test_parse_extensions_truncated(profile: int, block: bytes) -> None:
    with pytest.raises(ParseError):
        rtp.parse_extensions(profile, block)


def test_build_extensions() -> None:
    assert rtp.build_extensions([(1, b"0")]) == (0xBEDE, b"\x100\x00\x00")
    assert rtp.build_extensions([(1, b"0")], two_byte=True) == (0x1000, b"\x01\x010\x00")
    assert rtp.build_extensions([(15, b"x")]) == (0x1000, b"\x0f\x01x\x00")
    with pytest.raises(LocalProtocolError):
        rtp.build_extensions([(15, b"x")], two_byte=False)
    with pytest.raises(LocalProtocolError):
        rtp.build_extensions([(1, bytes(256))])


def test_extension_helpers() -> None:
    assert rtp.abs_send_time_from_us(1_000_000) == b"\x04\x00\x00"  # 1 s in 6.18 fixed point
    assert rtp.abs_send_time_from_us(64_000_000) == b"\x00\x00\x00"  # wraps every 64 s
    assert rtp.abs_send_time_to_us(b"\x02\x00\x00") == 500_000
    assert rtp.transport_cc_value(0x1FFFF) == b"\xff\xff"
    assert rtp.mid_value(b"0") == "0"
    for bad in (lambda: rtp.abs_send_time_to_us(b"\0"), lambda: rtp.transport_cc_seq(b"\0")):
        with pytest.raises(ParseError):
            bad()
    with pytest.raises(ParseError):
        rtp.mid_value(b"\xff")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x60\x00",
        b"\x40" + bytes(11),  # version 1
        b"\x81" + bytes(11),  # CSRC count 1, no CSRC
        b"\x90" + bytes(11) + b"\xbe\xde",  # extension header cut
        b"\x90" + bytes(11) + b"\xbe\xde\x00\x02\x10\x00\x00\x00",  # block cut
        b"\xa0" + bytes(11) + b"\x00",  # padding count 0
        b"\xa0" + bytes(11) + b"\x05",  # padding longer than the packet body
    ],
)
def test_parse_errors(data: bytes) -> None:
    with pytest.raises(ParseError):
        RtpPacket.parse(data)


def test_serialise_errors() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(RtpPacket(csrc=list(range(16))))
    with pytest.raises(LocalProtocolError):
        bytes(RtpPacket(extension_profile=0xBEDE, extension_data=b"\x10"))
    with pytest.raises(LocalProtocolError):
        bytes(RtpPacket(padding=b"\0\0"))


def test_peek_header_and_demux() -> None:
    assert rtp.peek_header(cases.RTP_MINIMAL_HAND) == (96, 1, 2, 3)
    with pytest.raises(ParseError):
        rtp.peek_header(b"\x80\x60")
    assert not rtp.is_rtcp(cases.RTP_MINIMAL_HAND)
    assert rtp.is_rtcp(cases.PLI_HAND) and rtp.is_rtcp(cases.SR_HAND)
    assert not rtp.is_rtcp(b"\x80")


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [(1, 0, 1), (0, 1, -1), (0, 65535, 1), (65535, 0, -1), (32767, 0, 32767), (32768, 0, -32768)],
)
def test_seq_arithmetic(a: int, b: int, diff: int) -> None:
    assert rtp.seq_diff(a, b) == diff
    assert rtp.seq_lt(a, b) == (diff < 0)
    assert rtp.seq_gt(a, b) == (diff > 0)


@pytest.mark.parametrize(
    ("seqs", "unwrapped"),
    [
        ([65534, 65535, 0, 1], [65534, 65535, 65536, 65537]),
        ([0, 65535, 1], [0, -1, 1]),  # a late packet from before the start
        ([65535, 1, 0, 2], [65535, 65537, 65536, 65538]),  # reordered across the wrap
        ([10, 30000, 60000, 5000], [10, 30000, 60000, 70536]),
        ([10, 40000], [10, -25536]),  # a jump over half the space reads as backwards
    ],
)
def test_unwrapper(seqs: list[int], unwrapped: list[int]) -> None:
    u = SeqUnwrapper()
    assert [u.unwrap(s) for s in seqs] == unwrapped


def test_rtx() -> None:
    original = RtpPacket(96, 1000, 5, 0xAAAA, True, payload=b"media")
    original.set_extensions([(1, b"0")])
    wrapped = bytes(rtp.rtx_wrap(original, 97, 0xBBBB, 7))
    rtx_packet = RtpPacket.parse(wrapped)
    assert rtp.rtx_original_seq(rtx_packet.payload) == 1000
    assert rtp.rtx_unwrap(rtx_packet, 96, 0xAAAA) == original
    # aiortc wraps the same bytes
    a = ar.RtpPacket(payload_type=96, marker=1, sequence_number=1000, timestamp=5, ssrc=0xAAAA)
    a.payload = b"media"
    assert ar.wrap_rtx(a, 97, 7, 0xBBBB).serialize() == bytes(
        rtp.rtx_wrap(RtpPacket(96, 1000, 5, 0xAAAA, True, payload=b"media"), 97, 0xBBBB, 7)
    )
    with pytest.raises(ParseError):
        rtp.rtx_original_seq(b"\x01")
    with pytest.raises(ParseError):
        rtp.rtx_unwrap(RtpPacket(payload=b"\x01"), 96, 1)


def _aiortc_map() -> ar.HeaderExtensionsMap:
    m = ar.HeaderExtensionsMap()
    m.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri=rtp.URI_MID),
                RTCRtpHeaderExtensionParameters(id=3, uri=rtp.URI_ABS_SEND_TIME),
                RTCRtpHeaderExtensionParameters(id=5, uri=rtp.URI_TRANSPORT_CC),
            ]
        )
    )
    return m


@pytest.mark.parametrize("mid", ["0", "video-with-a-long-mid-name"])  # 26 bytes: two-byte form
def test_aiortc_extensions_byte_for_byte(mid: str) -> None:
    m = _aiortc_map()
    a = ar.RtpPacket(payload_type=111, marker=1, sequence_number=65535, timestamp=9, ssrc=0x1234)
    a.csrc = [7]
    a.payload = b"opus"
    a.extensions.mid = mid
    a.extensions.abs_send_time = 0x123456
    a.extensions.transport_sequence_number = 4242
    data = a.serialize(m)

    ours = RtpPacket.parse(data)
    assert bytes(ours) == data
    assert (ours.payload_type, ours.sequence_number, ours.timestamp, ours.ssrc) == (
        111,
        65535,
        9,
        0x1234,
    )
    assert ours.marker and ours.csrc == [7] and ours.payload == b"opus"
    assert rtp.mid_value(ours.get_extension(1) or b"") == mid
    assert ours.get_extension(3) == b"\x12\x34\x56"
    assert rtp.transport_cc_seq(ours.get_extension(5) or b"") == 4242

    built = RtpPacket(111, 65535, 9, 0x1234, True, [7], payload=b"opus")
    built.set_extensions([(1, mid.encode()), (3, b"\x12\x34\x56"), (5, rtp.transport_cc_value(4242))])
    assert bytes(built) == data
    back = ar.RtpPacket.parse(bytes(built), m)
    assert back.extensions.mid == mid and back.extensions.transport_sequence_number == 4242


def test_aiortc_padding_parsed() -> None:
    a = ar.RtpPacket(payload_type=96, sequence_number=3, timestamp=4, ssrc=5, payload=b"x")
    a.padding_size = 8  # aiortc fills with random bytes
    data = a.serialize()
    ours = RtpPacket.parse(data)
    assert ours.payload == b"x" and len(ours.padding) == 8 and bytes(ours) == data
