"""RTSP/1.0 message codec, Transport header, SDP for DESCRIBE/ANNOUNCE, AAC RFC 3640 packets."""

from __future__ import annotations

import base64

import pytest

from srs.codec import aac
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtsp.message import (
    Interleaved,
    RtspError,
    RtspParser,
    interleave,
    parse_transport,
    serialize_request,
    serialize_response,
)
from srs.protocol.rtsp.sdp import audio_track, b64_sets, describe, parse_announce, video_track
from srs.remux.rtc_out import split_frames
from srs.remux.rtsp_out import RtspWire, aac_payloads
from srs.server.rtsp import request_of, split_target
from unit.codec.samples import audio_sh, clip_tags, video_sh

OPTIONS = b"OPTIONS rtsp://h/live/x RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: t\r\n\r\n"


def test_request_then_frame_then_request_in_pieces() -> None:
    body = b"v=0\r\n"
    ann = serialize_request("ANNOUNCE", "rtsp://h/live/x", 2, {"Content-Type": "application/sdp"}, body)
    data = OPTIONS + interleave(1, b"\x80\xc8rtcp") + ann
    p = RtspParser()
    out = []
    for i in range(len(data)):
        out += p.feed(data[i : i + 1])
    assert [type(x).__name__ for x in out] == ["RtspMessage", "Interleaved", "RtspMessage"]
    assert out[0].method == "OPTIONS" and out[0].cseq == 1 and out[0].headers["user-agent"] == "t"
    assert out[1] == Interleaved(1, b"\x80\xc8rtcp")
    assert out[2].method == "ANNOUNCE" and out[2].body == body and out[2].cseq == 2


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nno colon\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nX: " + b"a" * 20000,
    ],
)
def test_bad_input_is_an_rtsp_error(data: bytes) -> None:
    with pytest.raises(RtspError):
        RtspParser().feed(data)


def test_methods_with_underscores() -> None:
    (m,) = RtspParser().feed(b"GET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 9\r\nSession: ab\r\n\r\n")
    assert m.method == "GET_PARAMETER" and m.cseq == 9 and m.session == "ab"


def test_response_parse_and_serialize() -> None:
    raw = serialize_response(454, 7, {"Session": "abc;timeout=60"})
    assert raw.startswith(b"RTSP/1.0 454 Session Not Found\r\nCSeq: 7\r\n")
    (m,) = RtspParser().feed(raw)
    assert m.status == 454 and m.cseq == 7 and m.session == "abc" and not m.is_request


@pytest.mark.parametrize(
    ("value", "tcp", "inter", "port", "mode"),
    [
        ("RTP/AVP/TCP;unicast;interleaved=2-3", True, (2, 3), None, "play"),
        ("RTP/AVP;unicast;client_port=5000-5001", False, None, (5000, 5001), "play"),
        ("RTP/AVP/UDP;unicast;client_port=5000;mode=record", False, None, (5000, 5001), "record"),
        ('RTP/AVP/TCP;interleaved=0-1;mode="RECORD"', True, (0, 1), None, "record"),
    ],
)
def test_transport(value: str, tcp: bool, inter: object, port: object, mode: str) -> None:
    (t,) = parse_transport(value)
    assert (t.tcp, t.interleaved, t.client_port, t.mode) == (tcp, inter, port, mode)


def test_transport_skips_unknown_and_bad() -> None:
    assert parse_transport("RAW/RAW/UDP;x, nonsense") == []
    assert parse_transport("RTP/AVP;client_port=99999-1")[0].client_port is None


@pytest.mark.parametrize(
    ("uri", "base", "index"),
    [
        ("rtsp://h:8554/live/x", "rtsp://h:8554/live/x", None),
        ("rtsp://h/live/x/trackID=1", "rtsp://h/live/x", 1),
        ("rtsp://h/live/x/trackID=0?k=v", "rtsp://h/live/x?k=v", 0),
        ("rtsp://h/live/x/trackID=zz", "rtsp://h/live/x", -1),
    ],
)
def test_split_target(uri: str, base: str, index: int | None) -> None:
    assert split_target(uri) == (base, index)


def test_request_of_url() -> None:
    r = request_of("rtsp://127.0.0.1:8554/live/cam?token=1", "1.2.3.4")
    assert (r.vhost, r.app, r.stream, r.param) == ("127.0.0.1", "live", "cam", "?token=1")
    assert r.with_vhost("__defaultVhost__").stream_url == "/live/cam"


def test_describe_sdp_from_sequence_headers() -> None:
    tags = clip_tags("bbb.flv")
    v = video_track(video_sh(tags).body)
    a = audio_track(audio_sh(tags).body)
    assert v is not None and a is not None
    assert v.codec == "H264" and "profile-level-id=" in v.fmtp and "sprop-parameter-sets=" in v.fmtp
    sets = b64_sets(v.fmtp.split("sprop-parameter-sets=")[1])
    assert sets[0][0] & 0x1F == 7 and sets[1][0] & 0x1F == 8
    assert a.codec == "MPEG4-GENERIC" and "mode=AAC-hbr" in a.fmtp and "sizelength=13" in a.fmtp
    cfg = bytes.fromhex(a.fmtp.split("config=")[1])
    assert a.clock == aac.parse_asc(cfg).sample_rate
    from dataclasses import replace

    text = describe("rtsp://h/live/x", [replace(a, control="trackID=0"), replace(v, control="trackID=1")])
    assert "m=audio 0 RTP/AVP 97" in text and "a=control:rtsp://h/live/x/trackID=1" in text
    tracks = parse_announce(text)
    assert [(t.kind, t.codec, t.pt) for t in tracks] == [
        ("audio", "MPEG4-GENERIC", 97),
        ("video", "H264", 96),
    ]
    assert tracks[0].fmtp["config"] == cfg.hex().upper() and tracks[1].control.endswith("trackID=1")


def test_video_and_audio_tracks_refuse_garbage() -> None:
    assert video_track(b"\x17\x00\x00\x00\x00\x01") is None
    assert audio_track(b"\xaf\x00") is None
    assert video_track(None) is None and audio_track(b"") is None


def test_aac_payloads() -> None:
    ((p, m),) = aac_payloads(b"\x21" * 300)
    assert m and p[:2] == b"\x00\x10" and ((p[2] << 5) | (p[3] >> 3)) == 300 and p[4:] == b"\x21" * 300
    parts = aac_payloads(b"\x01" * 3000, limit=1400)
    assert [m for _, m in parts] == [False, False, True]
    assert b"".join(p[4:] for p, _ in parts) == b"\x01" * 3000


def test_wire_packs_h264_and_aac_with_announced_types() -> None:
    tags = clip_tags("bbb.flv")
    wire = RtspWire("h264")
    kinds: dict[int, int] = {}
    for t in tags[:200]:
        kind = VIDEO if t.tag_type == 9 else AUDIO if t.tag_type == 8 else 0
        if not kind:
            continue
        for pkt in split_frames(wire.encode(MediaMessage(kind, t.timestamp, t.body))):
            kinds[pkt[1] & 0x7F] = kinds.get(pkt[1] & 0x7F, 0) + 1
    assert set(kinds) == {96, 97} and kinds[96] > 10 and kinds[97] > 10
    assert wire.audio_rate > 0 and wire.video.last_ts is not None
    assert base64  # sprop values above are base64
