"""Answers to WHIP/WHEP offers, the way SRS negotiates (codec choice, rtcp-fb, extmaps, roles)."""

from __future__ import annotations

import pytest

from srs.protocol.rtc.negotiate import (
    TWCC_URI,
    AnswerOptions,
    PlayTrack,
    answer_setup,
    negotiate,
    tcp_candidate,
    udp_candidate,
)
from srs.protocol.rtc.sdp import SessionDescription
from srs.util.errors import ErrorCode, SdpNegotiateError
from unit.protocol.rtc.sdp_cases import AIORTC_PUBLISH, CHROME_WHEP, CHROME_WHIP, OBS_WHIP

FP = ":".join(["3C"] * 32)


def opts(**kw: object) -> AnswerOptions:
    o = AnswerOptions(
        "srsufrag",
        "p" * 32,
        FP,
        [udp_candidate("192.168.1.10", 8000), tcp_candidate("192.168.1.10", 8000, 1)],
    )
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def offer(
    video_codecs: str = "", audio: bool = True, direction: str = "sendonly", bundle: bool = True
) -> str:
    """A small offer: ``video_codecs`` is ``pt name fmtp|pt name fmtp`` ('' = no video m-line)."""
    s = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    mids = (["0"] if audio else []) + (["1"] if video_codecs else [])
    if bundle:
        s += "a=group:BUNDLE " + " ".join(mids) + "\r\n"
    common = "c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n"
    common += f"a=fingerprint:sha-256 {FP}\r\na=setup:actpass\r\n"
    if audio:
        s += "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" + common + f"a=mid:0\r\na={direction}\r\na=rtcp-mux\r\n"
        s += "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
    if video_codecs:
        cs = [c.split(" ", 2) for c in video_codecs.split("|")]
        s += "m=video 9 UDP/TLS/RTP/SAVPF " + " ".join(c[0] for c in cs) + "\r\n" + common
        s += f"a=mid:1\r\na={direction}\r\na=rtcp-mux\r\n"
        for c in cs:
            s += f"a=rtpmap:{c[0]} {c[1]}/90000\r\na=rtcp-fb:{c[0]} nack\r\n"
            if len(c) > 2:
                s += f"a=fmtp:{c[0]} {c[2]}\r\n"
    return s


def neg(text: str, publish: bool = True, **kw: object):  # type: ignore[no-untyped-def]
    return negotiate(SessionDescription.parse(text), opts(**kw), publish)


def test_chrome_whip_answer_like_srs() -> None:
    n = neg(CHROME_WHIP)
    ans = n.answer
    assert str(SessionDescription.parse(str(ans))) == str(ans)
    assert ans.ice_lite and ans.bundle == ["0", "1"] and ans.msid_semantic == ("WMS", ["live/livestream"])
    assert ans.name == "SRSPublishSession" and ans.origin.address == "0.0.0.0"
    audio, video = ans.media
    assert audio.fmts == ["111"] and audio.direction == "recvonly"
    assert audio.codecs[0].fmtp == "minptime=10;useinbandfec=1"
    assert audio.codecs[0].rtcp_fbs == ["transport-cc"]
    assert [str(e) for e in audio.extmaps] == [f"extmap:3 {TWCC_URI}"]
    assert video.fmts == ["106"]  # 42e01f, packetization-mode=1
    assert video.codecs[0].params["profile-level-id"] == "42e01f"
    assert video.codecs[0].rtcp_fbs == ["transport-cc", "nack", "nack pli"]  # no goog-remb, no ccm fir
    for m in (audio, video):
        assert m.port == 9 and m.rtcp_mux and m.rtcp_rsize and m.setup == "passive"
        assert (m.ice_ufrag, m.ice_pwd, m.fingerprint) == ("srsufrag", "p" * 32, ("sha-256", FP))
        assert [str(c) for c in m.candidates] == [
            "candidate:0 1 udp 2130706431 192.168.1.10 8000 typ host generation 0",
            "candidate:1 1 tcp 2130706431 192.168.1.10 8000 typ host tcptype passive",
        ]
        assert not m.ssrcs
    assert n.media[1].remote_ssrcs == [1234567890, 987654321]
    assert n.media[1].rtx_ssrcs == {1234567890: 987654321}
    assert (n.remote_ice_ufrag, n.remote_ice_pwd) == ("Zx9q", "1bKQ0m3YxFq4r8TnB2vLwD7s")
    assert n.remote_fingerprint is not None and n.remote_fingerprint[0] == "sha-256"
    assert n.dtls_setup == "passive"


@pytest.mark.parametrize(
    ("codec", "pt", "name"),
    [("h264", 106, "H264"), ("hevc", 49, "H265"), ("av1", 45, "AV1"), ("vp8", 96, "VP8")],
)
def test_codec_query_picks_the_video_codec(codec: str, pt: int, name: str) -> None:
    video = neg(CHROME_WHIP, codec=codec).answer.media[1]
    assert video.fmts == [str(pt)] and video.codecs[0].name == name


def test_twcc_and_nack_off() -> None:
    audio, video = neg(CHROME_WHIP, twcc=False, nack=False).answer.media
    assert not audio.extmaps and not video.codecs[0].rtcp_fbs


