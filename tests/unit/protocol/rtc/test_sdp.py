"""SDP model: round trip of real offers, typed views, and parse errors with a reason."""

from __future__ import annotations

import pytest

from srs.protocol.rtc.sdp import Candidate, Codec, ExtMap, MediaDescription, Origin, SessionDescription
from srs.util.errors import ErrorCode, ParseError
from unit.protocol.rtc.sdp_cases import AIORTC_PUBLISH, CHROME_WHEP, CHROME_WHIP, OBS_WHIP, OFFERS


@pytest.mark.parametrize("name", sorted(OFFERS))
def test_round_trip_text_in_equals_text_out(name: str) -> None:
    text = OFFERS[name]
    sdp = SessionDescription.parse(text)
    assert str(sdp) == text
    assert bytes(sdp) == text.encode()
    assert SessionDescription.parse(text.encode()).media[0].lines == sdp.media[0].lines


def test_lf_only_input_is_accepted_and_written_with_crlf() -> None:
    sdp = SessionDescription.parse(OBS_WHIP.replace("\r\n", "\n"))
    assert str(sdp) == OBS_WHIP


def test_chrome_whip_typed_views() -> None:
    sdp = SessionDescription.parse(CHROME_WHIP)
    assert sdp.origin == Origin("-", "7417468362545487215", "2", "IN", "IP4", "127.0.0.1")
    assert sdp.bundle == ["0", "1"]
    assert sdp.extmap_allow_mixed
    assert sdp.msid_semantic == ("WMS", ["5d0b8c47-1f4e-4c5a-9d0e-3a1f6b2c7e90"])
    audio, video = sdp.media
    assert (audio.kind, audio.port, audio.proto, audio.mid) == ("audio", 9, "UDP/TLS/RTP/SAVPF", "0")
    assert audio.direction == "sendonly" and audio.rtcp_mux and audio.rtcp_rsize
    assert (audio.ice_ufrag, audio.ice_pwd, audio.ice_options) == (
        "Zx9q",
        "1bKQ0m3YxFq4r8TnB2vLwD7s",
        ["trickle"],
    )
    assert audio.fingerprint is not None and audio.fingerprint[0] == "sha-256"
    assert audio.setup == "actpass"
    assert audio.codecs[0] == Codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1", ["transport-cc"])
    assert audio.codecs[1].name == "red" and audio.codecs[1].fmtp == "111/111"
    assert (
        ExtMap(3, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01")
        in audio.extmaps
    )
    h264 = video.codecs_named("h264")
    assert [c.params["profile-level-id"] for c in h264] == [
        "42001f",
        "42001f",
        "42e01f",
        "42e01f",
        "4d001f",
        "640c1f",
    ]
    assert [c.params["packetization-mode"] for c in h264] == ["1", "0", "1", "0", "1", "1"]
    assert h264[0].rtcp_fbs == ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"]
    names = {c.name for c in video.codecs}
    assert names == {"VP8", "VP9", "H264", "AV1", "H265", "rtx", "red", "ulpfec"}
    assert video.ssrc_groups == [("FID", [1234567890, 987654321])]
    assert video.ssrcs[0].ssrc == 1234567890 and video.ssrcs[0].attribute == "cname"
    assert video.msid == ("5d0b8c47-1f4e-4c5a-9d0e-3a1f6b2c7e90", "7e6d5c4b-3a29-4817-8f6e-5d4c3b2a1908")


def test_aiortc_offer_candidates_and_end_of_candidates() -> None:
    sdp = SessionDescription.parse(AIORTC_PUBLISH)
    audio = sdp.media[0]
    assert audio.end_of_candidates
    c = audio.candidates[0]
    assert (c.component, c.transport, c.priority, c.type) == (1, "udp", 2130706431, "host")
    assert audio.fingerprint is not None and audio.fingerprint[0] == "sha-256"  # first of sha-256/384/512
    assert sdp.msid_semantic == ("WMS", ["*"])


def test_obs_offer_session_level_ice_and_groups() -> None:
    sdp = SessionDescription.parse(OBS_WHIP)
    assert sdp.groups == [("BUNDLE", ["0", "1"]), ("LS", ["0", "1"])]
    assert sdp.ice_ufrag == "Kp3f" and sdp.setup == "actpass" and sdp.ice_options == ["ice2", "trickle"]
    assert sdp.media[0].ice_ufrag is None
    assert sdp.media_attr(sdp.media[0], "ice-ufrag") == "Kp3f"


def test_recvonly_direction_and_default_sendrecv() -> None:
    assert [m.direction for m in SessionDescription.parse(CHROME_WHEP).media] == ["recvonly", "recvonly"]
    m = MediaDescription("audio", 9, "UDP/TLS/RTP/SAVPF", ["111"])
    assert m.direction == "sendrecv"
    m.add("inactive")
    assert m.direction == "inactive"


@pytest.mark.parametrize(
    "line",
    [
        "1 1 udp 2130706431 192.168.1.10 8000 typ host generation 0",
        "2 1 tcp 2130706431 192.168.1.10 8000 typ host tcptype passive",
        "3 1 udp 1686052607 203.0.113.7 50000 typ srflx raddr 192.168.1.10 rport 8000 generation 0 network-id 1",
        "f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 fd00::2 55818 typ host",
    ],
)
def test_candidate_round_trip(line: str) -> None:
    c = Candidate.parse(line)
    assert str(c) == "candidate:" + line


def test_candidate_tcptype() -> None:
    c = Candidate.parse("2 1 TCP 2130706431 10.0.0.1 8000 typ host tcptype passive")
    assert (c.transport, c.tcptype, c.port) == ("tcp", "passive", 8000)


def test_build_from_scratch() -> None:
    sdp = SessionDescription(Origin("SRS/7", "1", "2"), "s", [("t", "0 0"), ("a", "ice-lite")])
    m = MediaDescription("video", 9, "UDP/TLS/RTP/SAVPF", ["106"])
    for a in Codec(106, "H264", 90000, None, "packetization-mode=1", ["nack"]).attributes():
        m.add(a)
    sdp.media.append(m)
    text = str(sdp)
    assert text.endswith(
        "a=rtpmap:106 H264/90000\r\na=rtcp-fb:106 nack\r\na=fmtp:106 packetization-mode=1\r\n"
    )
    again = SessionDescription.parse(text)
    assert again.ice_lite and again.media[0].codecs[0].params == {"packetization-mode": "1"}
    assert "video" in repr(again) and "106" in repr(again.media[0])


_BASE = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
_M = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"

ERRORS = [
    ("", "empty"),
    ("v=1\r\n", "first line must be v=0"),
    ("hello\r\n", "not <type>=<value>"),
    ("v=0\r\ns=-\r\n", "o= and s= must follow"),
    ("v=0\r\no=- 1 2 IN IP4\r\ns=-\r\n", "bad o= line"),
    (_BASE + "\r\n", "not <type>=<value>"),
    (_BASE + "X=1\r\n", "not <type>=<value>"),
    (_BASE + "m=audio\r\n", "bad m= line"),
    (_BASE + "m=audio 70000 RTP/AVP 0\r\n", "m= port out of range"),
    (_BASE + "m=audio x RTP/AVP 0\r\n", "m= port is not a number"),
    (_BASE + _M + "t=0 0\r\n", "t= not allowed here"),
    (_BASE + _M + "a=rtpmap:111 opus\r\n", "bad rtpmap"),
    (_BASE + _M + "a=rtpmap:300 opus/48000/2\r\n", "rtpmap payload type out of range"),
    (_BASE + _M + "a=rtpmap:111 opus/x/2\r\n", "rtpmap clock rate is not a number"),
    (_BASE + _M + "a=fmtp:abc x=1\r\n", "fmtp payload type is not a number"),
    (_BASE + _M + "a=rtcp-fb:1a nack\r\n", "rtcp-fb payload type"),
    (_BASE + _M + "a=extmap:0 urn:x\r\n", "extmap id out of range"),
    (_BASE + _M + "a=extmap:1\r\n", "bad extmap"),
    (_BASE + _M + "a=ssrc:-1 cname:x\r\n", "ssrc is not a number"),
    (_BASE + _M + "a=ssrc-group:FID\r\n", "bad ssrc-group"),
    (_BASE + _M + "a=candidate:1 1 udp 1 1.2.3.4 9\r\n", "bad candidate"),
    (_BASE + _M + "a=candidate:1 1 udp 1 1.2.3.4 99999 typ host\r\n", "candidate port out of range"),
    (_BASE + _M + "a=candidate:1 1 udp 1 1.2.3.4 9 typ host raddr\r\n", "candidate extension without value"),
    (_BASE + _M + "a=fingerprint:sha-256\r\n", "bad fingerprint"),
    (_BASE + _M + "a=setup:server\r\n", "bad setup"),
    (_BASE + "a=group:\r\n", "empty a=group"),
    (_BASE + "a=msid-semantic: \r\n", "empty a=msid-semantic"),
    (_BASE + "a=x\rb\r\n", "CR or NUL inside a line"),
    (b"v=0\r\n\xff\r\n", "not UTF-8"),
]


@pytest.mark.parametrize(("data", "reason"), ERRORS)
def test_parse_errors_name_the_reason(data: str | bytes, reason: str) -> None:
    with pytest.raises(ParseError) as e:
        SessionDescription.parse(data)
    assert reason in e.value.message
    assert e.value.code == ErrorCode.RTC_SDP_DECODE


def test_unknown_lines_and_attributes_are_kept() -> None:
    text = _BASE + "b=AS:300\r\na=x-google-flag:conference\r\n" + _M + "i=audio\r\nb=TIAS:64000\r\na=foo\r\n"
    assert str(SessionDescription.parse(text)) == text