def test_obs_whip_session_level_credentials() -> None:
    n = neg(OBS_WHIP)
    audio, video = n.answer.media
    assert n.remote_ice_ufrag == "Kp3f" and n.remote_fingerprint == ("sha-256", n.remote_fingerprint[1])
    assert audio.codecs[0].fmtp == "minptime=10;useinbandfec=1" and audio.codecs[0].rtcp_fbs == []
    assert video.fmts == ["96"] and video.codecs[0].rtcp_fbs == ["nack", "nack pli"]
    assert not audio.extmaps  # OBS offers no transport-wide-cc


def test_aiortc_publish_prefers_42e01f() -> None:
    video = neg(AIORTC_PUBLISH).answer.media[1]
    assert video.fmts == ["101"] and video.codecs[0].rtcp_fbs == ["nack", "nack pli"]


H264_CASES = [
    # no 42e01f: the first pm=1 + level-asymmetry-allowed=1 of any profile
    (
        "102 H264 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f"
        "|103 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f"
        "|104 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        "103",
    ),
    # 42e01f present: only it matches, even after others
    (
        "102 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"
        "|106 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "106",
    ),
    # nothing matches: SRS's backup is a payload without fmtp first, else the first one
    ("102 H264 packetization-mode=0;profile-level-id=42001f|103 H264", "103"),
    ("102 H264 packetization-mode=0;profile-level-id=42001f|103 H264 packetization-mode=0", "102"),
]


@pytest.mark.parametrize(("codecs", "pt"), H264_CASES)
def test_h264_payload_choice(codecs: str, pt: str) -> None:
    assert neg(offer(codecs)).answer.media[1].fmts == [pt]


def test_whep_play_answer_has_server_tracks() -> None:
    tracks = [PlayTrack("audio", 1001, "audio-track", "c1"), PlayTrack("video", 1002, "video-track", "c1")]
    n = neg(CHROME_WHEP, publish=False, play_tracks=tracks, app="app", stream="s")
    audio, video = n.answer.media
    assert n.answer.name == "SRSPlaySession"
    assert audio.direction == video.direction == "sendonly"
    assert video.msid == ("app/s", "video-track")
    assert [(s.ssrc, s.attribute, s.value) for s in video.ssrcs] == [
        (1002, "cname", "c1"),
        (1002, "msid", "app/s video-track"),
    ]
    assert [m.local_ssrc for m in n.media] == [1001, 1002]


def test_play_without_a_video_track_rejects_the_video_mline() -> None:
    n = neg(CHROME_WHEP, publish=False, play_tracks=[PlayTrack("audio", 1, "a")])
    assert n.answer.media[1].port == 0 and n.answer.media[1].direction == "inactive"
    assert n.answer.bundle == ["0"]


def test_unusable_mlines_are_rejected_with_port_zero() -> None:
    text = offer("96 VP8") + (
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n"
    )
    n = neg(text)
    audio, video, app = n.answer.media
    assert audio.port == 9 and video.port == 0 and app.port == 0
    assert (app.kind, app.proto, app.fmts, app.mid) == (
        "application",
        "UDP/DTLS/SCTP",
        ["webrtc-datachannel"],
        "2",
    )
    assert n.answer.bundle == ["0"]
    assert [m.reason for m in n.media] == ["", "no H264 payload type", "unsupported media type=application"]


@pytest.mark.parametrize(
    ("text", "publish", "reason"),
    [
        (offer("96 VP8", audio=False), True, "no usable media"),
        (offer("96 H264", bundle=False), True, "only support BUNDLE"),
        (offer("96 H264").replace("a=rtcp-mux\r\n", ""), True, "rtcp-mux"),
        (offer("96 H264", direction="recvonly"), True, "publish API only support sendrecv/sendonly"),
        (offer("96 H264", direction="sendonly"), False, "play API only support sendrecv/recvonly"),
        (offer("96 H264", direction="inactive"), True, "no usable media"),
        ("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\na=group:BUNDLE\r\n", True, "no media descriptions"),
    ],
)
def test_errors_have_srs_code_5018(text: str, publish: bool, reason: str) -> None:
    with pytest.raises(SdpNegotiateError) as e:
        neg(text, publish)
    assert reason in e.value.message
    assert e.value.code == ErrorCode.RTC_SDP_EXCHANGE and int(e.value.code) == 5018


def test_unknown_codec_query() -> None:
    with pytest.raises(SdpNegotiateError, match="unsupported codec=mjpeg"):
        neg(offer("96 H264", audio=False), codec="mjpeg")


@pytest.mark.parametrize(
    ("offered", "role", "ours"),
    [
        ("actpass", "passive", "passive"),
        ("actpass", "active", "active"),
        (None, "passive", "passive"),
        ("active", "active", "passive"),
        ("passive", "passive", "active"),
    ],
)
def test_dtls_setup(offered: str | None, role: str, ours: str) -> None:
    assert answer_setup(offered, role) == ours


def test_dtls_role_active_in_answer() -> None:
    assert neg(CHROME_WHIP, dtls_role="active").answer.media[0].setup == "active"
